// One telemetry record as Lambda delivers it: {"time": ..., "type": ..., "record": ...}.
#pragma once

#include <boost/json/value.hpp>
#include <string>

#include "core/types.h"

namespace elk::telemetry {

struct Event {
  std::string type;           // "function", "extension", "platform.report", ...
  std::string time;           // as sent: ISO 8601, milliseconds, UTC
  EpochMs time_ms;            // parsed `time`; the receive time when `time` is missing or malformed
  boost::json::value record;  // a string (text log format, Logs API) or an object
};

}  // namespace elk::telemetry
