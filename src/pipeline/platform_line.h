// Parsing of the platform's text lines as CloudWatch shows them (PROTOCOLS.md §4): START, END, REPORT,
// INIT_START, INIT_REPORT and XRAY, "Key: value" fields separated by tabs (or spaces). They arrive in the
// CloudWatch pull mode and in some Logs API batches. They read into the one platform-event model
// (pipeline/platform_event.h) that a Telemetry API record reads into; views point into the line.
#pragma once

#include <optional>
#include <string_view>

#include "pipeline/platform_event.h"

namespace elk::pipeline {

// nullopt when the line is not one of those (a function's "REPORT card ready" is not). Fields may come in
// any order; unknown "Key: value" fields are skipped (and XRAY's "Sampled"); a value that is not a number
// where one is due (or is negative) leaves that field empty. START/END/REPORT need a request id, INIT_START
// a runtime version, INIT_REPORT an init duration, XRAY a trace id. REPORT's Duration is duration_ms (the
// invocation's), INIT_REPORT's Init Duration init_duration_ms; "Error Type" is error_type.
[[nodiscard]] std::optional<PlatformEvent> parse_platform_line(std::string_view line);

}  // namespace elk::pipeline
