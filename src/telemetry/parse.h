// Parsing of a Telemetry/Logs API delivery body: a JSON array of {time, type, record}.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "telemetry/event.h"

namespace elk::telemetry {

struct Batch {
  std::vector<Event> events;
  std::size_t skipped = 0;  // array items that were not {type: string, ...} objects
};

// An error when the body is not a JSON array at all. Items without a string `type` are skipped and
// counted; a missing `record` becomes null; a missing or malformed `time` takes `received`.
[[nodiscard]] Result<Batch> parse_batch(std::string_view body, EpochMs received);

}  // namespace elk::telemetry
