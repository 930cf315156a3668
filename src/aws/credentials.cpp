#include "aws/credentials.h"

#include <algorithm>

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
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    auto v = getenv(name);
    if (!v || v->empty()) continue;
    // A region is lower-case words, digits and hyphens (eu-west-1, us-gov-west-1, cn-north-1); it goes into
    // host names and the signature's scope.
    const bool word = std::all_of(v->begin(), v->end(),
                                  [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
    if (!word || v->front() == '-' || v->back() == '-' || v->size() > 32)
      return fail(std::string(name) + "='" + *v + "' is not an AWS region name (such as eu-west-1)");
    return *v;
  }
  return fail("no AWS region: neither AWS_REGION nor AWS_DEFAULT_REGION is set");
}

}  // namespace elk::aws
