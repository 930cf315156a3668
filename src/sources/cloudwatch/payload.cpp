#include "sources/cloudwatch/payload.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>

#include "core/base64.h"
#include "core/gzip.h"
#include "json/tape.h"
#include "json/tape_builder.h"
#include "json/value_reader.h"

namespace elk::cloudwatch {
namespace {

namespace json = boost::json;

constexpr std::size_t max_depth = 64;  // the payload's own nesting is 3

std::string_view text_of(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_string()) return v->get_string();
  return {};
}

}  // namespace

Result<Payload> parse_payload(std::string_view text) {
  // Read into a tape (json/tape.h), by hand for the usual forms, else by Boost.JSON's parser: the events'
  // texts are views into the storage's copy of the text, which the payload keeps.
  auto storage = std::make_shared<json_tape::RecordStorage>(0);
  // Room for the nodes at once (an event is an object of three members: 7 nodes), not grown by doubling: a
  // payload of 20,000 events has 140,000 of them.
  storage->nodes.reserve(7 * static_cast<std::size_t>(std::count(text.begin(), text.end(), '{')) + 16);
  const json_tape::BodyCopy body{text.data(), text.data() + text.size(), storage->keep_copy(text)};
  json_tape::UniqueKeys unique_keys;
  const char* p = text.data();
  const char* const end = text.data() + text.size();
  while (p != end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  if (p == end) return fail("the payload is not JSON (empty)");
  const char* next = nullptr;
  if (*p == '"') {
    next = json_tape::string_node(p, body, *storage);
  } else {
    const auto mark = storage->mark();
    next = json_tape::ValueReader(body, *storage, unique_keys).read(p, end);
    if (next == nullptr) {
      storage->rollback(mark);
      next = json_tape::TapeBuilder(body, *storage, unique_keys, max_depth).read(p, end);
    }
  }
  while (next != nullptr && next != end && (*next == ' ' || *next == '\t' || *next == '\n' || *next == '\r')) ++next;
  if (next == nullptr || next != end || storage->nodes.empty())
    return fail(next == nullptr ? "the payload is not JSON" : "the payload is not JSON (text after its value)");
  const json_tape::JsonView o(storage->nodes.data());
  if (!o.is_object()) return fail("the payload is not a JSON object");
  Payload pl;
  const auto type = o.find("messageType").string();
  if (type == "DATA_MESSAGE")
    pl.type = Payload::Type::data;
  else if (type == "CONTROL_MESSAGE")
    pl.type = Payload::Type::control;
  else
    return fail("the payload's messageType is '" + std::string(type.substr(0, 64)) +
                "', not DATA_MESSAGE or CONTROL_MESSAGE");
  pl.owner = o.find("owner").string();
  pl.log_group = o.find("logGroup").string();
  pl.log_stream = o.find("logStream").string();
  pl.inflated_bytes = text.size();
  for (const auto name : o.find("subscriptionFilters").elements())
    if (name.is_string()) pl.subscription_filters.emplace_back(name.string());
  const auto events = o.find("logEvents");
  if (!events.is_array()) {
    if (pl.type == Payload::Type::control) return pl;
    return fail("the payload has no logEvents array");
  }
  if (pl.type == Payload::Type::data && (pl.log_group.empty() || pl.log_stream.empty()))
    return fail("the payload names no logGroup or logStream");
  pl.events.reserve(events.size());
  for (const auto e : events.elements()) {
    const auto id = e.find("id");
    const auto message = e.find("message");
    const auto ts = e.find("timestamp");
    const auto* n = ts.node();
    if (!id.is_string() || !message.is_string() || n == nullptr ||
        (n->kind != json_tape::JsonNode::Kind::int64 && n->kind != json_tape::JsonNode::Kind::uint64 &&
         n->kind != json_tape::JsonNode::Kind::double_)) {
      ++pl.malformed_events;
      continue;
    }
    std::int64_t ms = 0;
    if (n->kind == json_tape::JsonNode::Kind::int64)
      ms = n->int64;
    else if (n->kind == json_tape::JsonNode::Kind::uint64)
      ms = static_cast<std::int64_t>(std::min<std::uint64_t>(n->uint64, INT64_MAX));
    else if (n->number > -9e15 && n->number < 9e15)
      ms = static_cast<std::int64_t>(n->number);
    pl.events.push_back(LogEvent{id.string(), ms, message.string()});
  }
  pl.document = std::move(storage);
  return pl;
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
