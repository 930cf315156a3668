// Credentials and region as every AWS tool reads them inside Lambda: the execution role's session
// credentials arrive in the environment.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "aws/sigv4.h"
#include "core/getenv.h"
#include "core/result.h"

namespace elk::aws {

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional). The error names what is
// missing, never a value.
[[nodiscard]] Result<Credentials> credentials_from_environment(const Getenv& getenv);

// AWS_REGION, else AWS_DEFAULT_REGION.
[[nodiscard]] Result<std::string> region_from_environment(const Getenv& getenv);

}  // namespace elk::aws
