// The one model of a Lambda platform event, whichever form it came in: a Telemetry API record
// (platform.start, platform.report, ...; PROTOCOLS.md §3) or the text line Lambda writes for it in the
// function's log stream (START, REPORT, ...; §4, read by pipeline/platform_line.h), and the one renderer of
// its document fields, so that both forms give the same fields.
//
// Each measure has a field of its own, the same in both forms (README, "Document schema"):
//   aws.lambda.duration_ms                 the invocation (REPORT / platform.report) and nothing else
//   aws.lambda.runtime_duration_ms         the runtime's own part of an invocation (platform.runtimeDone)
//   aws.lambda.init_runtime_duration_ms    ... of the init phase (platform.initRuntimeDone)
//   aws.lambda.restore_runtime_duration_ms ... of a SnapStart restore (platform.restoreRuntimeDone)
//   aws.lambda.init_duration_ms            the init phase (INIT_REPORT / platform.initReport, and a cold
//                                          start's REPORT)
//   aws.lambda.restore_duration_ms         a restore (RESTORE_REPORT / platform.restoreReport, and REPORT)
// event.duration (ns) is the event's own measure, whichever it is.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "json/tape.h"
#include "pipeline/document_fields.h"

namespace elk::pipeline {

struct PlatformEvent {
  enum class Type {
    start,
    runtime_done,
    end,
    report,
    init_start,
    init_runtime_done,
    init_report,
    restore_start,
    restore_runtime_done,
    restore_report,
    xray,
  };
  Type type;
  std::string_view request_id, version, status /* e.g. "timeout", "" */, error_type, initialization_type, phase,
      runtime_version, runtime_version_arn, instance_id, trace_id, span_id;
  std::optional<double> duration_ms /* the invocation's (report) */, runtime_duration_ms /* ...RuntimeDone */,
      billed_duration_ms, memory_size_mb, max_memory_used_mb, init_duration_ms, restore_duration_ms,
      billed_restore_duration_ms, produced_bytes;
  json_tape::JsonView spans;  // the record's, when it came as one
};

// The event.action of each type ("platform.report"); the text form is given the record form's name.
[[nodiscard]] std::string_view action_of(PlatformEvent::Type type);

// The platform event of a Telemetry API record of type `type`, for the types that have a text form (and
// platform.runtimeDone, platform.initRuntimeDone, platform.restoreRuntimeDone); nullopt for the others
// (platform.logsDropped, platform.fault, platform.extension, ...).
[[nodiscard]] std::optional<PlatformEvent> platform_event_of_record(std::string_view type, json_tape::JsonView record);

// Level, event.kind/action/duration, error.type, trace, span and aws.lambda.* of the event's document (not
// its message).
void render_platform_event(const PlatformEvent& event, DocumentFields& fields);

// The text Lambda writes for the event ("REPORT RequestId: ...\tDuration: 1.00 ms..."), appended to `out`:
// the message of an event that came as a record.
void append_platform_text(const PlatformEvent& event, std::string& out);

// Fills the fields of a platform record that is not a PlatformEvent (platform.logsDropped, platform.fault,
// platform.extension, platform.telemetrySubscription, and any type not known yet: the record kept whole);
// its message is written in `message`, or views the record.
void render_other_platform_record(std::string_view type, json_tape::JsonView record, DocumentFields& fields,
                                  std::string& message);

// X-Ray "Root=1-...;Parent=...;Sampled=1" -> "1-..."
[[nodiscard]] std::string_view xray_root(std::string_view header);

// Text without its trailing CR/LF.
[[nodiscard]] std::string_view strip_newlines(std::string_view s);

}  // namespace elk::pipeline
