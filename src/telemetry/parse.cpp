#include "telemetry/parse.h"

#include <boost/json/parse.hpp>

#include "core/time.h"

namespace elk::telemetry {

Result<Batch> parse_batch(std::string_view body, EpochMs received) {
  boost::system::error_code ec;
  boost::json::value doc = boost::json::parse(body, ec);
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
    Event ev;
    ev.type = std::string(type->get_string());
    if (const auto* t = obj->if_contains("time"); t && t->is_string()) ev.time = std::string(t->get_string());
    const auto parsed = parse_iso8601(ev.time);
    ev.time_ms = parsed ? *parsed : received;
    if (ev.time.empty() || !parsed) ev.time = format_iso8601_ms(received);
    if (auto* r = obj->if_contains("record")) ev.record = std::move(*r);
    out.events.push_back(std::move(ev));
  }
  return out;
}

}  // namespace elk::telemetry
