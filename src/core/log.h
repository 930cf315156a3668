// The extension's own diagnostics. Its stderr is captured and billed by Lambda, so lines are few:
// never one per batch, and repeated problems go through a RateLimit.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <utility>

#include "core/time.h"

namespace elk {

class Logger {
 public:
  enum class Level { info, warn, error };

  explicit Logger(std::FILE* out = stderr, Level min = Level::info) : out_(out), min_(min) {}

  void info(std::string_view msg) const { write(Level::info, msg); }
  void warn(std::string_view msg) const { write(Level::warn, msg); }
  void error(std::string_view msg) const { write(Level::error, msg); }

 private:
  void write(Level level, std::string_view msg) const;
  std::FILE* out_;
  Level min_;
};

// Lets one report through per interval and counts the ones it held back.
class RateLimit {
 public:
  explicit RateLimit(std::chrono::milliseconds every) : every_(every) {}

  [[nodiscard]] bool allow(SteadyTime now) {
    if (reported_ && now - last_ < every_) {
      ++suppressed_;
      return false;
    }
    reported_ = true;
    last_ = now;
    return true;
  }
  // The number held back since the last report that was let through, then reset.
  std::uint64_t take_suppressed() { return std::exchange(suppressed_, 0); }

 private:
  std::chrono::milliseconds every_;
  SteadyTime last_{};
  bool reported_ = false;
  std::uint64_t suppressed_ = 0;
};

}  // namespace elk
