// gzip (RFC 1952) compression, for request bodies (S3 objects, bulk requests).
#pragma once

#include <string>
#include <string_view>

namespace elk {

[[nodiscard]] std::string gzip(std::string_view data);

}  // namespace elk
