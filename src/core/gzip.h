// gzip (RFC 1952): compression for request bodies (S3 objects, bulk requests), and bounded decompression for
// what arrives compressed (CloudWatch Logs subscription data: a 1 MB payload may inflate many times over).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace elk {

[[nodiscard]] std::string gzip(std::string_view data);

// The decompressed bytes of `data`, one gzip member or several one after the other. Fails, saying why, on
// data that is not gzip, is corrupt or cut short, or inflates past `max_bytes` (then it stops there: the memory
// taken is bounded by `max_bytes`, whatever the input).
[[nodiscard]] Result<std::string> gunzip(std::string_view data, std::size_t max_bytes);

}  // namespace elk
