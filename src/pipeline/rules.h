// Processing rules on a log line's message: keep or drop (include / exclude), redact, truncate.
// They apply to function and extension records only; platform events are never filtered.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config/settings.h"
#include "core/pattern.h"
#include "core/result.h"

namespace elk::pipeline {

struct Rules {
  std::optional<Pattern> include;  // when set, only messages matching it are kept
  std::optional<Pattern> exclude;  // messages matching it are dropped
  std::optional<Pattern> redact;   // matches become [REDACTED]
  bool redact_aws_access_keys = false;
  bool redact_bearer_tokens = false;
  std::size_t max_message_bytes = 262144;

  [[nodiscard]] bool keep(std::string_view message) const;
  // Applies the redactions; returns whether anything was replaced.
  bool apply_redactions(std::string& message) const;
  [[nodiscard]] bool any_redaction() const { return redact || redact_aws_access_keys || redact_bearer_tokens; }
};

inline constexpr std::string_view redacted_marker = "[REDACTED]";
inline constexpr std::string_view truncated_marker = "…[truncated]";

// Builds the rules from validated settings (the regular expressions were checked by config::load).
[[nodiscard]] Rules rules_from(const config::Config& config);

// Cuts `message` to at most `max_bytes` bytes (at a UTF-8 boundary) and appends the marker; returns
// the original size when it cut, else nullopt.
std::optional<std::size_t> truncate_message(std::string& message, std::size_t max_bytes);

}  // namespace elk::pipeline
