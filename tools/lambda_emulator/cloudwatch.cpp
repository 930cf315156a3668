#include "cloudwatch.h"

#include <zlib.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/base64.h"
#include "core/gzip.h"
#include "core/time.h"

namespace elk::emulator {
namespace {

namespace json = boost::json;

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string padded(std::uint64_t v, int digits) {  // digits <= 60
  char buf[64];
  std::snprintf(buf, sizeof buf, "%0*llu", digits, static_cast<unsigned long long>(v));
  return buf;
}

std::string iso(EpochMs t) {
  return format_iso8601_ms(t);
}

// A platform line: the text format's line, or the JSON log format's {"time","type","record"} object.
std::string platform_line(const FunctionSetup& f, EpochMs t, std::string_view type, json::object record,
                          std::string text) {
  if (f.log_format == LogFormat::json)
    return json::serialize(json::object{{"time", iso(t)}, {"type", type}, {"record", std::move(record)}});
  return text;
}

}  // namespace

std::string EventIds::next(std::int64_t timestamp_ms) {
  // Real ids are 56 digits that grow with time; how AWS composes them is not documented.
  return "3" + padded(static_cast<std::uint64_t>(std::max<std::int64_t>(timestamp_ms, 0)), 19) + padded(++counter_, 36);
}

std::string log_stream_name(std::mt19937_64& rng, EpochMs now) {
  const std::time_t secs = static_cast<std::time_t>(now.value / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char date[16];
  std::strftime(date, sizeof date, "%Y/%m/%d", &tm);
  std::string hex = make_uuid(rng);
  std::erase(hex, '-');
  return std::string(date) + "/[" + std::string(kFunctionVersion) + "]" + hex;
}

std::vector<LogEvent> source_log_events(const SourceInvocation& s, EventIds& ids) {
  const FunctionSetup& f = s.function;
  std::vector<LogEvent> out;
  const auto at = [&] { return EpochMs{s.start.value + static_cast<std::int64_t>(out.size() / 2)}; };
  // CloudWatch Logs keeps a text line's newline: AWS's own example of a subscription payload holds
  // "REPORT RequestId: ...\tMax Memory Used: 72 MB\t\n", and the runtimes' lines arrive with theirs. A JSON log
  // format object is stored as the object's text, without one.
  const auto add = [&](std::string message) {
    const EpochMs t = at();
    out.push_back(LogEvent{ids.next(t.value), t.value, std::move(message)});
  };
  const std::string& id = s.request_id.value;
  if (s.first_on_stream) {
    const json::object init = init_start_record(f);
    add(platform_line(f, at(), "platform.initStart", init,
                      "INIT_START Runtime Version: " + std::string(init.at("runtimeVersion").as_string()) +
                          "\tRuntime Version ARN: " + std::string(init.at("runtimeVersionArn").as_string()) + "\n"));
  }
  add(platform_line(f, at(), "platform.start", json::object{{"requestId", id}, {"version", kFunctionVersion}},
                    "START RequestId: " + id + " Version: " + std::string(kFunctionVersion) + "\n"));
  for (int j = 1; j <= s.lines; ++j) {
    const json::value line = function_record(f, s.request_id, s.invocation, j, at());
    add(line.is_string() ? std::string(line.get_string()) : json::serialize(line));
  }
  const double duration = 3.0 + 0.41 * s.lines + 0.13 * (s.invocation % 7);
  const int billed = static_cast<int>(std::ceil(duration));
  const int used = 56 + s.invocation % 9;
  const double init_ms = 130.49 + s.invocation % 5;
  if (s.timed_out && f.log_format == LogFormat::text)
    add(iso(at()) + " " + id + " Task timed out after 3.00 seconds\n");
  // The JSON log format has no END line: platform.report follows the function's lines.
  if (f.log_format == LogFormat::text) add("END RequestId: " + id + "\n");
  json::object metrics{
      {"durationMs", duration}, {"billedDurationMs", billed}, {"memorySizeMB", f.memory_mb}, {"maxMemoryUsedMB", used}};
  if (s.first_on_stream) metrics["initDurationMs"] = init_ms;
  std::string report = "REPORT RequestId: " + id + "\tDuration: " + fixed(duration, 2) +
                       " ms\tBilled Duration: " + std::to_string(billed) +
                       " ms\tMemory Size: " + std::to_string(f.memory_mb) +
                       " MB\tMax Memory Used: " + std::to_string(used) + " MB\t";
  if (s.first_on_stream) report += "Init Duration: " + fixed(init_ms, 2) + " ms\t";
  if (s.timed_out) report += "Status: timeout";
  add(platform_line(
      f, at(), "platform.report",
      json::object{{"requestId", id}, {"status", s.timed_out ? "timeout" : "success"}, {"metrics", std::move(metrics)}},
      report + "\n"));
  return out;
}

std::string data_message(const LogSubscription& s, const std::vector<LogEvent>& events) {
  json::array log_events;
  for (const auto& e : events)
    log_events.push_back(json::object{{"id", e.id}, {"timestamp", e.timestamp}, {"message", e.message}});
  return json::serialize(json::object{{"messageType", "DATA_MESSAGE"},
                                      {"owner", kAccountId},
                                      {"logGroup", s.log_group},
                                      {"logStream", s.log_stream},
                                      {"subscriptionFilters", json::array{json::string(s.filter_name)}},
                                      {"logEvents", std::move(log_events)}});
}

std::string control_message(EpochMs now) {
  // As CloudWatch Logs sends it: no group, no stream, an event without an id.
  return json::serialize(json::object{
      {"messageType", "CONTROL_MESSAGE"},
      {"owner", "CloudwatchLogs"},
      {"logGroup", ""},
      {"logStream", ""},
      {"subscriptionFilters", json::array{}},
      {"logEvents", json::array{json::object{
                        {"id", ""},
                        {"timestamp", now.value},
                        {"message", "CWL CONTROL MESSAGE: Checking health of destination Lambda function."}}}}});
}

std::string encode_payload(std::string_view json_text) {
  return base64(gzip(json_text));
}

std::string awslogs_event(std::string_view data) {
  return json::serialize(json::object{{"awslogs", json::object{{"data", data}}}});
}

std::string_view kind_name(BadPayload b) {
  switch (b) {
    case BadPayload::invalid_base64:
      return "invalid-base64";
    case BadPayload::not_gzip:
      return "not-gzip";
    case BadPayload::gzip_bomb:
      return "gzip-bomb";
    case BadPayload::invalid_json:
      return "invalid-json";
    case BadPayload::empty_log_events:
      return "empty-log-events";
    case BadPayload::not_awslogs:
      return "not-awslogs";
  }
  return "unknown";
}

std::string gzip_zeros(std::uint64_t inflated_bytes) {
  // After a full flush deflate starts afresh, byte-aligned: every further chunk of zeros compresses to the same
  // bytes, so one chunk is compressed and its output repeated; the trailer's CRC-32 is combined, not computed
  // over the whole. A gzip of a GiB costs a MiB of zeros.
  constexpr std::uint64_t kChunk = 1U << 20;
  const std::string zeros(kChunk, '\0');
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_RLE);
  std::string first, repeated;
  const auto compress = [&](std::string& out, uInt n) {
    char buf[1 << 14];
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
    z.avail_in = n;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      deflate(&z, Z_FULL_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
  };
  const std::uint64_t chunks = inflated_bytes / kChunk, rest = inflated_bytes % kChunk;
  compress(first, static_cast<uInt>(std::min(inflated_bytes, kChunk)));  // the gzip header, then the first chunk
  if (chunks > 1) compress(repeated, static_cast<uInt>(kChunk));
  std::string tail;
  if (chunks > 0 && rest > 0) compress(tail, static_cast<uInt>(rest));
  deflateEnd(&z);

  std::string out = first;
  out.reserve(first.size() + repeated.size() * (chunks > 1 ? chunks - 1 : 0) + tail.size() + 10);
  for (std::uint64_t i = 1; i < chunks; ++i) out += repeated;
  out += tail;
  out += std::string("\x03\x00", 2);  // the final block: fixed Huffman codes, end of block at once
  const uLong chunk_crc = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(kChunk));
  uLong crc = chunks > 0 ? chunk_crc : crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(rest));
  for (std::uint64_t i = 1; i < chunks; ++i) crc = crc32_combine(crc, chunk_crc, static_cast<z_off_t>(kChunk));
  if (chunks > 0 && rest > 0)
    crc = crc32_combine(crc, crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), static_cast<uInt>(rest)),
                        static_cast<z_off_t>(rest));
  const auto le32 = [&](std::uint64_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  le32(crc);
  le32(inflated_bytes & 0xFFFFFFFFU);  // ISIZE: the size modulo 2^32
  return out;
}

std::string bad_payload_event(BadPayload b, const LogSubscription& s) {
  switch (b) {
    case BadPayload::invalid_base64:
      return awslogs_event("H4sI!!not*base64$$");
    case BadPayload::not_gzip:
      return awslogs_event(base64("plain text, not a gzip stream"));
    case BadPayload::gzip_bomb:
      return awslogs_event(base64(gzip_zeros(kGzipBombBytes)));
    case BadPayload::invalid_json:
      return awslogs_event(encode_payload(R"({"messageType":"DATA_MESSAGE","logEvents":[{"id":)"));
    case BadPayload::empty_log_events:
      return awslogs_event(encode_payload(data_message(s, {})));
    case BadPayload::not_awslogs:
      return R"({"hello":"world"})";
  }
  return "{}";
}

// ---- Kinesis ----

std::string kinesis_sequence_number(std::uint64_t n) {
  return "4959" + padded(n, 52);
}

std::string kinesis_stream_arn(const FunctionSetup& forwarder) {
  return "arn:aws:kinesis:" + forwarder.region + ":" + std::string(kAccountId) + ":stream/elk-log-stream";
}

std::string kinesis_event(const std::vector<KinesisRecord>& records, const FunctionSetup& forwarder) {
  json::array out;
  const std::string arn = kinesis_stream_arn(forwarder);
  for (const auto& r : records)
    out.push_back(json::object{
        {"kinesis", json::object{{"kinesisSchemaVersion", "1.0"},
                                 {"partitionKey", r.partition_key},
                                 {"sequenceNumber", r.sequence_number},
                                 {"data", r.data},
                                 {"approximateArrivalTimestamp", r.arrival_s}}},
        {"eventSource", "aws:kinesis"},
        {"eventVersion", "1.0"},
        {"eventID", std::string(kShardId) + ":" + r.sequence_number},
        {"eventName", "aws:kinesis:record"},
        {"invokeIdentityArn", "arn:aws:iam::" + std::string(kAccountId) + ":role/" + forwarder.function_name + "-role"},
        {"awsRegion", forwarder.region},
        {"eventSourceARN", arn}});
  return json::serialize(json::object{{"Records", std::move(out)}});
}

std::optional<std::vector<std::string>> batch_item_failures(std::string_view body,
                                                            const std::vector<std::string>& sequence_numbers) {
  // AWS: an empty or null list, an empty or null answer: complete success; an empty or null itemIdentifier,
  // a bad key or a sequence number not in the batch: complete failure. An answer that is not JSON at all is
  // taken as a complete failure here (the documentation does not say).
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::nullopt;
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec) return std::vector<std::string>{};
  if (v.is_null() || !v.is_object()) return std::nullopt;
  const auto* list = v.get_object().if_contains("batchItemFailures");
  if (!list || list->is_null()) return std::nullopt;
  if (!list->is_array()) return std::vector<std::string>{};
  std::vector<std::string> failed;
  for (const auto& item : list->get_array()) {
    const auto* id = item.is_object() ? item.get_object().if_contains("itemIdentifier") : nullptr;
    if (id == nullptr || !id->is_string() || id->get_string().empty() ||
        std::find(sequence_numbers.begin(), sequence_numbers.end(), std::string_view(id->get_string())) ==
            sequence_numbers.end())
      return std::vector<std::string>{};
    failed.emplace_back(id->get_string());
  }
  if (failed.empty()) return std::nullopt;
  return failed;
}

// ---- on-failure destinations ----

namespace {
json::value payload_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(json::string(text)) : v;
}
json::object request_context(const FunctionSetup& forwarder, const FailedInvocation& f, std::string_view condition) {
  return {{"requestId", f.request_id.value},
          {"functionArn", function_arn(forwarder) + ":" + std::string(kFunctionVersion)},
          {"condition", condition},
          {"approximateInvokeCount", f.attempts}};
}
json::object response_context(const FailedInvocation& f) {
  return {{"statusCode", 200}, {"executedVersion", kFunctionVersion}, {"functionError", f.function_error}};
}
}  // namespace

json::object async_failure_record(const FunctionSetup& forwarder, const FailedInvocation& f, std::string_view event,
                                  EpochMs now) {
  return {{"version", "1.0"},
          {"timestamp", iso(now)},
          {"requestContext", request_context(forwarder, f, "RetriesExhausted")},
          {"requestPayload", payload_json(event)},
          {"responseContext", response_context(f)},
          {"responsePayload", payload_json(f.response_payload)}};
}

json::object kinesis_failure_record(const FunctionSetup& forwarder, const FailedInvocation& f,
                                    const std::vector<KinesisRecord>& records, EpochMs now) {
  const auto arrival = [](double s) { return iso(EpochMs{static_cast<std::int64_t>(s * 1000.0)}); };
  json::object info{{"shardId", kShardId}, {"batchSize", records.size()}, {"streamArn", kinesis_stream_arn(forwarder)}};
  if (!records.empty()) {
    info["startSequenceNumber"] = records.front().sequence_number;
    info["endSequenceNumber"] = records.back().sequence_number;
    info["approximateArrivalOfFirstRecord"] = arrival(records.front().arrival_s);
    info["approximateArrivalOfLastRecord"] = arrival(records.back().arrival_s);
  }
  return {{"requestContext", request_context(forwarder, f, "RetryAttemptsExhausted")},
          {"responseContext", response_context(f)},
          {"version", "1.0"},
          {"timestamp", iso(now)},
          {"KinesisBatchInfo", std::move(info)}};
}

}  // namespace elk::emulator
