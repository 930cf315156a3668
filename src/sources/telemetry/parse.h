// Parsing of a Telemetry/Logs API delivery body: a JSON array of {time, type, record}.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "pipeline/record.h"

namespace elk::telemetry {

// One delivery of the Telemetry or Logs API, read: its events in order (buffer::Batch is what we send).
struct Delivery {
  std::vector<pipeline::Record> events;
  std::size_t skipped = 0;  // array items that were not {type: string, ...} objects, or not readable at all
  std::size_t repaired =
      0;  // items kept after repair (sources/telemetry/salvage.h): invalid text replaced, depth flattened
};

// An error when the body is not a JSON array at all. Items without a string `type` are skipped and
// counted; a missing `record` becomes null; a missing or malformed `time` takes `received`.
// A body that is valid JSON throughout reads exactly as Boost.JSON's DOM parse of the body gives (the body must be
// valid JSON throughout, nesting at most 32 deep; of duplicate keys, the last wins), but read in one streaming pass
// into one storage that the events share (json/tape.h): string records (text log lines) are unescaped straight
// into it, and only object (or other non-string) records go through Boost.JSON's parser, one record at a time, which
// appends their nodes to it without building a tree. Any other array is read item by item
// (detail::salvage_items): its valid items as they are, its invalid ones repaired or, past repair, counted in
// `skipped`; never the whole body lost for one item.
[[nodiscard]] Result<Delivery> parse_batch(std::string_view body, EpochMs received);

namespace detail {

// Boost.JSON's default nesting limit (32, the body's array included), as it applies to one item of the array.
inline constexpr std::size_t kMaxItemDepth = 31;

// Whether `text` is one JSON value (whitespace around it allowed) that Boost.JSON would take as an item of a
// body: valid throughout, nested at most kMaxItemDepth deep.
[[nodiscard]] bool valid_item(std::string_view text);

// The two halves of parse_batch, for tests and the fuzz target. The streaming reader alone: nullopt when it
// does not read the body (then parse_batch asks the DOM parse, for its verdict and its error message).
[[nodiscard]] std::optional<Delivery> read_batch_streaming(std::string_view body, EpochMs received);
// The reference: Boost.JSON's DOM parse of the whole body, then a walk over the items.
[[nodiscard]] Result<Delivery> parse_batch_dom(std::string_view body, EpochMs received);

}  // namespace detail

}  // namespace elk::telemetry
