#include "pipeline/enrich.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <vector>

#include "core/time.h"
#include "pipeline/json_writer.h"
#include "pipeline/log_line.h"
#include "pipeline/platform_line.h"

namespace elk::pipeline {

namespace json = boost::json;

struct Enricher::Fields {
  EpochMs timestamp;
  std::string action;  // event.action
  std::string message;
  std::string level;
  bool metric = false;  // event.kind metric (reports) rather than event
  std::string request_id;
  std::string error_type, error_message, error_stack;
  std::optional<std::int64_t> duration_ns;
  std::optional<std::size_t> original_size;
  std::string trace_id, span_id;
  std::vector<std::pair<std::string, json::value>> lambda;  // aws.lambda.*, in order
  const json::object* extra = nullptr;                      // a JSON log record's other keys
};

namespace {

constexpr std::string_view ecs_member = R"("ecs":{"version":"8.11.0"})";
static_assert(ecs_member.find(ecs_version) != std::string_view::npos, "ecs_member must carry ecs_version");

const json::value* member(const json::value& v, std::string_view key) {
  const auto* o = v.if_object();
  return o ? o->if_contains(key) : nullptr;
}
std::string_view str(const json::value& v, std::string_view key) {
  const auto* m = member(v, key);
  return m && m->is_string() ? std::string_view(m->get_string()) : std::string_view();
}
std::optional<double> num(const json::value* v) {
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}
std::optional<double> metric(const json::value& record, std::string_view key) {
  const auto* m = member(record, "metrics");
  return m ? num(member(*m, key)) : std::nullopt;
}

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}
std::string whole(double v) { return std::to_string(static_cast<std::int64_t>(v)); }

// "Information", "WARNING", "Error", "crit" ... -> info, warn, error, fatal ...
std::string normalise_level(std::string_view level) {
  std::string l;
  for (char c : level) l += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
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

std::string strip_newlines(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// Keys of a JSON log record that become ECS fields rather than extra fields.
bool mapped_key(std::string_view k) {
  return k == "message" || k == "level" || k == "timestamp" || k == "requestId" || k == "AWSRequestId" ||
         k == "errorType" || k == "errorMessage" || k == "stackTrace" || k == "traceId";
}

std::string join_lines(const json::value& v) {
  if (const auto* s = v.if_string()) return std::string(*s);
  std::string out;
  if (const auto* a = v.if_array())
    for (const auto& e : *a) {
      if (!out.empty()) out += '\n';
      out += e.is_string() ? std::string(e.get_string()) : json::serialize(e);
    }
  return out;
}

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
  if (!context_.account_id.empty()) c.key("account"), c.begin_object(), c.field("id", context_.account_id), c.end_object();
  c.key("service"), c.begin_object(), c.field("name", "lambda"), c.end_object();
  c.end_object();
}

std::optional<Document> Enricher::enrich(const telemetry::Event& ev) {
  Fields f;
  f.timestamp = ev.time_ms;
  f.action = ev.type;
  if (ev.type == "function" || ev.type == "extension") {
    if (auto doc = log_record(ev, f); !doc) return std::nullopt;
  } else {
    platform_record(ev, f);
  }
  Document d{write(ev, f), f.timestamp, {}};
  if (keep_raw_) {
    JsonWriter w(d.raw);
    w.begin_object();
    w.field("time", ev.time);
    w.field("type", ev.type);
    w.key("record"), w.value(ev.record);
    w.end_object();
  }
  if (ev.type == "platform.runtimeDone" || ev.type == "platform.end") current_request_.clear();
  return d;
}

// Returns an empty optional when the record is filtered out; the document is written by the caller.
std::optional<Document> Enricher::log_record(const telemetry::Event& ev, Fields& f) {
  const bool function = ev.type == "function";
  if (const auto* s = ev.record.if_string()) {
    if (function) {
      if (const auto pl = parse_platform_line(*s)) {
        text_platform_line(*s, *pl, f);
        return Document{};
      }
    }
    const auto p = parse_log_line(*s);
    if (p.timestamp) f.timestamp = *p.timestamp;
    f.request_id = std::string(p.request_id);
    f.level = std::string(p.level);
    f.message = std::string(p.message);
    f.error_type = std::string(p.error_type);
  } else if (ev.record.is_object()) {
    const auto& r = ev.record;
    if (const auto* m = member(r, "message")) f.message = m->is_string() ? std::string(m->get_string()) : json::serialize(*m);
    if (const auto* m = member(r, "message"); m && m->is_object()) {
      // Node.js logs an Error object as the message.
      f.error_type = std::string(str(*m, "errorType"));
      f.error_message = std::string(str(*m, "errorMessage"));
      if (const auto* st = member(*m, "stackTrace")) f.error_stack = join_lines(*st);
    }
    f.level = normalise_level(str(r, "level"));
    if (auto t = parse_iso8601(str(r, "timestamp"))) f.timestamp = *t;
    f.request_id = std::string(str(r, "requestId"));
    if (f.request_id.empty()) f.request_id = std::string(str(r, "AWSRequestId"));
    if (auto t = str(r, "errorType"); !t.empty()) f.error_type = std::string(t);
    if (auto t = str(r, "errorMessage"); !t.empty()) f.error_message = std::string(t);
    if (const auto* st = member(r, "stackTrace")) f.error_stack = join_lines(*st);
    if (auto t = str(r, "traceId"); !t.empty()) f.trace_id = std::string(xray_root(t));
    f.extra = r.if_object();
  } else {
    f.message = ev.record.is_null() ? std::string() : json::serialize(ev.record);
  }
  if (!rules_.keep(f.message)) {
    ++stats_.filtered;
    return std::nullopt;
  }
  if (rules_.any_redaction() && rules_.apply_redactions(f.message)) ++stats_.redacted;
  if ((f.original_size = truncate_message(f.message, rules_.max_message_bytes))) ++stats_.truncated;
  if (f.request_id.empty() && function) f.request_id = current_request_;
  // A line without a level of its own (print(), System.out, Go's log) is plain stdout: info.
  if (f.level.empty()) f.level = f.error_type.empty() ? "info" : "error";
  return Document{};
}

void Enricher::text_platform_line(std::string_view line, const PlatformLine& p, Fields& f) {
  f.message = strip_newlines(line);
  f.request_id = std::string(p.request_id);
  f.level = "info";
  auto put = [&](const char* k, const auto& v) {
    if (v) f.lambda.emplace_back(k, *v);
  };
  switch (p.kind) {
    case PlatformLine::Kind::start:
      f.action = "platform.start";
      if (!p.request_id.empty()) current_request_ = f.request_id;
      break;
    case PlatformLine::Kind::end: f.action = "platform.end"; break;
    case PlatformLine::Kind::report:
      f.action = "platform.report";
      f.metric = true;
      put("duration_ms", p.duration_ms);
      put("billed_duration_ms", p.billed_duration_ms);
      put("memory_size_mb", p.memory_size_mb);
      put("max_memory_used_mb", p.max_memory_used_mb);
      put("init_duration_ms", p.init_duration_ms);
      put("restore_duration_ms", p.restore_duration_ms);
      f.lambda.emplace_back("status", p.status.empty() ? std::string_view("success") : p.status);
      if (!p.status.empty() && p.status != "success") {
        f.level = "error";
        f.error_type = !p.error_type.empty()    ? std::string(p.error_type)
                       : p.status == "timeout" ? std::string("Sandbox.Timeout")
                                               : std::string(p.status);
      }
      if (p.duration_ms) f.duration_ns = static_cast<std::int64_t>(*p.duration_ms * 1e6);
      break;
    case PlatformLine::Kind::init_start:
      f.action = "platform.initStart";
      if (!p.runtime_version.empty()) f.lambda.emplace_back("runtime_version", p.runtime_version);
      if (!p.runtime_version_arn.empty()) f.lambda.emplace_back("runtime_version_arn", p.runtime_version_arn);
      break;
    case PlatformLine::Kind::init_report:
      f.action = "platform.initReport";
      put("duration_ms", p.init_duration_ms);
      if (!p.status.empty()) f.lambda.emplace_back("status", p.status);
      break;
    case PlatformLine::Kind::xray:
      f.action = "platform.xray";
      f.trace_id = std::string(p.trace_id);
      f.span_id = std::string(p.segment_id);
      break;
  }
}

void Enricher::platform_record(const telemetry::Event& ev, Fields& f) {
  const auto& r = ev.record;
  const std::string_view type = ev.type;
  f.level = "info";
  f.request_id = std::string(str(r, "requestId"));
  const auto status = str(r, "status");
  const auto error_type = str(r, "errorType");
  if (const auto* tr = member(r, "tracing")) {
    f.trace_id = std::string(xray_root(str(*tr, "value")));
    f.span_id = std::string(str(*tr, "spanId"));
  }
  auto put_metric = [&](const char* field, std::string_view key) {
    if (auto v = metric(r, key)) f.lambda.emplace_back(field, *v);
  };
  auto put_str = [&](const char* field, std::string_view key) {
    if (auto v = str(r, key); !v.empty()) f.lambda.emplace_back(field, v);
  };
  auto failed = [&] {
    if (!status.empty()) f.lambda.emplace_back("status", status);
    if (!status.empty() && status != "success") {
      f.level = "error";
      f.error_type = error_type.empty() ? std::string(status) : std::string(error_type);
    }
  };
  auto with_status = [&](std::string text) {
    if (!status.empty() && status != "success") text += "\tStatus: " + std::string(status);
    if (!error_type.empty()) text += "\tError Type: " + std::string(error_type);
    return text;
  };
  const auto duration = metric(r, "durationMs");
  if (duration) f.duration_ns = static_cast<std::int64_t>(*duration * 1e6);

  if (type == "platform.start") {
    if (!f.request_id.empty()) {
      current_request_ = f.request_id;
      if (!seen_start_) first_request_ = f.request_id;
      seen_start_ = true;
    }
    put_str("version", "version");
    f.message = "START RequestId: " + f.request_id + " Version: " + std::string(str(r, "version"));
  } else if (type == "platform.runtimeDone") {
    failed();
    put_metric("duration_ms", "durationMs");
    put_metric("produced_bytes", "producedBytes");
    if (const auto* spans = member(r, "spans")) f.lambda.emplace_back("spans", *spans);
    f.message = with_status("END RequestId: " + f.request_id);
  } else if (type == "platform.report") {
    f.metric = true;
    failed();
    if (status.empty()) f.lambda.emplace_back("status", "success");
    put_metric("duration_ms", "durationMs");
    put_metric("billed_duration_ms", "billedDurationMs");
    put_metric("memory_size_mb", "memorySizeMB");
    put_metric("max_memory_used_mb", "maxMemoryUsedMB");
    put_metric("init_duration_ms", "initDurationMs");
    put_metric("restore_duration_ms", "restoreDurationMs");
    if (const auto* spans = member(r, "spans")) f.lambda.emplace_back("spans", *spans);
    std::string m = "REPORT RequestId: " + f.request_id;
    if (auto v = metric(r, "durationMs")) m += "\tDuration: " + fixed2(*v) + " ms";
    if (auto v = metric(r, "billedDurationMs")) m += "\tBilled Duration: " + whole(*v) + " ms";
    if (auto v = metric(r, "memorySizeMB")) m += "\tMemory Size: " + whole(*v) + " MB";
    if (auto v = metric(r, "maxMemoryUsedMB")) m += "\tMax Memory Used: " + whole(*v) + " MB";
    if (auto v = metric(r, "initDurationMs")) m += "\tInit Duration: " + fixed2(*v) + " ms";
    if (auto v = metric(r, "restoreDurationMs")) m += "\tRestore Duration: " + fixed2(*v) + " ms";
    f.message = with_status(std::move(m));
  } else if (type == "platform.initStart" || type == "platform.restoreStart") {
    if (auto t = str(r, "initializationType"); !t.empty()) context_.initialization_type = std::string(t);
    put_str("initialization_type", "initializationType");
    put_str("phase", "phase");
    put_str("runtime_version", "runtimeVersion");
    put_str("runtime_version_arn", "runtimeVersionArn");
    put_str("instance_id", "instanceId");
    f.message = std::string(type == "platform.initStart" ? "INIT_START" : "RESTORE_START") +
                " Runtime Version: " + std::string(str(r, "runtimeVersion")) +
                "\tRuntime Version ARN: " + std::string(str(r, "runtimeVersionArn"));
    if (auto phase = str(r, "phase"); !phase.empty()) f.message += "\tPhase: " + std::string(phase);
  } else if (type == "platform.initRuntimeDone" || type == "platform.restoreRuntimeDone" ||
             type == "platform.initReport" || type == "platform.restoreReport") {
    failed();
    put_str("initialization_type", "initializationType");
    put_str("phase", "phase");
    put_metric("duration_ms", "durationMs");
    if (const auto* spans = member(r, "spans")) f.lambda.emplace_back("spans", *spans);
    const bool init = type.starts_with("platform.init");
    const bool report = type.ends_with("Report");
    std::string m = std::string(init ? "INIT" : "RESTORE") + (report ? "_REPORT" : "_RUNTIME_DONE");
    if (report && duration) m += std::string(init ? " Init" : " Restore") + " Duration: " + fixed2(*duration) + " ms";
    if (auto phase = str(r, "phase"); !phase.empty()) m += "\tPhase: " + std::string(phase);
    f.message = with_status(std::move(m));
  } else if (type == "platform.logsDropped") {
    f.level = "warn";
    const auto records = num(member(r, "droppedRecords")).value_or(0);
    const auto bytes = num(member(r, "droppedBytes")).value_or(0);
    f.lambda.emplace_back("dropped_records", static_cast<std::int64_t>(records));
    f.lambda.emplace_back("dropped_bytes", static_cast<std::int64_t>(bytes));
    f.message = "Lambda dropped " + whole(records) + " log records (" + whole(bytes) +
                " bytes) before they reached the extension: " + std::string(str(r, "reason"));
  } else if (type == "platform.fault") {
    f.level = "error";
    f.message = r.is_string() ? strip_newlines(r.get_string()) : json::serialize(r);
  } else if (type == "platform.end") {
    f.message = "END RequestId: " + f.request_id;
  } else {
    // platform.extension, platform.telemetrySubscription, platform.logsSubscription and any type
    // we do not know yet: the record is kept whole.
    if (!r.is_null()) f.lambda.emplace_back("record", r);
    std::string m = std::string(type);
    if (auto n = str(r, "name"); !n.empty()) m += " Name: " + std::string(n);
    if (auto s = str(r, "state"); !s.empty()) m += " State: " + std::string(s);
    f.message = r.is_string() ? strip_newlines(r.get_string()) : m;
  }
}

std::string Enricher::write(const telemetry::Event&, const Fields& f) const {
  std::string out;
  out.reserve(f.message.size() + 400);
  JsonWriter w(out);
  w.begin_object();
  w.field("@timestamp", format_iso8601_ms(f.timestamp));
  w.field("message", f.message);
  if (!f.level.empty()) {
    w.key("log"), w.begin_object(), w.field("level", f.level), w.end_object();
  }
  w.key("event"), w.begin_object();
  w.field("dataset", "aws.lambda");
  w.field("kind", f.metric ? "metric" : "event");
  w.field("action", f.action);
  if (f.duration_ns) w.field("duration", *f.duration_ns);
  if (f.original_size) w.field("original_size", static_cast<std::int64_t>(*f.original_size));
  w.end_object();
  if (!f.error_type.empty() || !f.error_message.empty() || !f.error_stack.empty()) {
    w.key("error"), w.begin_object();
    if (!f.error_type.empty()) w.field("type", f.error_type);
    if (!f.error_message.empty()) w.field("message", f.error_message);
    if (!f.error_stack.empty()) w.field("stack_trace", f.error_stack);
    w.end_object();
  }
  w.key("faas"), w.begin_object();
  w.raw_members(faas_constant_);
  if (!f.request_id.empty()) {
    w.field("execution", f.request_id);
    const bool cold_type = context_.initialization_type != "provisioned-concurrency";
    w.field("coldstart", cold_type && f.request_id == first_request_);
  }
  w.end_object();
  w.raw_members(cloud_constant_);
  if (!f.trace_id.empty()) w.key("trace"), w.begin_object(), w.field("id", f.trace_id), w.end_object();
  if (!f.span_id.empty()) w.key("span"), w.begin_object(), w.field("id", f.span_id), w.end_object();
  if (!f.lambda.empty()) {
    w.key("aws"), w.begin_object(), w.key("lambda"), w.begin_object();
    for (const auto& [k, v] : f.lambda) w.key(k), w.value(v);
    w.end_object(), w.end_object();
  }
  if (f.extra) {
    bool opened = false;
    for (const auto& kv : *f.extra) {
      if (mapped_key(kv.key())) continue;
      if (!opened) w.key_escaped(extra_root_), w.begin_object(), opened = true;
      w.key_escaped(kv.key()), w.value(kv.value());
    }
    if (opened) w.end_object();
  }
  w.raw_members(ecs_member);
  w.end_object();
  return out;
}

}  // namespace elk::pipeline
