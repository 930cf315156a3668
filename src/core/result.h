// Errors are values at module seams: Result<T> carries either a T or an Error that says what failed,
// with what, and what happens next.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace elk {

struct Error {
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

[[nodiscard]] inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected(Error{std::move(message)});
}

}  // namespace elk
