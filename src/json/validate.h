// Whether JSON text is what Boost.JSON's DOM parser takes, without building anything: its own parser, with the
// limits of its DOM (sizes of strings, arrays and objects) and a nesting limit, so that what these accept is
// exactly what json::parse with that max_depth accepts.
#pragma once

#include <cstddef>
#include <string_view>

namespace elk::json_text {

// Past the JSON value at p and the whitespace after it (whitespace before it allowed) when it is valid and nested
// at most max_depth deep; nullptr when it is not (or is cut short by `end`). What follows is not looked at.
[[nodiscard]] const char* skip_value(const char* p, const char* end, std::size_t max_depth);

// Whether `text` is one JSON value, whitespace around it allowed, valid and nested at most max_depth deep.
[[nodiscard]] bool valid_value(std::string_view text, std::size_t max_depth);

}  // namespace elk::json_text
