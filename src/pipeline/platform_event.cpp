#include "pipeline/platform_event.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>

#include "pipeline/json_writer.h"
#include "pipeline/level.h"

namespace elk::pipeline {

using json_tape::JsonView;
using Type = PlatformEvent::Type;

namespace {

std::string_view str(JsonView v, std::string_view key) {
  return v.find(key).string();
}

// The members of a platform event's record that its document uses, found in one pass over the record (an
// object's keys are unique, so this finds what if_contains would); null when absent.
struct PlatformMembers {
  JsonView request_id, status, error_type, tracing, metrics, spans, version, initialization_type, phase,
      runtime_version, runtime_version_arn, instance_id, dropped_records, dropped_bytes, reason, name, state;

  explicit PlatformMembers(JsonView record) {
    for (const auto& [k, v] : record.members()) {
      switch (k.size()) {
        case 4:
          if (k == "name") name = v;
          break;
        case 5:
          if (k == "spans")
            spans = v;
          else if (k == "phase")
            phase = v;
          else if (k == "state")
            state = v;
          break;
        case 6:
          if (k == "status")
            status = v;
          else if (k == "reason")
            reason = v;
          break;
        case 7:
          if (k == "tracing")
            tracing = v;
          else if (k == "metrics")
            metrics = v;
          else if (k == "version")
            version = v;
          break;
        case 9:
          if (k == "requestId")
            request_id = v;
          else if (k == "errorType")
            error_type = v;
          break;
        case 10:
          if (k == "instanceId") instance_id = v;
          break;
        case 12:
          if (k == "droppedBytes") dropped_bytes = v;
          break;
        case 14:
          if (k == "runtimeVersion")
            runtime_version = v;
          else if (k == "droppedRecords")
            dropped_records = v;
          break;
        case 17:
          if (k == "runtimeVersionArn") runtime_version_arn = v;
          break;
        case 18:
          if (k == "initializationType") initialization_type = v;
          break;
        default:
          break;
      }
    }
  }
};

// The members of a platform event's "metrics" object, as numbers, found in one pass.
struct PlatformMetrics {
  std::optional<double> duration, billed_duration, memory_size, max_memory_used, init_duration, restore_duration,
      produced_bytes;

  explicit PlatformMetrics(JsonView metrics) {
    for (const auto& [k, v] : metrics.members()) {
      if (k == "durationMs")
        duration = v.number();
      else if (k == "billedDurationMs")
        billed_duration = v.number();
      else if (k == "memorySizeMB")
        memory_size = v.number();
      else if (k == "maxMemoryUsedMB")
        max_memory_used = v.number();
      else if (k == "initDurationMs")
        init_duration = v.number();
      else if (k == "restoreDurationMs")
        restore_duration = v.number();
      else if (k == "producedBytes")
        produced_bytes = v.number();
    }
  }
};

void read_tracing(JsonView tracing, std::string_view& trace_id, std::string_view& span_id) {
  if (!tracing) return;
  trace_id = xray_root(str(tracing, "value"));
  span_id = str(tracing, "spanId");
}

// printf's "%.2f" (std::to_chars with a precision is specified as printf), cut to 31 characters as
// snprintf into 32 bytes would.
std::string_view fixed2(double v, char (&buf)[400]) {
  if (const auto n = two_decimals(v, buf)) return {buf, n};
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, 2);
  if (r.ec != std::errc{}) {
    const int n = std::snprintf(buf, 32, "%.2f", v);
    return {buf, static_cast<std::size_t>(std::clamp(n, 0, 31))};
  }
  return {buf, std::min<std::size_t>(static_cast<std::size_t>(r.ptr - buf), 31)};
}
// A count given as a JSON number, as a 64-bit integer: NaN is 0, past the range the nearest bound (a
// malformed record must not make the conversion undefined, or differ between x86_64 and arm64).
std::int64_t count_of(double v) {
  if (!(v == v)) return 0;
  if (v >= 9.2e18) return INT64_MAX;
  if (v <= -9.2e18) return INT64_MIN;
  return static_cast<std::int64_t>(v);
}
std::string whole(double v) {
  return std::to_string(count_of(v));
}

std::optional<Type> type_of_record(std::string_view t) {
  if (!t.starts_with("platform.")) return std::nullopt;
  t.remove_prefix(9);
  if (t == "start") return Type::start;
  if (t == "runtimeDone") return Type::runtime_done;
  if (t == "report") return Type::report;
  if (t == "end") return Type::end;
  if (t == "initStart") return Type::init_start;
  if (t == "initRuntimeDone") return Type::init_runtime_done;
  if (t == "initReport") return Type::init_report;
  if (t == "restoreStart") return Type::restore_start;
  if (t == "restoreRuntimeDone") return Type::restore_runtime_done;
  if (t == "restoreReport") return Type::restore_report;
  return std::nullopt;
}

// The event's own measure: what event.duration holds.
std::optional<double> own_duration(const PlatformEvent& e) {
  switch (e.type) {
    case Type::report:
      return e.duration_ms;
    case Type::runtime_done:
    case Type::init_runtime_done:
    case Type::restore_runtime_done:
      return e.runtime_duration_ms;
    case Type::init_report:
      return e.init_duration_ms;
    case Type::restore_report:
      return e.restore_duration_ms;
    default:
      return std::nullopt;
  }
}

bool is_init(Type t) {
  return t == Type::init_start || t == Type::init_runtime_done || t == Type::init_report;
}

}  // namespace

std::string_view xray_root(std::string_view header) {
  const auto p = header.find("Root=");
  if (p == std::string_view::npos) return {};
  auto v = header.substr(p + 5);
  return v.substr(0, v.find(';'));
}

std::string_view strip_newlines(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string_view action_of(Type type) {
  switch (type) {
    case Type::start:
      return "platform.start";
    case Type::runtime_done:
      return "platform.runtimeDone";
    case Type::end:
      return "platform.end";
    case Type::report:
      return "platform.report";
    case Type::init_start:
      return "platform.initStart";
    case Type::init_runtime_done:
      return "platform.initRuntimeDone";
    case Type::init_report:
      return "platform.initReport";
    case Type::restore_start:
      return "platform.restoreStart";
    case Type::restore_runtime_done:
      return "platform.restoreRuntimeDone";
    case Type::restore_report:
      return "platform.restoreReport";
    case Type::xray:
      return "platform.xray";
  }
  return "platform";
}

std::optional<PlatformEvent> platform_event_of_record(std::string_view type, JsonView record) {
  const auto t = type_of_record(type);
  if (!t) return std::nullopt;
  const PlatformMembers rec(record);
  const PlatformMetrics metrics(rec.metrics);
  PlatformEvent e{};
  e.type = *t;
  e.request_id = rec.request_id.string();
  e.version = rec.version.string();
  e.status = rec.status.string();
  e.error_type = rec.error_type.string();
  e.initialization_type = rec.initialization_type.string();
  e.phase = rec.phase.string();
  e.runtime_version = rec.runtime_version.string();
  e.runtime_version_arn = rec.runtime_version_arn.string();
  e.instance_id = rec.instance_id.string();
  read_tracing(rec.tracing, e.trace_id, e.span_id);
  e.spans = rec.spans;
  e.billed_duration_ms = metrics.billed_duration;
  e.memory_size_mb = metrics.memory_size;
  e.max_memory_used_mb = metrics.max_memory_used;
  e.produced_bytes = metrics.produced_bytes;
  // metrics.durationMs is each event's own measure.
  switch (*t) {
    case Type::report:
      e.duration_ms = metrics.duration;
      e.init_duration_ms = metrics.init_duration;
      e.restore_duration_ms = metrics.restore_duration;
      break;
    case Type::runtime_done:
    case Type::init_runtime_done:
    case Type::restore_runtime_done:
      e.runtime_duration_ms = metrics.duration;
      break;
    case Type::init_report:
      e.init_duration_ms = metrics.duration;
      break;
    case Type::restore_report:
      e.restore_duration_ms = metrics.duration;
      break;
    default:
      break;
  }
  return e;
}

void render_platform_event(const PlatformEvent& e, DocumentFields& f) {
  f.action = action_of(e.type);
  f.level = level::info;
  f.request_id = e.request_id;
  if (!e.trace_id.empty()) f.trace_id = e.trace_id;
  if (!e.span_id.empty()) f.span_id = e.span_id;
  if (const auto d = own_duration(e)) f.duration_ns = nanoseconds_of(*d);
  auto number = [&](std::string_view key, const std::optional<double>& v) {
    if (v) f.lambda.number(key, *v);
  };
  auto text = [&](std::string_view key, std::string_view v) {
    if (!v.empty()) f.lambda.text(key, v);
  };
  // A status other than success is an error: its type is Lambda's errorType, else the status ("timeout"
  // named as Lambda names its own timeout error).
  auto outcome = [&](bool success_unless_told) {
    if (!e.status.empty())
      f.lambda.text("status", e.status);
    else if (success_unless_told)
      f.lambda.text("status", "success");
    if (e.status.empty() || e.status == "success") return;
    f.level = level::error;
    f.error_type = !e.error_type.empty()   ? e.error_type
                   : e.status == "timeout" ? std::string_view("Sandbox.Timeout")
                                           : e.status;
  };
  auto spans = [&] {
    if (e.spans) f.lambda.json("spans", e.spans);
  };
  const bool init = is_init(e.type);
  switch (e.type) {
    case Type::start:
      text("version", e.version);
      break;
    case Type::end:
    case Type::xray:
      break;
    case Type::runtime_done:
      outcome(false);
      number("runtime_duration_ms", e.runtime_duration_ms);
      number("produced_bytes", e.produced_bytes);
      spans();
      break;
    case Type::report:
      f.metric = true;
      outcome(true);
      number("duration_ms", e.duration_ms);
      number("billed_duration_ms", e.billed_duration_ms);
      number("memory_size_mb", e.memory_size_mb);
      number("max_memory_used_mb", e.max_memory_used_mb);
      number("init_duration_ms", e.init_duration_ms);
      number("restore_duration_ms", e.restore_duration_ms);
      number("billed_restore_duration_ms", e.billed_restore_duration_ms);
      spans();
      break;
    case Type::init_start:
    case Type::restore_start:
      text("initialization_type", e.initialization_type);
      text("phase", e.phase);
      text("runtime_version", e.runtime_version);
      text("runtime_version_arn", e.runtime_version_arn);
      text("instance_id", e.instance_id);
      break;
    case Type::init_runtime_done:
    case Type::restore_runtime_done:
      outcome(false);
      text("initialization_type", e.initialization_type);
      text("phase", e.phase);
      number(init ? "init_runtime_duration_ms" : "restore_runtime_duration_ms", e.runtime_duration_ms);
      spans();
      break;
    case Type::init_report:
    case Type::restore_report:
      outcome(false);
      text("initialization_type", e.initialization_type);
      text("phase", e.phase);
      number(init ? "init_duration_ms" : "restore_duration_ms", init ? e.init_duration_ms : e.restore_duration_ms);
      spans();
      break;
  }
}

void append_platform_text(const PlatformEvent& e, std::string& m) {
  char number[400];  // fixed2's
  auto with_status = [&] {
    if (!e.status.empty() && e.status != "success") m += "\tStatus: ", m += e.status;
    if (!e.error_type.empty()) m += "\tError Type: ", m += e.error_type;
  };
  auto phase = [&] {
    if (!e.phase.empty()) m += "\tPhase: ", m += e.phase;
  };
  const bool init = is_init(e.type);
  switch (e.type) {
    case Type::start:
      m += "START RequestId: ", m += e.request_id, m += " Version: ", m += e.version;
      break;
    case Type::end:
      m += "END RequestId: ", m += e.request_id;
      break;
    case Type::runtime_done:
      m += "END RequestId: ", m += e.request_id;
      with_status();
      break;
    case Type::report:
      m += "REPORT RequestId: ", m += e.request_id;
      if (const auto& v = e.duration_ms) m += "\tDuration: ", m += fixed2(*v, number), m += " ms";
      if (const auto& v = e.billed_duration_ms) m += "\tBilled Duration: ", m += whole(*v), m += " ms";
      if (const auto& v = e.memory_size_mb) m += "\tMemory Size: ", m += whole(*v), m += " MB";
      if (const auto& v = e.max_memory_used_mb) m += "\tMax Memory Used: ", m += whole(*v), m += " MB";
      if (const auto& v = e.init_duration_ms) m += "\tInit Duration: ", m += fixed2(*v, number), m += " ms";
      if (const auto& v = e.restore_duration_ms) m += "\tRestore Duration: ", m += fixed2(*v, number), m += " ms";
      if (const auto& v = e.billed_restore_duration_ms) m += "\tBilled Restore Duration: ", m += whole(*v), m += " ms";
      with_status();
      break;
    case Type::init_start:
    case Type::restore_start:
      m += init ? "INIT_START" : "RESTORE_START";
      m += " Runtime Version: ", m += e.runtime_version;
      m += "\tRuntime Version ARN: ", m += e.runtime_version_arn;
      phase();
      break;
    case Type::init_runtime_done:
    case Type::restore_runtime_done:
      m += init ? "INIT_RUNTIME_DONE" : "RESTORE_RUNTIME_DONE";
      phase();
      with_status();
      break;
    case Type::init_report:
    case Type::restore_report: {
      m += init ? "INIT_REPORT" : "RESTORE_REPORT";
      if (const auto& v = init ? e.init_duration_ms : e.restore_duration_ms)
        m += init ? " Init" : " Restore", m += " Duration: ", m += fixed2(*v, number), m += " ms";
      phase();
      with_status();
      break;
    }
    case Type::xray:
      m += "XRAY TraceId: ", m += e.trace_id, m += "\tSegmentId: ", m += e.span_id;
      break;
  }
}

void render_other_platform_record(std::string_view type, JsonView r, DocumentFields& f, std::string& m) {
  const PlatformMembers rec(r);
  m.clear();
  f.action = type;
  f.level = level::info;
  f.request_id = rec.request_id.string();
  read_tracing(rec.tracing, f.trace_id, f.span_id);
  if (const auto d = PlatformMetrics(rec.metrics).duration) f.duration_ns = nanoseconds_of(*d);
  if (type == "platform.logsDropped") {
    f.level = level::warn;
    const auto records = rec.dropped_records.number().value_or(0);
    const auto bytes = rec.dropped_bytes.number().value_or(0);
    f.lambda.integer("dropped_records", count_of(records));
    f.lambda.integer("dropped_bytes", count_of(bytes));
    m += "Lambda dropped ", m += whole(records), m += " log records (", m += whole(bytes);
    m += " bytes) before they reached the extension: ", m += rec.reason.string();
  } else if (type == "platform.fault") {
    f.level = level::error;
    if (r.is_string()) {
      f.message = strip_newlines(r.string());
      return;
    }
    JsonWriter(m).value(r);
  } else {
    // platform.extension, platform.telemetrySubscription, platform.logsSubscription and any type
    // we do not know yet: the record is kept whole.
    if (!r.is_null()) f.lambda.json("record", r);
    if (r.is_string()) {
      f.message = strip_newlines(r.string());
      return;
    }
    m += type;
    if (auto n = rec.name.string(); !n.empty()) m += " Name: ", m += n;
    if (auto st = rec.state.string(); !st.empty()) m += " State: ", m += st;
  }
  f.message = m;
}

}  // namespace elk::pipeline
