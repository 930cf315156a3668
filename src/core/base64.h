// Standard base64 (RFC 4648, with padding), for HTTP Basic and similar headers.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace elk {

[[nodiscard]] inline std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace elk
