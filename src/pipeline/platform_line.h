// Parsing of the platform's text lines as CloudWatch shows them (PROTOCOLS.md §4): START, END, REPORT,
// INIT_START, INIT_REPORT and XRAY, "Key: value" fields separated by tabs (or spaces). They arrive in the
// CloudWatch pull mode and in some Logs API batches. Views point into the line.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace elk::pipeline {

struct PlatformLine {
  enum class Kind { start, end, report, init_start, init_report, xray };
  Kind kind;
  std::string_view request_id, version, status /* e.g. "timeout", "" */, runtime_version, runtime_version_arn, trace_id,
      segment_id;
  std::optional<bool> sampled;
  std::optional<double> duration_ms, billed_duration_ms, init_duration_ms, restore_duration_ms,
      billed_restore_duration_ms;
  std::optional<std::int64_t> memory_size_mb, max_memory_used_mb;
  std::string_view phase;       // INIT_REPORT "Phase: init|invoke"
  std::string_view error_type;  // "Error Type: Runtime.ExitError" (INIT_REPORT/REPORT with a failed status)
};

// nullopt when the line is not one of those (a function's "REPORT card ready" is not). Fields may come in
// any order; unknown "Key: value" fields are skipped; a value that is not a number where one is due
// (or is negative) leaves that field empty. START/END/REPORT need a request id, INIT_START a runtime
// version, INIT_REPORT an init duration, XRAY a trace id.
[[nodiscard]] std::optional<PlatformLine> parse_platform_line(std::string_view line);

}  // namespace elk::pipeline
