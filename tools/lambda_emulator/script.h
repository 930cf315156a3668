// What the emulated Lambda says: the function's log lines, the platform's telemetry records, how each
// subscriber sees them (Telemetry API schema versions, Logs API), subscription validation, and the
// summary of what arrived at the far end. Pure functions; the emulator (emulator.h) runs them.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/types.h"

namespace elk::emulator {

enum class LogFormat { text, json };
enum class Runtime { node, python, mixed };

// Everything the function and the platform records depend on.
struct FunctionSetup {
  std::string function_name = "demo-function";
  std::string region = "us-east-1";
  int memory_mb = 128;
  LogFormat log_format = LogFormat::text;
  Runtime runtime = Runtime::mixed;
  std::size_t line_bytes = 0;  // pad each invocation line to this size as the runtime writes it (0: no padding)
  bool damaged_lines = false;  // line 3 of each invocation breaks strict JSON readers (function_record)
};

// In a damaged line, where the envelope's text (not the report's copy, which stays valid JSON) has an invalid
// UTF-8 byte and a lone surrogate escape (function_record).
inline constexpr std::string_view kBadByteMark = "<bad-byte>";
inline constexpr std::string_view kLoneSurrogateMark = "<lone-surrogate>";

inline constexpr std::size_t kMaxLineBytes = 262144;  // the smallest maxBytes: one line always fits one delivery

inline constexpr std::string_view kAccountId = "123456789012";
inline constexpr std::string_view kFunctionVersion = "$LATEST";

// One event as the platform generates it, before a subscriber's view of it.
struct Event {
  EpochMs time;
  std::string type;
  boost::json::value record;
};

// ---- identifiers ----

[[nodiscard]] std::string make_uuid(std::mt19937_64& rng);

struct Trace {
  std::string value;    // "Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1"
  std::string span_id;  // the Parent id
};
[[nodiscard]] Trace make_trace(std::mt19937_64& rng, EpochMs now);

[[nodiscard]] std::string function_arn(const FunctionSetup& f);

// ---- function log lines ----

// "inv=<i> line=<j>": every invocation line carries one, so that sent and arrived lines can be matched.
[[nodiscard]] std::string line_token(int invocation, int line);
// The first token in `text`, parsed (so "line=1" never matches "line=10").
[[nodiscard]] std::optional<std::pair<int, int>> find_line_token(std::string_view text);

// Line `line` (1-based) of invocation `invocation`, as the runtime writes it: a string in text format,
// an object in JSON format (plain print lines stay strings). Line 2 is one multi-line record. With
// f.damaged_lines, line 3 ends in kBadByteMark and kLoneSurrogateMark (which the envelope's text has replaced
// by a 0xFF byte and by \ud83d, as JSON.stringify writes a string cut inside an emoji) and, in the JSON format,
// carries a field nested 40 deep. With
// f.line_bytes, ASCII padding right after the token makes the line (the string, or the serialized object)
// exactly that long; a longer line is left as it is.
[[nodiscard]] boost::json::value function_record(const FunctionSetup& f, const RequestId& request_id, int invocation,
                                                 int line, EpochMs now);
// The one line the function logs during init (Node prints the request id as "undefined").
[[nodiscard]] boost::json::value init_function_record(const FunctionSetup& f, EpochMs now);

// ---- platform records (Telemetry API shapes; view() adapts them per subscriber) ----

[[nodiscard]] boost::json::object init_start_record(const FunctionSetup& f);
[[nodiscard]] boost::json::object init_runtime_done_record(std::string_view status, std::string_view error_type);
[[nodiscard]] boost::json::object init_report_record(std::string_view status, std::string_view error_type,
                                                     double duration_ms);
[[nodiscard]] boost::json::object extension_record(std::string_view name, const std::vector<std::string>& events);
[[nodiscard]] boost::json::object subscription_record(std::string_view name, const std::vector<std::string>& types);
[[nodiscard]] boost::json::object start_record(const RequestId& id, const Trace& trace);

struct RuntimeDone {
  RequestId request_id;
  Trace trace;
  EpochMs start;
  double duration_ms = 0;
  std::int64_t produced_bytes = 0;
};
[[nodiscard]] boost::json::object runtime_done_record(const RuntimeDone& r);
[[nodiscard]] boost::json::object end_record(const RequestId& id);

struct Report {
  RequestId request_id;
  Trace trace;
  std::string status = "success";  // or "timeout"
  double duration_ms = 0;
  int memory_mb = 128;
  int max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;  // the first invocation only
  EpochMs extension_overhead_start;
  double extension_overhead_ms = 0;
};
[[nodiscard]] boost::json::object report_record(const Report& r);

// ---- subscriptions ----

enum class Api { telemetry, logs };
[[nodiscard]] std::string_view api_name(Api api);  // "telemetry" | "logs"

struct Subscription {
  Api api = Api::telemetry;
  std::string schema_version;
  std::vector<std::string> types;  // platform, function, extension
  std::size_t max_items = 10000;
  std::size_t max_bytes = 262144;
  std::chrono::milliseconds timeout{1000};
  std::uint16_t port = 0;       // on 127.0.0.1 (sandbox hosts map there)
  std::string target = "/";     // path and query of the destination URI
  std::string method = "POST";  // the Logs API lets the subscriber ask for PUT
};

// Validates a subscription body as Lambda does. The error is the errorMessage of a 400 answer; every
// problem found is listed, joined by "; ".
[[nodiscard]] Result<Subscription> parse_subscription(Api api, std::string_view body);

// The event as this subscriber receives it ({time,type,record}), or nullopt when it does not get it
// (type not subscribed, or the API does not have that event).
[[nodiscard]] std::optional<boost::json::object> view(const Event& event, const Subscription& s);

// ---- after the run ----

// Reads every *.ndjson file in `dir` and prints to `out` what arrived: files, documents, documents per
// event.action, function lines sent vs token lines found, missing and doubled tokens, 3 samples.
Status summarize(const std::filesystem::path& dir, const std::set<std::pair<int, int>>& sent_tokens, std::ostream& out);

// When each function line arrived in `dir` (a file destination's directory): for every token found in its
// *.ndjson documents, the modification times (Unix microseconds) of the files holding it, one per copy.
using Arrivals = std::map<std::pair<int, int>, std::vector<std::int64_t>>;
[[nodiscard]] Result<Arrivals> read_arrivals(const std::filesystem::path& dir);

// Indented JSON, for people.
[[nodiscard]] std::string pretty(const boost::json::value& v);

}  // namespace elk::emulator
