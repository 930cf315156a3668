// Parsing of one function log record in the text log format (PROTOCOLS.md §4): the prefix each managed
// runtime writes (Node.js, Python, Java, .NET, Ruby, Go) is recognised and split into time, request id and
// level; anything else is a plain line. Hand-written scanning, no allocation: every view points into the
// record, except `level`, `format` and the error type "Sandbox.Timeout", which are string literals.
#pragma once

#include <optional>
#include <string_view>

#include "core/types.h"

namespace elk {
class LambdaTimeReader;
}

namespace elk::pipeline {

struct ParsedLine {
  std::optional<EpochMs> timestamp;  // the line's own time, when its format carries one (zone-less forms: UTC)
  std::string_view request_id;       // "" when none (Node's "undefined" before the first invoke counts as none)
  std::string_view level;            // "trace", "debug", "info", "warn", "error", "fatal"; "" when unknown
  std::string_view message;          // without the runtime's prefix and trailing \r/\n; multi-line kept whole
  std::string_view format;           // "nodejs", "python", "java", "dotnet", "ruby", "go", "plain"
  std::string_view error_type;       // Node "Invoke Error" errorType, Python uncaught "[ERROR] Type: ...",
                                     // "Sandbox.Timeout" for "Task timed out after N seconds"; else ""
};

// Never fails: a record that matches no runtime's format is {format "plain", message = record without
// its trailing \r/\n}. A record may hold embedded newlines (one logger call = one record).
// `times`, when given, reads a leading time in Lambda's own form ("2024-05-02T11:00:00.102Z", as Node.js and
// Python write it) with the minute it keeps from the last time it read (core/time_text.h); the result is
// the same either way.
[[nodiscard]] ParsedLine parse_log_line(std::string_view record, LambdaTimeReader* times = nullptr);

// A Lambda request id: 32 letters/digits, optionally split by up to 4 single dashes (a UUID, or 32 hex
// digits as some Logs API records carry); up to 4 non-hex letters, for the docs' "xmpl" ids.
[[nodiscard]] bool looks_like_request_id(std::string_view token);

}  // namespace elk::pipeline
