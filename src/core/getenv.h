// How the process's environment is read: a function, so that tests and the emulator give their own. The
// one type every module takes (settings, AWS credentials and region, CA discovery).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace elk {

using Getenv = std::function<std::optional<std::string>(std::string_view name)>;

}  // namespace elk
