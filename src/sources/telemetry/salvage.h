// Item-by-item recovery of a delivery body that is not valid JSON throughout: one bad record (invalid UTF-8,
// a lone surrogate escape such as JSON.stringify writes for a string cut inside an emoji, nesting deeper than
// the parser's limit) must not cost the thousands of good records beside it. Lambda gets 200 for every body,
// so whatever is not kept here is lost.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace elk::telemetry::detail {

struct Salvaged {
  std::string body;            // a valid JSON array: the items that were valid as they came, and the repaired ones
  std::size_t repaired = 0;    // items kept after a change (the changes are listed below)
  std::size_t unreadable = 0;  // items that could not be made valid JSON (broken structure): dropped
};

// The body's items, each checked alone: a valid one is kept as it is; an invalid one gets its strings repaired
// (repair_strings), then, if that is not enough, its containers past the nesting limit kept as their JSON text
// (flatten_deeper_than); if it is still not valid JSON it is dropped and counted. Items are found by their
// brackets and quotes, not by a parse, so a bad one does not hide the ones after it. nullopt when the body is
// not an array at all.
[[nodiscard]] std::optional<Salvaged> salvage_items(std::string_view body);

// Inside every JSON string of `text`: invalid UTF-8 bytes become U+FFFD; a \u escape of a lone surrogate
// becomes \ufffd; control characters are escaped; a backslash that does not start a valid escape stands for
// itself (\\). Text outside strings is left as it is.
[[nodiscard]] std::string repair_strings(std::string_view text);

// Every array or object of `text` that opens deeper than `max_depth` (`text` itself, if a container, is at 1)
// replaced by a JSON string holding its text.
[[nodiscard]] std::string flatten_deeper_than(std::string_view text, std::size_t max_depth);

}  // namespace elk::telemetry::detail
