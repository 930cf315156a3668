// What a log forwarder function is invoked with: a simulated source function's lines as CloudWatch Logs
// holds them, the subscription payloads CloudWatch Logs sends (DATA_MESSAGE, CONTROL_MESSAGE), the Kinesis
// event-source-mapping batches that carry the same payloads, the damaged payloads a forwarder must survive,
// the function's ReportBatchItemFailures answer read as Lambda reads it, and the on-failure destination
// records. Pure functions; the function mode (function_mode.h) runs them.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.h"
#include "script.h"

namespace elk::emulator {

// One event as CloudWatch Logs stores it.
struct LogEvent {
  std::string id;  // 56 decimal digits, increasing within a run
  std::int64_t timestamp = 0;
  std::string message;
};

// Makes CloudWatch Logs' event ids: 56 decimal digits, unique and increasing (time first, then a counter).
class EventIds {
 public:
  [[nodiscard]] std::string next(std::int64_t timestamp_ms);

 private:
  std::uint64_t counter_ = 0;
};

// "YYYY/MM/DD/[$LATEST]<32 lowercase hex>", today's UTC date.
[[nodiscard]] std::string log_stream_name(std::mt19937_64& rng, EpochMs now);

// One invocation of the source function, as its log stream holds it: INIT_START (on the stream's first
// invocation), START, its `lines` function lines (script.h's function_record), END, REPORT. In the JSON log
// format the platform lines are {"time","type","record"} objects. A timed-out invocation's stream has the runtime's
// `Task timed out` line after its lines and a REPORT with `Status: timeout`. Timestamps start at `start` and advance by
// one millisecond every second event, so that pairs of consecutive events share a timestamp.
struct SourceInvocation {
  const FunctionSetup& function;  // the source function (name, log format, runtime)
  RequestId request_id;
  int invocation = 1;
  int lines = 5;
  bool first_on_stream = false;
  EpochMs start;
  bool timed_out = false;  // the Task timed out line (text format) and a REPORT with Status: timeout
};
[[nodiscard]] std::vector<LogEvent> source_log_events(const SourceInvocation& s, EventIds& ids);

// The JSON CloudWatch Logs gzips into a subscription payload.
struct LogSubscription {
  std::string log_group;
  std::string log_stream;
  std::string filter_name;
};
[[nodiscard]] std::string data_message(const LogSubscription& s, const std::vector<LogEvent>& events);
// The reachability check CloudWatch Logs sends when a subscription is created.
[[nodiscard]] std::string control_message(EpochMs now);

// base64(gzip(json)): the `data` of a payload.
[[nodiscard]] std::string encode_payload(std::string_view json);
// {"awslogs":{"data":"..."}}
[[nodiscard]] std::string awslogs_event(std::string_view data);

// What a forwarder must survive: each a whole event (the body handed to the function).
enum class BadPayload { invalid_base64, not_gzip, gzip_bomb, invalid_json, empty_log_events, not_awslogs };
inline constexpr BadPayload kBadPayloads[] = {BadPayload::invalid_base64,   BadPayload::not_gzip,
                                              BadPayload::gzip_bomb,        BadPayload::invalid_json,
                                              BadPayload::empty_log_events, BadPayload::not_awslogs};
[[nodiscard]] std::string_view kind_name(BadPayload b);      // "invalid-base64", ...
inline constexpr std::uint64_t kGzipBombBytes = 1ULL << 30;  // what the bomb inflates to
[[nodiscard]] std::string bad_payload_event(BadPayload b, const LogSubscription& s);
// A gzip of `inflated_bytes` zeros, compressed a chunk at a time (never holding the inflated data).
[[nodiscard]] std::string gzip_zeros(std::uint64_t inflated_bytes);

// ---- Kinesis ----

struct KinesisRecord {
  std::string sequence_number;  // decimal
  std::string partition_key;
  std::string data;  // base64
  double arrival_s = 0;
};
[[nodiscard]] std::string kinesis_sequence_number(std::uint64_t n);
inline constexpr std::string_view kShardId = "shardId-000000000000";
[[nodiscard]] std::string kinesis_stream_arn(const FunctionSetup& forwarder);
// {"Records":[...]} as an event-source mapping hands a batch to the function.
[[nodiscard]] std::string kinesis_event(const std::vector<KinesisRecord>& records, const FunctionSetup& forwarder);

// How Lambda reads a ReportBatchItemFailures answer for a batch of `sequence_numbers`: nullopt is a complete
// success (no list, an empty or null one, an empty answer); an empty vector a complete failure (an empty,
// null or unknown itemIdentifier, an unreadable answer); else the failed sequence numbers.
[[nodiscard]] std::optional<std::vector<std::string>> batch_item_failures(
    std::string_view body, const std::vector<std::string>& sequence_numbers);

// ---- on-failure destinations ----

struct FailedInvocation {
  RequestId request_id;  // of the last attempt
  int attempts = 1;
  std::string function_error = "Unhandled";
  std::string response_payload;  // the last error body (JSON, or text)
};
// An asynchronous invocation's record for an on-failure destination; `event` is the original event.
[[nodiscard]] boost::json::object async_failure_record(const FunctionSetup& forwarder, const FailedInvocation& f,
                                                       std::string_view event, EpochMs now);
// An event-source mapping's record for a Kinesis batch whose retries are exhausted.
[[nodiscard]] boost::json::object kinesis_failure_record(const FunctionSetup& forwarder, const FailedInvocation& f,
                                                         const std::vector<KinesisRecord>& records, EpochMs now);

}  // namespace elk::emulator
