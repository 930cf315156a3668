#include "aws/credentials.h"

namespace elk::aws {

Result<Credentials> credentials_from_environment(const Getenv& getenv) {
  Credentials c;
  c.access_key_id = getenv("AWS_ACCESS_KEY_ID").value_or("");
  c.secret_access_key = getenv("AWS_SECRET_ACCESS_KEY").value_or("");
  c.session_token = getenv("AWS_SESSION_TOKEN").value_or("");
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return fail(std::string("no AWS credentials: ") +
                (c.access_key_id.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
                " is not set (Lambda sets it from the function's execution role)");
  return c;
}

Result<std::string> region_from_environment(const Getenv& getenv) {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"})
    if (auto v = getenv(name); v && !v->empty()) return *v;
  return fail("no AWS region: neither AWS_REGION nor AWS_DEFAULT_REGION is set");
}

}  // namespace elk::aws
