#include "pipeline/enrich.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/time.h"
#include "pipeline/log_line.h"
#include "pipeline/platform_line.h"
#include "telemetry/time_text.h"

namespace elk::pipeline {

using telemetry::JsonView;

namespace {

// One aws.lambda.* field: a number, a string or a JSON value of the record (spans, the record itself).
// No default member initializers: a document's fields are left unset until used.
struct LambdaField {
  enum class Kind { number, integer, text, json };
  std::string_view key;
  Kind kind;
  double number;
  std::int64_t integer;
  std::string_view text;
  JsonView json;
};

// The aws.lambda.* fields of one document, in order; a platform event has at most 8 of them.
class LambdaFields {
 public:
  void number(std::string_view k, double v) { add({k, LambdaField::Kind::number, v, 0, {}, {}}); }
  void integer(std::string_view k, std::int64_t v) { add({k, LambdaField::Kind::integer, 0, v, {}, {}}); }
  void text(std::string_view k, std::string_view v) { add({k, LambdaField::Kind::text, 0, 0, v, {}}); }
  void json(std::string_view k, JsonView v) { add({k, LambdaField::Kind::json, 0, 0, {}, v}); }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] const LambdaField* begin() const { return &slots_[0].field; }
  [[nodiscard]] const LambdaField* end() const { return &slots_[0].field + size_; }

 private:
  void add(const LambdaField& f) {
    if (size_ < kMax) slots_[size_++].field = f;
  }
  // Slots left uninitialised until used: most records have no aws.lambda fields, and clearing 12 of them
  // (with their views) for every record costs more than writing a document's fields.
  static constexpr std::size_t kMax = 12;
  union Slot {
    Slot() {}
    LambdaField field;
  };
  static_assert(std::is_trivially_copyable_v<LambdaField> && std::is_trivially_destructible_v<LambdaField>);
  Slot slots_[kMax];
  std::size_t size_ = 0;
};

}  // namespace

// What a record says, gathered before the document is written. The texts are views: into the event's
// record, into literals, into the Enricher's state or into its working buffers.
struct Enricher::Fields {
  EpochMs timestamp;
  std::string_view action;  // event.action
  std::string_view message;
  std::string_view level;
  bool metric = false;  // event.kind metric (reports) rather than event
  std::string_view request_id;
  std::string_view error_type, error_message, error_stack;
  std::optional<std::int64_t> duration_ns;
  std::optional<std::size_t> original_size;
  std::string_view trace_id, span_id;
  LambdaFields lambda;  // aws.lambda.*, in order
  JsonView extra;       // a JSON log record (its other keys)
};

namespace {

// event.duration (ns) of a duration in ms; none when it is not a number a 64-bit count can hold (a
// malformed record must not make the conversion undefined).
std::optional<std::int64_t> nanoseconds_of(double ms) {
  const double ns = ms * 1e6;
  if (!(ns > -9.2e18 && ns < 9.2e18)) return std::nullopt;
  return static_cast<std::int64_t>(ns);
}

constexpr std::string_view ecs_member = R"("ecs":{"version":"8.11.0"})";
static_assert(ecs_member.find(ecs_version) != std::string_view::npos, "ecs_member must carry ecs_version");

std::string_view str(JsonView v, std::string_view key) {
  return v.find(key).string();
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
std::string whole(double v) { return std::to_string(count_of(v)); }

// "Information", "WARNING", "Error", "crit" ... -> info, warn, error, fatal ...; `buffer` holds the
// lower-cased text of a level that is none of those.
std::string_view normalise_level(std::string_view level, std::string& buffer) {
  buffer.clear();
  for (char c : level) buffer += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  const std::string_view l = buffer;
  if (l == "information" || l == "informational") return "info";
  if (l == "warning") return "warn";
  if (l == "err" || l == "fail") return "error";
  if (l == "critical" || l == "crit") return "fatal";
  if (l == "trce") return "trace";
  if (l == "dbug") return "debug";
  return l;
}

// X-Ray "Root=1-...;Parent=...;Sampled=1" -> "1-..."
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

// Keys of a JSON log record that become ECS fields rather than extra fields.
enum class Mapped {
  none,
  message,
  level,
  timestamp,
  request_id,
  aws_request_id,
  error_type,
  error_message,
  stack_trace,
  trace_id
};

Mapped mapped_key(std::string_view k) {
  switch (k.size()) {
    case 7:
      if (k == "message") return Mapped::message;
      if (k == "traceId") return Mapped::trace_id;
      break;
    case 5:
      if (k == "level") return Mapped::level;
      break;
    case 9:
      if (k == "timestamp") return Mapped::timestamp;
      if (k == "requestId") return Mapped::request_id;
      if (k == "errorType") return Mapped::error_type;
      break;
    case 12:
      if (k == "AWSRequestId") return Mapped::aws_request_id;
      if (k == "errorMessage") return Mapped::error_message;
      break;
    case 10:
      if (k == "stackTrace") return Mapped::stack_trace;
      break;
    default:
      break;
  }
  return Mapped::none;
}

// A stack trace as text: a string as it is, an array's elements one a line (non-strings as JSON), else "".
std::string_view join_lines(JsonView v, std::string& buffer) {
  if (v.is_string()) return v.string();
  buffer.clear();
  for (const auto e : v.elements()) {
    if (!buffer.empty()) buffer += '\n';
    if (e.is_string())
      buffer += e.string();
    else
      append_serialized(buffer, e);
  }
  return buffer;
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

}  // namespace

void Enricher::on_invoke(std::string_view arn) {
  // arn:aws:lambda:<region>:<account>:function:<name>[:<version or alias>]
  std::vector<std::string_view> parts;
  for (std::size_t pos = 0;;) {
    const auto colon = arn.find(':', pos);
    parts.push_back(arn.substr(pos, colon == std::string_view::npos ? std::string_view::npos : colon - pos));
    if (colon == std::string_view::npos) break;
    pos = colon + 1;
  }
  if (parts.size() < 7 || parts[0] != "arn" || parts[2] != "lambda") return;
  if (context_.account_id.empty()) context_.account_id = std::string(parts[4]);
  std::string id;
  for (std::size_t i = 0; i < 7; ++i) id += (i ? ":" : "") + std::string(parts[i]);
  if (id != function_id_) {
    function_id_ = std::move(id);
    render_constant_fields();
  }
}

void Enricher::render_invocation_fields(std::string_view request_id, bool coldstart) {
  std::string& out = invocation_fields_;
  out.assign(R"(,"faas":{)");
  out += faas_constant_;
  if (!request_id.empty()) {
    out += R"(,"execution":)";
    append_json_string(out, request_id);
    out += coldstart ? R"(,"coldstart":true)" : R"(,"coldstart":false)";
  }
  out += "},";
  out += cloud_constant_;
  invocation_fields_request_.assign(request_id);
  invocation_fields_coldstart_ = coldstart;
}

void Enricher::render_constant_fields() {
  faas_constant_.clear();
  JsonWriter f(faas_constant_);
  f.field("name", context_.function_name);
  if (!context_.function_version.empty()) f.field("version", context_.function_version);
  if (!function_id_.empty()) f.field("id", function_id_);
  cloud_constant_.clear();
  JsonWriter c(cloud_constant_);
  c.key("cloud"), c.begin_object();
  c.field("provider", "aws");
  if (!context_.region.empty()) c.field("region", context_.region);
  if (!context_.account_id.empty())
    c.key("account"), c.begin_object(), c.field("id", context_.account_id), c.end_object();
  c.key("service"), c.begin_object(), c.field("name", "lambda"), c.end_object();
  c.end_object();
  render_invocation_fields({}, false);  // the next record with a request id renders its own
}

std::optional<Document> Enricher::enrich(const telemetry::Event& ev) {
  Fields f;
  f.timestamp = ev.time_ms;
  const std::string_view type = ev.type;
  f.action = type;
  if (type == "function" || type == "extension") {
    if (!log_record(ev, f)) return std::nullopt;
  } else {
    platform_record(ev, f);
  }
  std::optional<Document> d(std::in_place);
  write(f, d->json);
  d->timestamp = f.timestamp;
  if (keep_raw_) {
    JsonWriter w(d->raw);
    w.begin_object();
    w.field("time", ev.time);
    w.field("type", ev.type);
    w.key("record"), w.value(ev.record);
    w.end_object();
  }
  if (type == "platform.runtimeDone" || type == "platform.end") current_request_.clear();
  return d;
}

Document Enricher::extension_document(std::string_view action, std::string_view level, std::string_view message,
                                      std::string_view request_id, const boost::json::object& fields, EpochMs time) {
  Fields f;
  f.timestamp = time;
  f.action = action;
  f.level = level;
  f.message = message;
  f.request_id = request_id;
  // The fields as a record of its own, so that they are written as a JSON record's other keys are.
  const telemetry::Event holder("extension", "", time, boost::json::value(fields));
  if (!fields.empty()) f.extra = holder.record;
  Document d;
  write(f, d.json);
  d.timestamp = time;
  if (keep_raw_)  // as Lambda would deliver a record of the extension's own
    d.raw = R"({"time":")" + format_iso8601_ms(time) + R"(","type":"extension","record":)" + d.json + "}";
  return d;
}

bool Enricher::log_record(const telemetry::Event& ev, Fields& f) {
  const bool function = std::string_view(ev.type) == "function";
  if (ev.record.is_string()) {
    const std::string_view text = ev.record.string();
    if (function) {
      if (const auto pl = parse_platform_line(text)) {
        text_platform_line(text, *pl, f);
        return true;
      }
    }
    const auto p = parse_log_line(text, &time_reader_);
    if (p.timestamp) f.timestamp = *p.timestamp;
    f.request_id = p.request_id;
    f.level = p.level;
    f.message = p.message;
    f.error_type = p.error_type;
  } else if (ev.record.is_object()) {
    // One pass over the record's keys (an object's keys are unique) finds the ones that map to ECS fields.
    JsonView message, level, timestamp, request_id, aws_request_id, error_type, error_message, stack_trace,
        trace_id;
    for (const auto& [key, value] : ev.record.members()) {
      switch (mapped_key(key)) {
        case Mapped::none:
          break;
        case Mapped::message:
          message = value;
          break;
        case Mapped::level:
          level = value;
          break;
        case Mapped::timestamp:
          timestamp = value;
          break;
        case Mapped::request_id:
          request_id = value;
          break;
        case Mapped::aws_request_id:
          aws_request_id = value;
          break;
        case Mapped::error_type:
          error_type = value;
          break;
        case Mapped::error_message:
          error_message = value;
          break;
        case Mapped::stack_trace:
          stack_trace = value;
          break;
        case Mapped::trace_id:
          trace_id = value;
          break;
      }
    }
    if (message) {
      if (message.is_string()) {
        f.message = message.string();
      } else {
        message_buffer_.clear();
        append_serialized(message_buffer_, message);
        f.message = message_buffer_;
      }
      if (message.is_object()) {
        // Node.js logs an Error object as the message.
        f.error_type = str(message, "errorType");
        f.error_message = str(message, "errorMessage");
        if (const auto st = message.find("stackTrace")) f.error_stack = join_lines(st, stack_buffer_);
      }
    }
    f.level = normalise_level(level.string(), level_buffer_);
    if (auto t = telemetry::parse_time(timestamp.string(), time_reader_)) f.timestamp = *t;
    f.request_id = request_id.string();
    if (f.request_id.empty()) f.request_id = aws_request_id.string();
    if (auto t = error_type.string(); !t.empty()) f.error_type = t;
    if (auto t = error_message.string(); !t.empty()) f.error_message = t;
    if (stack_trace) f.error_stack = join_lines(stack_trace, stack_buffer_);
    if (auto t = trace_id.string(); !t.empty()) f.trace_id = xray_root(t);
    f.extra = ev.record;
  } else if (!ev.record.is_null()) {
    message_buffer_.clear();
    append_serialized(message_buffer_, ev.record);
    f.message = message_buffer_;
  }
  if (!rules_.keep(f.message)) {
    ++stats_.filtered;
    return false;
  }
  // Redaction and truncation change the message: it is copied into the buffer first (when not built there).
  auto own_message = [&] {
    if (f.message.data() != message_buffer_.data()) message_buffer_.assign(f.message);
  };
  if (rules_.any_redaction()) {
    own_message();
    if (rules_.apply_redactions(message_buffer_)) ++stats_.redacted;
    f.message = message_buffer_;
  }
  if (f.message.size() > rules_.max_message_bytes) {
    own_message();
    if ((f.original_size = truncate_message(message_buffer_, rules_.max_message_bytes))) ++stats_.truncated;
    f.message = message_buffer_;
  }
  if (f.request_id.empty() && function) f.request_id = current_request_;
  // A line without a level of its own (print(), System.out, Go's log) is plain stdout: info.
  if (f.level.empty()) f.level = f.error_type.empty() ? "info" : "error";
  return true;
}

void Enricher::text_platform_line(std::string_view line, const PlatformLine& p, Fields& f) {
  f.message = strip_newlines(line);
  f.request_id = p.request_id;
  f.level = "info";
  auto put = [&](std::string_view k, const auto& v) {
    if (!v) return;
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, double>)
      f.lambda.number(k, *v);
    else
      f.lambda.integer(k, *v);
  };
  switch (p.kind) {
    case PlatformLine::Kind::start:
      f.action = "platform.start";
      if (!p.request_id.empty()) current_request_ = f.request_id;
      break;
    case PlatformLine::Kind::end:
      f.action = "platform.end";
      break;
    case PlatformLine::Kind::report:
      f.action = "platform.report";
      f.metric = true;
      put("duration_ms", p.duration_ms);
      put("billed_duration_ms", p.billed_duration_ms);
      put("memory_size_mb", p.memory_size_mb);
      put("max_memory_used_mb", p.max_memory_used_mb);
      put("init_duration_ms", p.init_duration_ms);
      put("restore_duration_ms", p.restore_duration_ms);
      f.lambda.text("status", p.status.empty() ? std::string_view("success") : p.status);
      if (!p.status.empty() && p.status != "success") {
        f.level = "error";
        f.error_type = !p.error_type.empty()   ? p.error_type
                       : p.status == "timeout" ? std::string_view("Sandbox.Timeout")
                                               : p.status;
      }
      if (p.duration_ms) f.duration_ns = nanoseconds_of(*p.duration_ms);
      break;
    case PlatformLine::Kind::init_start:
      f.action = "platform.initStart";
      if (!p.runtime_version.empty()) f.lambda.text("runtime_version", p.runtime_version);
      if (!p.runtime_version_arn.empty()) f.lambda.text("runtime_version_arn", p.runtime_version_arn);
      break;
    case PlatformLine::Kind::init_report:
      f.action = "platform.initReport";
      put("duration_ms", p.init_duration_ms);
      if (!p.status.empty()) f.lambda.text("status", p.status);
      break;
    case PlatformLine::Kind::xray:
      f.action = "platform.xray";
      f.trace_id = p.trace_id;
      f.span_id = p.segment_id;
      break;
  }
}

void Enricher::platform_record(const telemetry::Event& ev, Fields& f) {
  const JsonView r = ev.record;
  const std::string_view type = ev.type;
  const PlatformMembers rec(r);
  const PlatformMetrics metrics(rec.metrics);
  std::string& m = message_buffer_;
  m.clear();
  f.level = "info";
  f.request_id = rec.request_id.string();
  const auto status = rec.status.string();
  const auto error_type = rec.error_type.string();
  if (rec.tracing) {
    f.trace_id = xray_root(str(rec.tracing, "value"));
    f.span_id = str(rec.tracing, "spanId");
  }
  auto put_metric = [&](std::string_view field, const std::optional<double>& v) {
    if (v) f.lambda.number(field, *v);
  };
  auto put_str = [&](std::string_view field, JsonView member) {
    if (auto v = member.string(); !v.empty()) f.lambda.text(field, v);
  };
  auto put_spans = [&] {
    if (rec.spans) f.lambda.json("spans", rec.spans);
  };
  auto failed = [&] {
    if (!status.empty()) f.lambda.text("status", status);
    if (!status.empty() && status != "success") {
      f.level = "error";
      f.error_type = error_type.empty() ? status : error_type;
    }
  };
  auto with_status = [&] {
    if (!status.empty() && status != "success") m += "\tStatus: ", m += status;
    if (!error_type.empty()) m += "\tError Type: ", m += error_type;
  };
  char number[400];  // fixed2's
  const auto& duration = metrics.duration;
  if (duration) f.duration_ns = nanoseconds_of(*duration);

  if (type == "platform.start") {
    if (!f.request_id.empty()) {
      current_request_ = f.request_id;
      if (!seen_start_) first_request_ = f.request_id;
      seen_start_ = true;
    }
    put_str("version", rec.version);
    m += "START RequestId: ", m += f.request_id, m += " Version: ", m += rec.version.string();
  } else if (type == "platform.runtimeDone") {
    failed();
    put_metric("duration_ms", duration);
    put_metric("produced_bytes", metrics.produced_bytes);
    put_spans();
    m += "END RequestId: ", m += f.request_id;
    with_status();
  } else if (type == "platform.report") {
    f.metric = true;
    failed();
    if (status.empty()) f.lambda.text("status", "success");
    put_metric("duration_ms", duration);
    put_metric("billed_duration_ms", metrics.billed_duration);
    put_metric("memory_size_mb", metrics.memory_size);
    put_metric("max_memory_used_mb", metrics.max_memory_used);
    put_metric("init_duration_ms", metrics.init_duration);
    put_metric("restore_duration_ms", metrics.restore_duration);
    put_spans();
    m += "REPORT RequestId: ", m += f.request_id;
    if (duration) m += "\tDuration: ", m += fixed2(*duration, number), m += " ms";
    if (const auto& v = metrics.billed_duration) m += "\tBilled Duration: ", m += whole(*v), m += " ms";
    if (const auto& v = metrics.memory_size) m += "\tMemory Size: ", m += whole(*v), m += " MB";
    if (const auto& v = metrics.max_memory_used) m += "\tMax Memory Used: ", m += whole(*v), m += " MB";
    if (const auto& v = metrics.init_duration) m += "\tInit Duration: ", m += fixed2(*v, number), m += " ms";
    if (const auto& v = metrics.restore_duration) m += "\tRestore Duration: ", m += fixed2(*v, number), m += " ms";
    with_status();
  } else if (type == "platform.initStart" || type == "platform.restoreStart") {
    if (auto t = rec.initialization_type.string(); !t.empty()) context_.initialization_type = std::string(t);
    put_str("initialization_type", rec.initialization_type);
    put_str("phase", rec.phase);
    put_str("runtime_version", rec.runtime_version);
    put_str("runtime_version_arn", rec.runtime_version_arn);
    put_str("instance_id", rec.instance_id);
    m += type == "platform.initStart" ? "INIT_START" : "RESTORE_START";
    m += " Runtime Version: ", m += rec.runtime_version.string();
    m += "\tRuntime Version ARN: ", m += rec.runtime_version_arn.string();
    if (auto phase = rec.phase.string(); !phase.empty()) m += "\tPhase: ", m += phase;
  } else if (type == "platform.initRuntimeDone" || type == "platform.restoreRuntimeDone" ||
             type == "platform.initReport" || type == "platform.restoreReport") {
    failed();
    put_str("initialization_type", rec.initialization_type);
    put_str("phase", rec.phase);
    put_metric("duration_ms", duration);
    put_spans();
    const bool init = type.starts_with("platform.init");
    const bool report = type.ends_with("Report");
    m += init ? "INIT" : "RESTORE";
    m += report ? "_REPORT" : "_RUNTIME_DONE";
    if (report && duration) {
      m += init ? " Init" : " Restore";
      m += " Duration: ", m += fixed2(*duration, number), m += " ms";
    }
    if (auto phase = rec.phase.string(); !phase.empty()) m += "\tPhase: ", m += phase;
    with_status();
  } else if (type == "platform.logsDropped") {
    f.level = "warn";
    const auto records = rec.dropped_records.number().value_or(0);
    const auto bytes = rec.dropped_bytes.number().value_or(0);
    f.lambda.integer("dropped_records", count_of(records));
    f.lambda.integer("dropped_bytes", count_of(bytes));
    m += "Lambda dropped ", m += whole(records), m += " log records (", m += whole(bytes);
    m += " bytes) before they reached the extension: ", m += rec.reason.string();
  } else if (type == "platform.fault") {
    f.level = "error";
    if (r.is_string()) {
      f.message = strip_newlines(r.string());
      return;
    }
    append_serialized(m, r);
  } else if (type == "platform.end") {
    m += "END RequestId: ", m += f.request_id;
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

// The document, byte for byte as a JsonWriter writing it field by field would (the unit tests pin it), but
// with each run of constant text appended at once.
void Enricher::write(const Fields& f, std::string& document) {
  JsonBuffer& out = document_buffer_;
  // The document is written in the buffer kept from one document to the next (room for the usual fields and
  // the message; escapes, extra fields and aws.lambda values may grow it), then copied out at its size: the
  // documents wait in the batcher, and so take no more memory than their text.
  std::size_t expected = 640 + f.message.size() + f.error_message.size() + f.error_stack.size();
  for (const auto& field : f.lambda) expected += 48 + field.text.size();
  expected += 48 * f.extra.size();
  out.start(expected);
  auto text = [&out](std::string_view s) { append_json_string(out, s); };
  auto json_value = [&out](JsonView v) { BufferJsonWriter(out).value(v); };
  out += R"({"@timestamp":")";
  time_writer_.write(f.timestamp, out.extend(iso8601_ms_length));
  out += R"(","message":)";
  text(f.message);
  if (!f.level.empty()) {
    out += R"(,"log":{"level":)";
    text(f.level);
    out += '}';
  }
  // Literals of constant size, one per branch: their copies compile to a few moves.
  if (f.metric) {
    out += R"(,"event":{"dataset":"aws.lambda","kind":"metric","action":)";
  } else {
    out += R"(,"event":{"dataset":"aws.lambda","kind":"event","action":)";
  }
  text(f.action);
  if (f.duration_ns) out += R"(,"duration":)", append_json_integer(out, *f.duration_ns);
  if (f.original_size)
    out += R"(,"original_size":)", append_json_integer(out, static_cast<std::int64_t>(*f.original_size));
  out += '}';
  if (!f.error_type.empty() || !f.error_message.empty() || !f.error_stack.empty()) {
    out += R"(,"error":{)";
    bool first = true;
    auto member = [&](std::string_view key, std::string_view value) {
      if (value.empty()) return;
      if (!first) out += ',';
      first = false;
      out += key;
      text(value);
    };
    member(R"("type":)", f.error_type);
    member(R"("message":)", f.error_message);
    member(R"("stack_trace":)", f.error_stack);
    out += '}';
  }
  // The faas and cloud objects: the same for every record of an invocation, so rendered once per invocation.
  const bool coldstart = !f.request_id.empty() &&
                         std::string_view(context_.initialization_type) != "provisioned-concurrency" &&
                         f.request_id == first_request_;
  if (f.request_id != invocation_fields_request_ || coldstart != invocation_fields_coldstart_) [[unlikely]]
    render_invocation_fields(f.request_id, coldstart);
  out += invocation_fields_;
  if (!f.trace_id.empty()) out += R"(,"trace":{"id":)", text(f.trace_id), out += '}';
  if (!f.span_id.empty()) out += R"(,"span":{"id":)", text(f.span_id), out += '}';
  if (!f.lambda.empty()) {
    out += R"(,"aws":{"lambda":{)";
    bool first = true;
    for (const auto& field : f.lambda) {
      if (!first) out += ',';
      first = false;
      out += '"', out += field.key, out += R"(":)";
      switch (field.kind) {
        case LambdaField::Kind::number:
          append_json_number(out, field.number);
          break;
        case LambdaField::Kind::integer:
          append_json_integer(out, field.integer);
          break;
        case LambdaField::Kind::text:
          text(field.text);
          break;
        case LambdaField::Kind::json:
          json_value(field.json);
          break;
      }
    }
    out += "}}";
  }
  if (f.extra) {
    bool opened = false;
    for (const auto& [key, value] : f.extra.members()) {
      if (mapped_key(key) != Mapped::none) continue;
      out += ',';
      if (!opened) text(extra_root_), out += ":{", opened = true;
      text(key);
      out += ':';
      json_value(value);
    }
    if (opened) out += '}';
  }
  out += ',';
  out += ecs_member;
  out += '}';
  document.assign(out.view());  // written where the document is: a string returned would be moved in
}

}  // namespace elk::pipeline
