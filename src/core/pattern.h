// A user-supplied regular expression (include / exclude / redact), matched in time linear in the text: RE2
// syntax, no backreferences or lookaround, so that no pattern and no line can crash or stall the extension
// (std::regex recursed once per character and took seconds on a 20 KB line).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"

namespace re2 {
class RE2;
}

namespace elk {

class Pattern {
 public:
  // The error says why RE2 refused it (e.g. "invalid perl operator: (?<").
  [[nodiscard]] static Result<Pattern> compile(std::string_view text);

  // Whether it matches anywhere in `text`.
  [[nodiscard]] bool search(std::string_view text) const;
  // Replaces every match (leftmost, non-overlapping) with `with`, taken literally; returns how many.
  std::size_t replace_all(std::string& text, std::string_view with) const;

 private:
  explicit Pattern(std::shared_ptr<const re2::RE2> re) : re_(std::move(re)) {}
  std::shared_ptr<const re2::RE2> re_;  // immutable, shared by copies
};

}  // namespace elk
