// libFuzzer target: a Telemetry/Logs API delivery body through telemetry::parse_batch, then every string
// record (text-format function/extension lines, platform.fault) through the log-line parsers, as the
// pipeline does. No crash (ASan, UBSan), and the parsers' views stay inside the record.
// Differential: the streaming reader must give exactly what Boost.JSON's DOM parse of the whole body gives
// (the same verdict; the same events, records serialized), and read by itself every body the DOM accepts;
// and each record's nodes must hold what the DOM's value holds. A body the DOM refuses is read item by item
// by parse_batch (an error only when it is not an array).
// Mixed good and bad: the input's bytes made into a record (as a string, and nested as deep as its first byte
// says) between two good records: the good ones always survive as they were, and the bad one is kept.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "pipeline/log_line.h"
#include "pipeline/platform_line.h"
#include "sources/telemetry/parse.h"
#include "sources/telemetry/salvage.h"

namespace {

using elk::fuzz::check;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool same_events(const elk::telemetry::Delivery& a, const elk::telemetry::Delivery& b) {
  if (a.skipped != b.skipped || a.events.size() != b.events.size()) return false;
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    const auto &x = a.events[i], &y = b.events[i];
    const auto xr = x.body.to_value(), yr = y.body.to_value();
    if (x.type != y.type || x.time != y.time || x.time_ms != y.time_ms || xr != yr ||
        boost::json::serialize(xr) != boost::json::serialize(yr))
      return false;
  }
  return true;
}

// The input as the text of a JSON string that closes where it should: quotes dropped, and a backslash kept
// only before 'u' (so that lone surrogates and bad \u escapes come through), other bytes as they are.
std::string string_text(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (c == '"') continue;
    if (c == '\\' && !(i + 1 < bytes.size() && bytes[i + 1] == 'u')) continue;
    out += c;
  }
  return out;
}

void mixed(std::string_view input) {
  const std::string good1 = R"({"time":"2024-05-02T11:00:00.102Z","type":"function","record":"first good"})";
  const std::string good2 =
      R"({"time":"2024-05-02T11:00:00.104Z","type":"function","record":{"message":"second good"}})";
  const std::size_t depth = input.empty() ? 0 : static_cast<unsigned char>(input[0]) % 48;
  const std::string text = "\"" + string_text(input) + "\"";
  std::string record = std::string(depth, '[') + text + std::string(depth, ']');
  const std::string bad = R"({"time":"2024-05-02T11:00:00.103Z","type":"function","record":)" + record + "}";
  const auto batch = elk::telemetry::parse_batch("[" + good1 + "," + bad + "," + good2 + "]", elk::EpochMs{0});
  check(batch.has_value(), "a body of three items reads");
  check(batch->events.size() == 3, "the good records and the bad one are kept");
  check(batch->events[0].body.is_string() && batch->events[0].body.string() == "first good", "first good kept");
  const auto second = batch->events[2].body.to_value();
  check(second.is_object() && second.as_object().size() == 1 && second.at("message") == "second good",
        "second good kept");
  check(batch->events[1].time == "2024-05-02T11:00:00.103Z", "the bad one keeps its time");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto batch = elk::telemetry::parse_batch(body, elk::EpochMs{0});
  const auto dom = elk::telemetry::detail::parse_batch_dom(body, elk::EpochMs{0});
  const auto streamed = elk::telemetry::detail::read_batch_streaming(body, elk::EpochMs{0});
  check(streamed.has_value() == dom.has_value(), "the streaming reader's verdict is the DOM parse's");
  mixed(body);
  if (!dom) {
    if (!batch) {
      check(batch.error().message == dom.error().message, "the error message is the DOM parse's");
      check(!elk::telemetry::detail::salvage_items(body), "an array is read item by item");
    } else {
      for (const auto& event : batch->events) check(!boost::json::serialize(event.body.to_value()).empty(), "a record");
    }
    return 0;
  }
  check(batch.has_value(), "parse_batch reads what the DOM parse reads");
  check(same_events(*batch, *dom), "parse_batch's events are the DOM parse's");
  check(same_events(*streamed, *dom), "the streaming reader's events are the DOM parse's");
  // The records as Boost.JSON holds them: each event's nodes give the same value, members in the same order.
  const auto items = boost::json::parse(body).as_array();
  std::size_t next = 0;
  for (const auto& item : items) {
    const auto* o = item.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) continue;
    const auto* r = o->if_contains("record");
    const auto record = r ? *r : boost::json::value(nullptr);
    check(next < batch->events.size(), "an event per item with a string type");
    const auto got = batch->events[next++].body.to_value();
    check(got == record && boost::json::serialize(got) == boost::json::serialize(record),
          "a record's nodes hold the DOM's value");
  }
  for (const auto& event : batch->events) {
    check(!event.time.empty(), "time is set (from the body or the receive time)");
    if (!event.body.is_string()) continue;
    const std::string_view text = event.body.string();
    const auto line = elk::pipeline::parse_log_line(text);
    check(inside(line.message, text), "message inside record");
    check(inside(line.request_id, text), "request id inside record");
    if (const auto platform = elk::pipeline::parse_platform_line(text))
      check(inside(platform->request_id, text), "platform request id inside record");
  }
  return 0;
}
