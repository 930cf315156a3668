// The listener's request logic: Lambda POSTs a JSON array of telemetry records; we hand the events
// to a sink and answer 200 at once. A body that is not an array is still answered 200 — otherwise
// Lambda resends it forever — and counted, and reported at most once a minute; in an array, records that had
// to be repaired and items that could not be read are counted (and the repairs reported once a minute), and
// every other record kept.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/log.h"
#include "core/time.h"
#include "http/message.h"
#include "pipeline/record.h"

namespace elk::telemetry {

struct ReceiverStats {
  std::uint64_t deliveries = 0;      // bodies accepted
  std::uint64_t events = 0;          // records handed on
  std::uint64_t bad_bodies = 0;      // bodies that were not a JSON array
  std::uint64_t skipped_items = 0;   // array items that were not records (or not readable JSON even repaired)
  std::uint64_t repaired_items = 0;  // records kept after repair (invalid UTF-8, lone surrogates, deep nesting)
  std::uint64_t refused = 0;         // bodies refused before parsing (413: over the size limit)
};

class Receiver {
 public:
  using Sink = std::function<void(std::vector<pipeline::Record>&&)>;

  Receiver(Sink sink, const Logger& log) : sink_(std::move(sink)), log_(log) {}

  [[nodiscard]] http::Response handle(const http::Request& request, EpochMs now, SteadyTime steady_now);
  // The server refused a body before handle() saw it.
  void refused(int status, std::string_view why, SteadyTime steady_now);

  [[nodiscard]] const ReceiverStats& stats() const { return stats_; }

  // The listener's body limit for a given subscription maxBytes: Lambda sends up to
  // 2 * maxBytes plus metadata; we allow twice that before answering 413.
  [[nodiscard]] static std::size_t body_limit(std::int64_t max_bytes) {
    return static_cast<std::size_t>(max_bytes) * 4 + 1024uz * 1024;
  }

 private:
  Sink sink_;
  const Logger& log_;
  ReceiverStats stats_;
  RateLimit bad_body_report_{std::chrono::minutes(1)};
  RateLimit repair_report_{std::chrono::minutes(1)};
};

}  // namespace elk::telemetry
