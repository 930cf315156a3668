#include "script.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <ostream>

#include "core/time.h"

namespace elk::emulator {
namespace {

namespace json = boost::json;

std::string hex(std::mt19937_64& rng, std::size_t digits) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  std::uniform_int_distribution<int> d(0, 15);
  for (std::size_t i = 0; i < digits; ++i) out.push_back(kDigits[d(rng)]);
  return out;
}

double round3(double v) {
  return std::round(v * 1000.0) / 1000.0;
}

// ---- function lines ----

enum class Style { node, python, plain };

Style style_for(Runtime runtime, int line) {
  switch (runtime) {
    case Runtime::node:
      return Style::node;
    case Runtime::python:
      return Style::python;
    case Runtime::mixed:
      break;
  }
  static constexpr std::array kRotation{Style::node, Style::python, Style::plain};
  return kRotation[static_cast<std::size_t>(line - 1) % kRotation.size()];
}

// Levels rotate INFO/WARN/ERROR/DEBUG; Python's logging spells the second one WARNING.
std::string_view level_for(Style style, int line) {
  static constexpr std::array<std::string_view, 4> kLevels{"INFO", "WARN", "ERROR", "DEBUG"};
  const auto level = kLevels[static_cast<std::size_t>(line - 1) % kLevels.size()];
  return style == Style::python && level == "WARN" ? "WARNING" : level;
}

std::string message_for(int invocation, int line) {
  const std::string token = line_token(invocation, line);
  if (line == 2)
    return "Error: payment service unavailable " + token +
           "\n    at charge (/var/task/index.js:42:11)\n    at handler (/var/task/index.js:17:5)";
  static constexpr std::array<std::string_view, 5> kPhrases{
      "processing order", "cache miss for key user:", "retrying downstream call, attempt",
      "request payload validated, size", "wrote rows to the orders table:"};
  const auto phrase = kPhrases[static_cast<std::size_t>(line - 1) % kPhrases.size()];
  return std::string(phrase) + " " + std::to_string(1000 + invocation * 10 + line) + " " + token;
}

json::value render_line(const FunctionSetup& f, Style style, std::string_view level, std::string_view request_id,
                        bool request_id_known, const std::string& message, EpochMs now) {
  const std::string ts = format_iso8601_ms(now);
  if (style == Style::plain) return json::string(message + "\n");
  if (f.log_format == LogFormat::json) {
    json::object o{{"timestamp", ts}, {"level", level}};
    if (request_id_known || style == Style::python) o["requestId"] = request_id;
    o["message"] = message;
    return o;
  }
  std::string line;
  if (style == Style::node)
    line = ts + "\t" + std::string(request_id) + "\t" + std::string(level) + "\t" + message + "\n";
  else
    line = "[" + std::string(level) + "]\t" + ts + "\t" + std::string(request_id) + "\t" + message + "\n";
  return json::string(line);
}

// ---- subscriptions ----

std::optional<std::int64_t> as_integer(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
    return static_cast<std::int64_t>(v.get_uint64());
  if (v.is_double() && std::floor(v.get_double()) == v.get_double() && std::abs(v.get_double()) < 1e15)
    return static_cast<std::int64_t>(v.get_double());
  return std::nullopt;
}

void check_range(const json::object& buffering, std::string_view key, std::int64_t lo, std::int64_t hi,
                 std::int64_t& out, std::vector<std::string>& problems) {
  const auto* v = buffering.if_contains(key);
  if (!v) return;
  const auto n = as_integer(*v);
  if (!n || *n < lo || *n > hi) {
    problems.push_back("buffering." + std::string(key) + " must be an integer from " + std::to_string(lo) + " to " +
                       std::to_string(hi));
    return;
  }
  out = *n;
}

std::string category_of(std::string_view type) {
  if (type.starts_with("platform.")) return "platform";
  return std::string(type);  // "function" | "extension"
}

}  // namespace

// ---- identifiers ----

std::string make_uuid(std::mt19937_64& rng) {
  std::string h = hex(rng, 32);
  h[12] = '4';                                                    // version 4
  h[16] = "89ab"[std::uniform_int_distribution<int>(0, 3)(rng)];  // RFC 4122 variant
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

Trace make_trace(std::mt19937_64& rng, EpochMs now) {
  char secs[16];
  std::snprintf(secs, sizeof secs, "%08llx", static_cast<unsigned long long>(now.value / 1000));
  Trace t;
  t.span_id = hex(rng, 16);
  t.value = "Root=1-" + std::string(secs) + "-" + hex(rng, 24) + ";Parent=" + t.span_id + ";Sampled=1";
  return t;
}

std::string function_arn(const FunctionSetup& f) {
  return "arn:aws:lambda:" + f.region + ":" + std::string(kAccountId) + ":function:" + f.function_name;
}

// ---- function log lines ----

std::string line_token(int invocation, int line) {
  return "inv=" + std::to_string(invocation) + " line=" + std::to_string(line);
}

std::optional<std::pair<int, int>> find_line_token(std::string_view text) {
  auto number = [](std::string_view s, std::size_t pos, int& out) -> std::size_t {
    const auto [ptr, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), out);
    return ec == std::errc{} ? static_cast<std::size_t>(ptr - s.data()) : std::string_view::npos;
  };
  for (std::size_t at = text.find("inv="); at != std::string_view::npos; at = text.find("inv=", at + 1)) {
    if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1]))) continue;
    int inv = 0, line = 0;
    auto pos = number(text, at + 4, inv);
    if (pos == std::string_view::npos || text.substr(pos, 6) != " line=") continue;
    pos = number(text, pos + 6, line);
    if (pos == std::string_view::npos) continue;
    return std::pair{inv, line};
  }
  return std::nullopt;
}

json::value function_record(const FunctionSetup& f, const RequestId& request_id, int invocation, int line,
                            EpochMs now) {
  const Style style = style_for(f.runtime, line);
  std::string message = message_for(invocation, line);
  const bool damaged = f.damaged_lines && line == 3;
  if (damaged) message += " bad byte " + std::string(kBadByteMark) + " cut emoji " + std::string(kLoneSurrogateMark);
  json::value record = render_line(f, style, level_for(style, line), request_id.value, true, message, now);
  if (damaged && record.is_object()) {
    json::value deep = "bottom";
    for (int i = 0; i < 40; ++i) deep = json::object{{"level" + std::to_string(40 - i), std::move(deep)}};
    record.as_object()["nested"] = std::move(deep);
    return record;
  }
  const std::size_t size = record.is_string() ? record.get_string().size() : json::serialize(record).size();
  if (size >= f.line_bytes) return record;
  // Letters need no JSON escape: each one adds one byte to the line in either format.
  const std::string token = line_token(invocation, line);
  std::string padding(f.line_bytes - size, ' ');
  for (std::size_t k = 1; k < padding.size(); ++k) padding[k] = static_cast<char>('a' + (k - 1) % 26);
  message.insert(message.find(token) + token.size(), padding);
  return render_line(f, style, level_for(style, line), request_id.value, true, message, now);
}

json::value init_function_record(const FunctionSetup& f, EpochMs now) {
  // Before the first invoke Node prints the request id as "undefined" and Python's filter an empty one.
  const Style style = f.runtime == Runtime::python ? Style::python : Style::node;
  const std::string_view request_id = style == Style::node && f.log_format == LogFormat::text ? "undefined" : "";
  return render_line(f, style, "INFO", request_id, false, "Loading configuration (init) cold-start=1", now);
}

// ---- platform records ----

json::object init_start_record(const FunctionSetup& f) {
  const bool python = f.runtime == Runtime::python;
  return {{"initializationType", "on-demand"},
          {"phase", "init"},
          {"runtimeVersion", python ? "python:3.12.v30" : "nodejs:20.v22"},
          {"runtimeVersionArn",
           "arn:aws:lambda:" + f.region + "::runtime:0cdcfbdefbc5e7d3343f73c2e2dd3cba17d61dea0686b404502a0c9ce83931b9"},
          {"functionName", f.function_name},
          {"functionVersion", kFunctionVersion},
          {"instanceMaxMemory", static_cast<std::int64_t>(f.memory_mb) * 1024 * 1024}};
}

json::object init_runtime_done_record(std::string_view status, std::string_view error_type) {
  json::object o{{"initializationType", "on-demand"}, {"phase", "init"}, {"status", status}};
  if (!error_type.empty()) o["errorType"] = error_type;
  return o;
}

json::object init_report_record(std::string_view status, std::string_view error_type, double duration_ms) {
  json::object o = init_runtime_done_record(status, error_type);
  o["metrics"] = json::object{{"durationMs", round3(duration_ms)}};
  return o;
}

json::object extension_record(std::string_view name, const std::vector<std::string>& events) {
  json::array ev;
  for (const auto& e : events) ev.emplace_back(e);
  return {{"name", name}, {"state", "Ready"}, {"events", std::move(ev)}};
}

json::object subscription_record(std::string_view name, const std::vector<std::string>& types) {
  json::array t;
  for (const auto& e : types) t.emplace_back(e);
  return {{"name", name}, {"state", "Subscribed"}, {"types", std::move(t)}};
}

namespace {
json::object tracing(const Trace& t) {
  return {{"spanId", t.span_id}, {"type", "X-Amzn-Trace-Id"}, {"value", t.value}};
}
json::object span(std::string_view name, EpochMs start, double duration_ms) {
  return {{"name", name}, {"start", format_iso8601_ms(start)}, {"durationMs", round3(duration_ms)}};
}
}  // namespace

json::object start_record(const RequestId& id, const Trace& trace) {
  return {{"requestId", id.value}, {"version", kFunctionVersion}, {"tracing", tracing(trace)}};
}

json::object runtime_done_record(const RuntimeDone& r) {
  // The runtime's response: latency until it starts, then sending it, then the runtime's own overhead.
  const double latency = std::max(0.0, r.duration_ms - 0.3);
  const EpochMs response_start{r.start.value + static_cast<std::int64_t>(latency)};
  return {
      {"requestId", r.request_id.value},
      {"status", "success"},
      {"tracing", tracing(r.trace)},
      {"spans", json::array{span("responseLatency", r.start, latency), span("responseDuration", response_start, 0.2),
                            span("runtimeOverhead", response_start, 0.1)}},
      {"metrics", json::object{{"durationMs", round3(r.duration_ms)}, {"producedBytes", r.produced_bytes}}}};
}

json::object end_record(const RequestId& id) {
  return {{"requestId", id.value}};
}

json::object report_record(const Report& r) {
  json::object metrics{{"durationMs", round3(r.duration_ms)},
                       {"billedDurationMs", static_cast<std::int64_t>(std::ceil(r.duration_ms))},
                       {"memorySizeMB", r.memory_mb},
                       {"maxMemoryUsedMB", r.max_memory_used_mb}};
  if (r.init_duration_ms) metrics["initDurationMs"] = round3(*r.init_duration_ms);
  json::object o{{"requestId", r.request_id.value}, {"status", r.status}};
  if (r.status == "timeout") o["errorType"] = "Sandbox.Timeout";
  o["metrics"] = std::move(metrics);
  o["tracing"] = tracing(r.trace);
  o["spans"] = json::array{span("extensionOverhead", r.extension_overhead_start, r.extension_overhead_ms)};
  return o;
}

// ---- subscriptions ----

std::string_view api_name(Api api) {
  return api == Api::telemetry ? "telemetry" : "logs";
}

Result<Subscription> parse_subscription(Api api, std::string_view body) {
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec) return fail("Invalid JSON: " + ec.message());
  if (!doc.is_object()) return fail("Invalid JSON: the body must be an object");
  const json::object& o = doc.get_object();
  Subscription s;
  s.api = api;
  std::vector<std::string> problems;

  // schemaVersion: required by the Telemetry API, optional (2020-08-15) for the Logs API.
  const auto* schema = o.if_contains("schemaVersion");
  const std::vector<std::string_view> versions =
      api == Api::telemetry ? std::vector<std::string_view>{"2022-07-01", "2022-12-13", "2025-01-29"}
                            : std::vector<std::string_view>{"2020-08-15", "2021-03-18"};
  if (!schema) {
    if (api == Api::telemetry)
      problems.emplace_back("schemaVersion is required");
    else
      s.schema_version = "2020-08-15";
  } else if (!schema->is_string() ||
             std::find(versions.begin(), versions.end(), std::string_view(schema->get_string())) == versions.end()) {
    std::string allowed;
    for (auto v : versions) allowed += (allowed.empty() ? "" : ", ") + std::string(v);
    problems.push_back("schemaVersion must be one of " + allowed);
  } else {
    s.schema_version = std::string(schema->get_string());
  }

  const auto* types = o.if_contains("types");
  if (!types || !types->is_array() || types->get_array().empty()) {
    problems.emplace_back("types should not be empty");
  } else {
    for (const auto& t : types->get_array()) {
      if (!t.is_string() ||
          (t.get_string() != "platform" && t.get_string() != "function" && t.get_string() != "extension")) {
        problems.push_back("types may only contain platform, function and extension, not " + json::serialize(t));
        continue;
      }
      const std::string name(t.get_string());
      if (std::find(s.types.begin(), s.types.end(), name) == s.types.end()) s.types.push_back(name);
    }
  }

  if (const auto* b = o.if_contains("buffering")) {
    if (!b->is_object()) {
      problems.emplace_back("buffering must be an object");
    } else {
      auto items = static_cast<std::int64_t>(s.max_items);
      auto bytes = static_cast<std::int64_t>(s.max_bytes);
      std::int64_t timeout = s.timeout.count();
      check_range(b->get_object(), "maxItems", 1000, 10000, items, problems);
      check_range(b->get_object(), "maxBytes", 262144, 1048576, bytes, problems);
      check_range(b->get_object(), "timeoutMs", 25, 30000, timeout, problems);
      s.max_items = static_cast<std::size_t>(items);
      s.max_bytes = static_cast<std::size_t>(bytes);
      s.timeout = std::chrono::milliseconds(timeout);
    }
  }

  const auto* dest = o.if_contains("destination");
  if (!dest || !dest->is_object()) {
    problems.emplace_back("destination is required");
  } else {
    const auto& d = dest->get_object();
    const auto* protocol = d.if_contains("protocol");
    const auto* uri = d.if_contains("URI");
    if (!protocol || !protocol->is_string()) {
      problems.emplace_back("destination.protocol is required");
    } else if (protocol->get_string() == "TCP") {
      problems.emplace_back("destination.protocol TCP is not emulated; use HTTP");
    } else if (protocol->get_string() != "HTTP") {
      problems.emplace_back("destination.protocol must be HTTP or TCP");
    } else if (!uri || !uri->is_string()) {
      problems.emplace_back("destination.URI is required");
    } else {
      const auto parsed = boost::urls::parse_uri(std::string_view(uri->get_string()));
      if (!parsed) {
        problems.push_back("URI is not valid: " + parsed.error().message());
      } else {
        const auto& u = *parsed;
        if (u.scheme() != "http") problems.emplace_back("URI scheme must be http");
        if (u.host() != "sandbox.localdomain" && u.host() != "sandbox")
          problems.emplace_back("URI host must be sandbox.localdomain or sandbox");
        if (!u.has_port() || u.port().empty()) {
          problems.emplace_back("URI port is not provided");
        } else if (u.port_number() == 0) {
          problems.emplace_back("URI port must be from 1 to 65535");
        } else {
          s.port = u.port_number();
        }
        s.target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
        if (u.has_query()) s.target += "?" + std::string(u.encoded_query());
      }
    }
    if (api == Api::logs) {
      if (const auto* m = d.if_contains("method")) {
        if (m->is_string() && (m->get_string() == "POST" || m->get_string() == "PUT"))
          s.method = std::string(m->get_string());
        else
          problems.emplace_back("destination.method must be POST or PUT");
      }
      if (const auto* e = d.if_contains("encoding"); e && (!e->is_string() || e->get_string() != "JSON"))
        problems.emplace_back("destination.encoding must be JSON");
    }
  }

  if (!problems.empty()) {
    std::string msg;
    for (const auto& p : problems) msg += (msg.empty() ? "" : "; ") + p;
    return fail(msg);
  }
  return s;
}

std::optional<json::object> view(const Event& event, const Subscription& s) {
  if (std::find(s.types.begin(), s.types.end(), category_of(event.type)) == s.types.end()) return std::nullopt;
  const std::string& type = event.type;
  json::value record = event.record;
  const bool string_records = s.api == Api::logs || s.schema_version == "2022-07-01";
  if ((type == "function" || type == "extension") && !record.is_string() && string_records)
    record = json::string(json::serialize(record));

  if (s.api == Api::telemetry) {
    if (type == "platform.end" || type == "platform.logsSubscription") return std::nullopt;
  } else {
    if (type.starts_with("platform.init") || type.starts_with("platform.restore") ||
        type == "platform.telemetrySubscription")
      return std::nullopt;
    if (auto* r = record.if_object()) {
      if (type == "platform.start") {
        r->erase("tracing");
      } else if (type == "platform.runtimeDone") {
        if (s.schema_version != "2021-03-18") return std::nullopt;  // 2020-08-15 does not have it
        record = json::object{{"requestId", r->at("requestId")}, {"status", r->at("status")}};
      } else if (type == "platform.report") {
        r->erase("status");
        r->erase("errorType");
        r->erase("spans");
      }
    }
  }
  return json::object{{"time", format_iso8601_ms(event.time)}, {"type", type}, {"record", std::move(record)}};
}

// ---- after the run ----

namespace {

void pretty_into(const json::value& v, std::string& out, int indent) {
  const auto pad = [&](int n) { out.append(static_cast<std::size_t>(n) * 2, ' '); };
  if (v.is_object() && !v.get_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& kv : v.get_object()) {
      if (!first) out += ",\n";
      first = false;
      pad(indent + 1);
      out += json::serialize(json::string(kv.key())) + ": ";
      pretty_into(kv.value(), out, indent + 1);
    }
    out += "\n";
    pad(indent);
    out += "}";
  } else if (v.is_array() && !v.get_array().empty()) {
    out += "[\n";
    bool first = true;
    for (const auto& e : v.get_array()) {
      if (!first) out += ",\n";
      first = false;
      pad(indent + 1);
      pretty_into(e, out, indent + 1);
    }
    out += "\n";
    pad(indent);
    out += "]";
  } else if (v.is_double()) {
    // Boost.JSON writes 100.639 as 1.00639E2; show numbers as people write them.
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
    out.append(buf, ec == std::errc{} ? end : buf);
  } else {
    out += json::serialize(v);
  }
}

std::string list_tokens(const std::vector<std::pair<int, int>>& tokens, std::size_t limit = 20) {
  std::string out;
  for (std::size_t i = 0; i < tokens.size() && i < limit; ++i)
    out += (i ? ", " : "") + line_token(tokens[i].first, tokens[i].second);
  if (tokens.size() > limit) out += ", ... and " + std::to_string(tokens.size() - limit) + " more";
  return out;
}

}  // namespace

std::string pretty(const json::value& v) {
  std::string out;
  pretty_into(v, out, 0);
  return out;
}

namespace {

// The *.ndjson files in `dir`, by name.
Result<std::vector<std::filesystem::path>> ndjson_files(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".ndjson" && entry.is_regular_file()) files.push_back(entry.path());
  if (ec) return fail("cannot read the directory " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

// The "inv=I line=J" token of a document's message (a string, or a JSON-format record's object).
std::optional<std::pair<int, int>> token_of(const json::object& doc) {
  const auto* m = doc.if_contains("message");
  if (!m) return std::nullopt;
  return find_line_token(m->is_string() ? std::string(m->get_string()) : json::serialize(*m));
}

}  // namespace

Status summarize(const std::filesystem::path& dir, const std::set<std::pair<int, int>>& sent_tokens,
                 std::ostream& out) {
  std::error_code ec;
  auto listed = ndjson_files(dir);
  if (!listed) return std::unexpected(listed.error());
  const auto& files = *listed;

  std::size_t documents = 0, unparsable = 0, last_doc_number = 0;
  json::value last_doc;
  std::map<std::string, std::size_t> per_action;
  std::map<std::pair<int, int>, std::size_t> found;
  // Samples (by document number): the first function line with a token, the first document, the last one.
  std::map<std::size_t, json::value> samples;
  std::optional<std::size_t> first_token_doc;
  for (const auto& file : files) {
    std::ifstream in(file);
    if (!in) return fail("cannot open " + file.string());
    std::string line;
    while (std::getline(in, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json::value doc = json::parse(line, ec);
      if (ec || !doc.is_object()) {
        ++unparsable;
        continue;
      }
      ++documents;
      std::string action = "(no event.action)";
      if (const auto* a = doc.get_object().if_contains("event"); a && a->is_object())
        if (const auto* act = a->get_object().if_contains("action"); act && act->is_string())
          action = std::string(act->get_string());
      ++per_action[action];
      if (auto token = token_of(doc.get_object())) {
        ++found[*token];
        if (!first_token_doc) {
          first_token_doc = documents;
          samples[documents] = doc;
        }
      }
      if (documents == 1) samples[documents] = doc;
      last_doc = std::move(doc);
      last_doc_number = documents;
    }
  }

  if (last_doc_number > 0) samples[last_doc_number] = std::move(last_doc);
  std::vector<std::pair<int, int>> missing, doubled, unexpected;
  std::size_t token_docs = 0;
  for (const auto& t : sent_tokens)
    if (!found.contains(t)) missing.push_back(t);
  for (const auto& [t, n] : found) {
    token_docs += n;
    if (n > 1) doubled.push_back(t);
    if (!sent_tokens.contains(t)) unexpected.push_back(t);
  }

  out << "Summary of " << dir.string() << ": " << files.size() << " file(s), " << documents << " document(s)";
  if (unparsable) out << ", " << unparsable << " unparsable line(s)";
  out << "\n  documents per event.action:\n";
  for (const auto& [action, n] : per_action) out << "    " << action << ": " << n << "\n";
  out << "  function lines: " << sent_tokens.size() << " sent, " << token_docs << " found with a token ("
      << found.size() << " distinct)\n";
  out << "  missing: " << (missing.empty() ? "none" : list_tokens(missing)) << "\n";
  out << "  doubled: " << (doubled.empty() ? "none" : list_tokens(doubled)) << "\n";
  if (!unexpected.empty()) out << "  not sent in this run: " << list_tokens(unexpected) << "\n";
  out << "  sample documents:\n";
  for (const auto& [number, doc] : samples) {
    std::string text = pretty(doc);
    for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 1))
      text.insert(at + 1, "    ");
    out << "  #" << number << "\n    " << text << "\n";
  }
  out.flush();
  return {};
}

Result<Arrivals> read_arrivals(const std::filesystem::path& dir) {
  auto files = ndjson_files(dir);
  if (!files) return std::unexpected(files.error());
  Arrivals out;
  for (const auto& file : *files) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return fail("cannot stat " + file.string());
    const std::int64_t at_us = std::int64_t{st.st_mtim.tv_sec} * 1'000'000 + st.st_mtim.tv_nsec / 1000;
    std::ifstream in(file);
    if (!in) return fail("cannot open " + file.string());
    std::string line;
    std::error_code ec;
    while (std::getline(in, line)) {
      json::value doc = json::parse(line, ec);
      if (ec || !doc.is_object()) continue;
      if (auto token = token_of(doc.get_object())) out[*token].push_back(at_us);
    }
  }
  return out;
}

}  // namespace elk::emulator
