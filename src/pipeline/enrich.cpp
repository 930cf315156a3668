#include "pipeline/enrich.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/time.h"
#include "core/time_text.h"
#include "pipeline/level.h"
#include "pipeline/log_line.h"
#include "pipeline/platform_event.h"
#include "pipeline/platform_line.h"

namespace elk::pipeline {

using json_tape::JsonView;

namespace {

constexpr std::string_view ecs_member = R"("ecs":{"version":"8.11.0"})";
static_assert(ecs_member.find(ecs_version) != std::string_view::npos, "ecs_member must carry ecs_version");

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
      JsonWriter(buffer).value(e);
  }
  return buffer;
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

void Enricher::render_invocation_fields(std::string_view request_id, bool coldstart) {
  std::string& out = invocation_fields_;
  invocation_fields_request_.assign(request_id);
  invocation_fields_coldstart_ = coldstart;
  if (!lambda_) {
    out.assign(",");
    out += cloud_constant_;
    return;
  }
  out.assign(R"(,"faas":{)");
  out += faas_constant_;
  if (!request_id.empty()) {
    out += R"(,"execution":)";
    append_json_string(out, request_id);
    out += coldstart ? R"(,"coldstart":true)" : R"(,"coldstart":false)";
  }
  out += "},";
  out += cloud_constant_;
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
  if (lambda_) c.key("service"), c.begin_object(), c.field("name", "lambda"), c.end_object();
  c.end_object();
  render_invocation_fields({}, false);  // the next record with a request id renders its own
}

Enricher Enricher::for_source(const SourceContext& source) const {
  Enricher e(source.function, rules_, extra_root_, keep_raw_);
  e.name_function_ = true;
  if (source.function.function_name.empty()) {
    e.lambda_ = false;
    e.render_constant_fields();
  }
  if (!source.log_group.empty() || !source.log_stream.empty()) {
    const auto& f = source.function;
    e.id_prefix_ = f.account_id + '\n' + f.region + '\n' + source.log_group + '\n' + source.log_stream + '\n';
    JsonWriter w(e.cloudwatch_constant_);
    w.field("log_group", source.log_group);
    w.field("log_stream", source.log_stream);
  }
  return e;
}

std::optional<Document> Enricher::enrich(const Record& ev) {
  DocumentFields f;
  ending_request_ = false;
  f.timestamp = ev.time_ms;
  f.action = ev.type_name;
  f.event_id = ev.id;
  if (ev.type != Record::Type::platform) {
    if (!log_record(ev, f)) return std::nullopt;
  } else {
    platform_record(ev, f);
  }
  std::optional<Document> d(std::in_place);
  write(f, d->json);
  d->timestamp = f.timestamp;
  if (!ev.id.empty()) d->id.assign(id_prefix_).append(ev.id);
  if (name_function_) d->function = context_.function_name;
  if (keep_raw_) {
    JsonWriter w(d->raw);
    w.begin_object();
    w.field("time", ev.time);
    w.field("type", ev.type_name);
    w.key("record"), w.value(ev.body);
    w.end_object();
  }
  if (ending_request_) current_request_.clear();
  return d;
}

Document Enricher::extension_document(std::string_view action, std::string_view level, std::string_view message,
                                      std::string_view request_id, const boost::json::object& fields, EpochMs time) {
  DocumentFields f;
  f.timestamp = time;
  f.action = action;
  f.level = level;
  f.message = message;
  f.request_id = request_id;
  // The fields as a record of its own, so that they are written as a JSON record's other keys are.
  const Record holder("extension", "", time, boost::json::value(fields));
  if (!fields.empty()) f.extra = holder.body;
  Document d;
  write(f, d.json);
  d.timestamp = time;
  if (name_function_) d.function = context_.function_name;
  if (keep_raw_)  // as Lambda would deliver a record of the extension's own
    d.raw = R"({"time":")" + format_iso8601_ms(time) + R"(","type":"extension","record":)" + d.json + "}";
  return d;
}

bool Enricher::log_record(const Record& ev, DocumentFields& f) {
  const bool function = ev.type == Record::Type::function;
  if (ev.body.is_string()) {
    const std::string_view text = ev.body.string();
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
  } else if (ev.body.is_object()) {
    // One pass over the record's keys (an object's keys are unique) finds the ones that map to ECS fields.
    JsonView message, level, timestamp, request_id, aws_request_id, error_type, error_message, stack_trace, trace_id;
    for (const auto& [key, value] : ev.body.members()) {
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
        JsonWriter(message_buffer_).value(message);
        f.message = message_buffer_;
      }
      if (message.is_object()) {
        // Node.js logs an Error object as the message.
        f.error_type = message.find("errorType").string();
        f.error_message = message.find("errorMessage").string();
        if (const auto st = message.find("stackTrace")) f.error_stack = join_lines(st, stack_buffer_);
      }
    }
    f.level = level::normalise(level.string(), level_buffer_);
    if (auto t = parse_time(timestamp.string(), time_reader_)) f.timestamp = *t;
    f.request_id = request_id.string();
    if (f.request_id.empty()) f.request_id = aws_request_id.string();
    if (auto t = error_type.string(); !t.empty()) f.error_type = t;
    if (auto t = error_message.string(); !t.empty()) f.error_message = t;
    if (stack_trace) f.error_stack = join_lines(stack_trace, stack_buffer_);
    if (auto t = trace_id.string(); !t.empty()) f.trace_id = xray_root(t);
    f.extra = ev.body;
  } else if (!ev.body.is_null()) {
    message_buffer_.clear();
    JsonWriter(message_buffer_).value(ev.body);
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

void Enricher::text_platform_line(std::string_view line, const PlatformEvent& e, DocumentFields& f) {
  render_platform_event(e, f);
  f.message = strip_newlines(line);
  on_platform_event(e);
  if (observer_) observer_(e, f.timestamp);
}

void Enricher::platform_record(const Record& ev, DocumentFields& f) {
  const auto e = platform_event_of_record(ev.type_name, ev.body);
  if (!e) {
    render_other_platform_record(ev.type_name, ev.body, f, message_buffer_);
    return;
  }
  render_platform_event(*e, f);
  message_buffer_.clear();
  append_platform_text(*e, message_buffer_);
  f.message = message_buffer_;
  on_platform_event(*e);
  if (observer_) observer_(*e, ev.time_ms);
}

// The invocation a platform event starts or ends, in whichever form it came, and the initialization type
// the init phase reports.
void Enricher::on_platform_event(const PlatformEvent& e) {
  using Type = PlatformEvent::Type;
  if (e.type == Type::start && !e.request_id.empty()) {
    current_request_ = e.request_id;
    if (!seen_start_) first_request_ = e.request_id;
    seen_start_ = true;
  }
  if ((e.type == Type::init_start || e.type == Type::restore_start) && !e.initialization_type.empty())
    context_.initialization_type = std::string(e.initialization_type);
  ending_request_ = e.type == Type::runtime_done || e.type == Type::end;
}

// The document, byte for byte as a JsonWriter writing it field by field would (the unit tests pin it), but
// with each run of constant text appended at once.
void Enricher::write(const DocumentFields& f, std::string& document) {
  JsonBuffer& out = document_buffer_;
  // The document is written in the buffer kept from one document to the next (room for the usual fields and
  // the message; escapes, extra fields and aws.lambda values may grow it), then copied out at its size: the
  // documents wait in the batcher, and so take no more memory than their text.
  std::size_t expected = 640 + f.message.size() + f.error_message.size() + f.error_stack.size();
  for (const auto& field : f.lambda) expected += 48 + field.text.size();
  expected += 48 * f.extra.size();
  if (!cloudwatch_constant_.empty()) expected += 48 + cloudwatch_constant_.size() + f.event_id.size();
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
  if (!lambda_) {  // another service's log group, read from CloudWatch Logs
    out += R"(,"event":{"dataset":"aws.cloudwatch_logs","kind":"event","action":)";
  } else if (f.metric) {
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
  const bool cloudwatch = !cloudwatch_constant_.empty();
  if (!f.lambda.empty() || cloudwatch) out += R"(,"aws":{)";
  if (!f.lambda.empty()) {
    out += R"("lambda":{)";
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
    out += '}';
  }
  if (cloudwatch) {
    if (!f.lambda.empty()) out += ',';
    out += R"("cloudwatch":{)", out += cloudwatch_constant_;
    if (!f.event_id.empty()) out += R"(,"event_id":)", text(f.event_id);
    out += '}';
  }
  if (!f.lambda.empty() || cloudwatch) out += '}';
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
