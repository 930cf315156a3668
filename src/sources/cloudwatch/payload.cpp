#include "sources/cloudwatch/payload.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "core/base64.h"
#include "core/gzip.h"

namespace elk::cloudwatch {
namespace {

namespace json = boost::json;

std::string_view text_of(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_string()) return v->get_string();
  return {};
}

}  // namespace

Result<Payload> parse_payload(std::string_view text) {
  json::monotonic_resource memory;
  boost::system::error_code ec;
  const auto v = json::parse(text, ec, &memory);
  if (ec) return fail("the payload is not JSON (" + ec.message() + ")");
  if (!v.is_object()) return fail("the payload is not a JSON object");
  const auto& o = v.get_object();
  Payload p;
  const auto type = text_of(o, "messageType");
  if (type == "DATA_MESSAGE")
    p.type = Payload::Type::data;
  else if (type == "CONTROL_MESSAGE")
    p.type = Payload::Type::control;
  else
    return fail("the payload's messageType is '" + std::string(type.substr(0, 64)) +
                "', not DATA_MESSAGE or CONTROL_MESSAGE");
  p.owner = text_of(o, "owner");
  p.log_group = text_of(o, "logGroup");
  p.log_stream = text_of(o, "logStream");
  p.inflated_bytes = text.size();
  if (const auto* f = o.if_contains("subscriptionFilters"); f != nullptr && f->is_array())
    for (const auto& name : f->get_array())
      if (name.is_string()) p.subscription_filters.emplace_back(name.get_string());
  const auto* events = o.if_contains("logEvents");
  if (events == nullptr || !events->is_array()) {
    if (p.type == Payload::Type::control) return p;
    return fail("the payload has no logEvents array");
  }
  if (p.type == Payload::Type::data && (p.log_group.empty() || p.log_stream.empty()))
    return fail("the payload names no logGroup or logStream");
  p.events.reserve(events->get_array().size());
  for (const auto& e : events->get_array()) {
    const auto* item = e.if_object();
    const auto* id = item != nullptr ? item->if_contains("id") : nullptr;
    const auto* ts = item != nullptr ? item->if_contains("timestamp") : nullptr;
    const auto* message = item != nullptr ? item->if_contains("message") : nullptr;
    if (id == nullptr || !id->is_string() || ts == nullptr || !ts->is_number() || message == nullptr ||
        !message->is_string()) {
      ++p.malformed_events;
      continue;
    }
    std::int64_t ms = 0;
    if (ts->is_int64())
      ms = ts->get_int64();
    else if (ts->is_uint64())
      ms = static_cast<std::int64_t>(std::min<std::uint64_t>(ts->get_uint64(), INT64_MAX));
    else if (const double d = ts->get_double(); d > -9e15 && d < 9e15)
      ms = static_cast<std::int64_t>(d);
    p.events.push_back(LogEvent{std::string(id->get_string()), ms, std::string(message->get_string())});
  }
  return p;
}

Result<Payload> decode_payload(std::string_view base64_data, std::size_t max_inflated_bytes) {
  const auto compressed = decode_base64(base64_data);
  if (!compressed) return fail("the data is not base64 (" + std::to_string(base64_data.size()) + " characters)");
  auto inflated = gunzip(*compressed, max_inflated_bytes);
  if (!inflated) return fail("the data (" + std::to_string(compressed->size()) + " bytes) " + inflated.error().message);
  return parse_payload(*inflated);
}

Result<Event> parse_event(std::string_view body) {
  json::monotonic_resource memory;
  boost::system::error_code ec;
  const auto v = json::parse(body, ec, &memory);
  if (ec) return fail("the event is not JSON (" + ec.message() + ")");
  const auto* o = v.if_object();
  if (o == nullptr) return fail("the event is not a JSON object");
  Event event;
  if (const auto* awslogs = o->if_contains("awslogs")) {
    const auto* a = awslogs->if_object();
    const auto* data = a != nullptr ? a->if_contains("data") : nullptr;
    if (data == nullptr || !data->is_string()) return fail("the event's awslogs has no data string");
    event.type = Event::Type::subscription;
    event.data = data->get_string();
    return event;
  }
  const auto* records = o->if_contains("Records");
  if (records == nullptr || !records->is_array())
    return fail("the event is neither a CloudWatch Logs subscription event (awslogs) nor a Kinesis batch (Records)");
  event.type = Event::Type::kinesis;
  std::size_t index = 0;
  for (const auto& r : records->get_array()) {
    const auto* item = r.if_object();
    const auto* k = item != nullptr ? item->if_contains("kinesis") : nullptr;
    const auto* kinesis = k != nullptr ? k->if_object() : nullptr;
    const std::string_view data = kinesis != nullptr ? text_of(*kinesis, "data") : std::string_view();
    const std::string_view sequence = kinesis != nullptr ? text_of(*kinesis, "sequenceNumber") : std::string_view();
    if (sequence.empty())
      return fail("Records[" + std::to_string(index) + "] has no kinesis.sequenceNumber: not a Kinesis batch");
    event.records.push_back(KinesisRecord{std::string(sequence), std::string(data)});
    ++index;
  }
  return event;
}

}  // namespace elk::cloudwatch
