// What CloudWatch Logs sends a subscribed Lambda function, decoded: the invocation's event (a subscription
// event {"awslogs":{"data":...}}, or a Kinesis event-source batch {"Records":[...]} whose items carry the same
// data), and each payload inside it: base64 of gzip of {"messageType","owner","logGroup","logStream",
// "subscriptionFilters","logEvents":[{"id","timestamp","message"}]} (PROTOCOLS.md §9). Bounded: a payload
// inflates to at most max_inflated_bytes, and anything malformed is an error naming what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace elk::cloudwatch {

// Far above what CloudWatch Logs sends (a PutLogEvents batch is at most 1 MiB of messages, and JSON escaping
// can make that 6 MiB), far below what a gzip bomb would take.
inline constexpr std::size_t default_max_inflated_bytes = 32uz * 1024 * 1024;

// Its texts are views into the payload's parsed JSON (Payload::document), which records made of it share.
struct LogEvent {
  std::string_view id;         // CloudWatch Logs' event id (56 decimal digits), unique within the log group
  std::int64_t timestamp = 0;  // Unix ms, as the event was put
  std::string_view message;
};

struct Payload {
  enum class Type : std::uint8_t { data, control };  // DATA_MESSAGE, CONTROL_MESSAGE (a reachability check)
  Type type = Type::data;
  std::string owner;  // the account id
  std::string log_group, log_stream;
  std::vector<std::string> subscription_filters;
  std::vector<LogEvent> events;
  std::size_t malformed_events = 0;  // items of logEvents without a string id and message and a numeric timestamp
  std::size_t inflated_bytes = 0;
  // What the events' texts point into: the parsed JSON, kept while a record of the payload lives.
  std::shared_ptr<const void> document;
};

// One payload from its base64 text.
[[nodiscard]] Result<Payload> decode_payload(std::string_view base64_data,
                                             std::size_t max_inflated_bytes = default_max_inflated_bytes);
// The same, from its JSON (already inflated).
[[nodiscard]] Result<Payload> parse_payload(std::string_view json);

struct KinesisRecord {
  std::string sequence_number;  // what a batchItemFailures answer names
  std::string data;             // base64, as sent: decoded one at a time (decode_payload)
};

// The event of one invocation.
struct Event {
  enum class Type : std::uint8_t { subscription, kinesis };
  Type type = Type::subscription;
  std::string data;                    // subscription: awslogs.data (base64)
  std::vector<KinesisRecord> records;  // kinesis: Records[], in order
};

// Which event it is, and its data; an error when it is neither (not JSON, no awslogs.data, a Records item
// without kinesis.data or sequenceNumber).
[[nodiscard]] Result<Event> parse_event(std::string_view body);

}  // namespace elk::cloudwatch
