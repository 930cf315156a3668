// Log levels: the six names a document carries in log.level (ECS, lower case) and the words runtimes and
// logging libraries write for them — the one vocabulary of the project. The text-line parser (log_line.cpp)
// recognises the exact tokens each runtime prints (case matters there: Node.js, Python and Java write
// "INFO", .NET's console "info"); a JSON record's level, in any spelling, is normalised.
#pragma once

#include <string>
#include <string_view>

namespace elk::pipeline::level {

inline constexpr std::string_view trace = "trace";
inline constexpr std::string_view debug = "debug";
inline constexpr std::string_view info = "info";
inline constexpr std::string_view warn = "warn";
inline constexpr std::string_view error = "error";
inline constexpr std::string_view fatal = "fatal";

// The levels as Node.js, Python and Java (LambdaLogger, log4j2) write them: upper case. {} for any other token.
[[nodiscard]] inline std::string_view from_upper(std::string_view t) {
  switch (t.size()) {
    case 4:
      if (t == "INFO") return info;
      if (t == "WARN") return warn;
      break;
    case 5:
      if (t == "TRACE") return trace;
      if (t == "DEBUG") return debug;
      if (t == "ERROR") return error;
      if (t == "FATAL") return fatal;
      break;
    case 7:
      if (t == "WARNING") return warn;
      break;
    case 8:
      if (t == "CRITICAL") return fatal;
      break;
    default:
      break;
  }
  return {};
}

// The .NET console labels (ILogger's): trce dbug info warn fail crit. {} for any other token.
[[nodiscard]] inline std::string_view from_dotnet(std::string_view t) {
  if (t.size() != 4) return {};
  if (t == "info") return info;
  if (t == "warn") return warn;
  if (t == "fail") return error;
  if (t == "dbug") return debug;
  if (t == "trce") return trace;
  if (t == "crit") return fatal;
  return {};
}

// Any spelling ("Information", "WARNING", "Error", "crit", ...) -> one of the six names; a level that is none of
// them comes back lower-cased, in `buffer`.
[[nodiscard]] inline std::string_view normalise(std::string_view text, std::string& buffer) {
  buffer.clear();
  for (const char c : text) buffer += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  const std::string_view l = buffer;
  if (l == trace || l == debug || l == info || l == warn || l == error || l == fatal) return l;
  if (const auto dotnet = from_dotnet(l); !dotnet.empty()) return dotnet;
  if (l == "information" || l == "informational") return info;
  if (l == "warning") return warn;
  if (l == "err") return error;
  if (l == "critical") return fatal;
  return l;
}

}  // namespace elk::pipeline::level
