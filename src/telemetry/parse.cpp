#include "telemetry/parse.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include "core/time.h"

namespace elk::telemetry {

Result<Batch> parse_batch(std::string_view body, EpochMs received) {
  boost::system::error_code ec;
  // One arena per delivery: the records' strings and objects are freed together, with the batch.
  auto arena = boost::json::make_shared_resource<boost::json::monotonic_resource>();
  boost::json::value doc = boost::json::parse(body, ec, arena);
  if (ec) return fail("telemetry body is not JSON (" + ec.message() + ")");
  if (!doc.is_array()) return fail("telemetry body is JSON but not an array");

  Batch out;
  auto& items = doc.as_array();
  out.events.reserve(items.size());
  for (auto& item : items) {
    auto* obj = item.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
      ++out.skipped;
      continue;
    }
    std::string time;
    if (const auto* t = obj->if_contains("time"); t && t->is_string()) time = std::string(t->get_string());
    const auto parsed = parse_iso8601(time);
    if (!parsed) time = format_iso8601_ms(received);
    // Move-constructed, so that the record keeps living in the arena instead of being copied out.
    auto* r = obj->if_contains("record");
    out.events.push_back(Event{std::string(type->get_string()), std::move(time), parsed ? *parsed : received,
                               r ? boost::json::value(std::move(*r)) : boost::json::value(nullptr)});
  }
  return out;
}

}  // namespace elk::telemetry
