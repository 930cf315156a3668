// Standard base64 (RFC 4648, with padding): encoding for HTTP Basic and similar headers, strict decoding for
// what AWS sends base64-encoded (CloudWatch Logs subscription data, Kinesis records).
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <optional>
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

// The bytes of `in`, or nullopt when it is not base64: a length that is not a multiple of 4, a character outside
// the alphabet (whitespace included), padding anywhere but at the end, or non-zero bits after the last byte.
[[nodiscard]] inline std::optional<std::string> decode_base64(std::string_view in) {
  static constexpr auto table = [] {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i)
      t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
  }();
  if (in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (!in.empty() && in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  std::string out;
  out.resize(in.size() / 4 * 3 - pad);
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const bool padding = last && j >= 4 - pad;
      const auto d = padding ? std::int8_t{0} : table[static_cast<unsigned char>(in[i + j])];
      if (d < 0) return std::nullopt;
      v = v << 6 | static_cast<std::uint32_t>(d);
    }
    const std::size_t n = last ? 3 - pad : 3;
    if (last && ((pad == 1 && (v & 0xFF) != 0) || (pad == 2 && (v & 0xFFFF) != 0))) return std::nullopt;
    for (std::size_t j = 0; j < n; ++j) out[o++] = static_cast<char>(v >> (16 - 8 * j) & 0xFF);
  }
  return out;
}

}  // namespace elk
