#include "core/pattern.h"

#include <re2/re2.h>

namespace elk {

Result<Pattern> Pattern::compile(std::string_view text) {
  RE2::Options options;
  options.set_log_errors(false);  // the error is returned, not printed by RE2
  // Text that is not valid UTF-8 still matches byte for byte where it can; it never fails the match.
  auto re = std::make_shared<const RE2>(re2::StringPiece(text.data(), text.size()), options);
  if (!re->ok()) return fail(re->error());
  return Pattern(std::move(re));
}

bool Pattern::search(std::string_view text) const {
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

std::size_t Pattern::replace_all(std::string& text, std::string_view with) const {
  // RE2's rewrite string treats backslashes specially: escape them so that `with` is literal (a copy only
  // then: this runs for every message when a redaction is set).
  if (with.find('\\') == std::string_view::npos)
    return static_cast<std::size_t>(RE2::GlobalReplace(&text, *re_, re2::StringPiece(with.data(), with.size())));
  std::string rewrite;
  for (const char c : with) {
    if (c == '\\') rewrite += '\\';
    rewrite += c;
  }
  return static_cast<std::size_t>(RE2::GlobalReplace(&text, *re_, rewrite));
}

}  // namespace elk
