#include "core/log.h"

#include <string>

namespace elk {

void Logger::write(Level level, std::string_view msg) const {
  if (level < min_ || out_ == nullptr) return;
  static constexpr const char* names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  // One fwrite per line, so that lines from concurrent writers do not interleave.
  std::string line = "[elk-extension] ";
  line += names[static_cast<int>(level)];
  line += ' ';
  line += msg;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace elk
