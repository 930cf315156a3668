// One telemetry record as Lambda delivers it: {"time": ..., "type": ..., "record": ...}.
#pragma once

#include <boost/json/fwd.hpp>
#include <memory>
#include <string_view>

#include "core/types.h"
#include "telemetry/record.h"

namespace elk::telemetry {

// Its texts and its record are views into storage it shares with the other events of its delivery (so that
// reading a delivery allocates nothing per event); copies of an event share it too.
struct Event {
  std::string_view type;  // "function", "extension", "platform.report", ...
  std::string_view time;  // as sent: ISO 8601, milliseconds, UTC
  EpochMs time_ms;        // parsed `time`; the receive time when `time` is missing or malformed
  JsonView record;        // a string (text log format, Logs API), an object, ...; null when the item had none
  std::shared_ptr<const RecordStorage> storage;  // what type, time and record point into

  Event() = default;
  // An event with storage of its own (tests; events not read from a delivery): the texts and the record copied.
  Event(std::string_view type, std::string_view time, EpochMs time_ms, const boost::json::value& record);
};

// The record's "requestId" (platform.start, runtimeDone, report ...); "" when it has none.
[[nodiscard]] std::string_view request_id(const Event& event);

}  // namespace elk::telemetry
