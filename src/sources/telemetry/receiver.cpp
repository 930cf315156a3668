#include "sources/telemetry/receiver.h"

#include "sources/telemetry/parse.h"

namespace elk::telemetry {

http::Response Receiver::handle(const http::Request& request, EpochMs now, SteadyTime steady_now) {
  if (request.method != "POST" && request.method != "PUT")
    return http::make_response(405, R"({"errorMessage":"telemetry is delivered with POST"})");
  auto batch = parse_batch(request.body, now);
  if (!batch) {
    ++stats_.bad_bodies;
    if (bad_body_report_.allow(steady_now)) {
      const auto held = bad_body_report_.take_suppressed();
      log_.warn("ignored a telemetry delivery of " + std::to_string(request.body.size()) +
                " bytes: " + batch.error().message + "; " + std::to_string(stats_.bad_bodies) +
                " such deliveries so far" + (held ? " (" + std::to_string(held) + " not reported)" : std::string()));
    }
    return http::make_response(200, "OK", "text/plain");
  }
  ++stats_.deliveries;
  if (batch->repaired && repair_report_.allow(steady_now)) {
    const auto held = repair_report_.take_suppressed();
    log_.warn("repaired " + std::to_string(batch->repaired) + " of the " + std::to_string(batch->events.size()) +
              " records of a telemetry delivery (invalid UTF-8 or lone surrogates replaced by U+FFFD, nesting past 32 "
              "levels kept as JSON text); " +
              std::to_string(stats_.repaired_items + batch->repaired) + " repaired so far" +
              (held ? " (" + std::to_string(held) + " deliveries not reported)" : std::string()));
  }
  stats_.repaired_items += batch->repaired;
  stats_.skipped_items += batch->skipped;
  stats_.events += batch->events.size();
  if (!batch->events.empty()) sink_(std::move(batch->events));
  return http::make_response(200, "OK", "text/plain");
}

void Receiver::refused(int status, std::string_view why, SteadyTime steady_now) {
  ++stats_.refused;
  if (bad_body_report_.allow(steady_now))
    log_.warn("refused a telemetry delivery with " + std::to_string(status) + ": " + std::string(why) + "; " +
              std::to_string(stats_.refused) + " refused so far");
}

}  // namespace elk::telemetry
