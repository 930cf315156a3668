// Byte-level helpers for JSON string text, shared by the readers (json/string_scan.h and what uses it) and the
// document writer (pipeline/json_writer.cpp): where the next byte that is not plain text is, and whether
// non-ASCII bytes form well-formed UTF-8. Header-only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace elk::json_text {

// Bytes that stand for themselves inside a JSON string: ASCII from 0x20, but '"' and '\\'.
inline constexpr auto kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

inline bool plain(char c) {
  return kPlain[static_cast<unsigned char>(c)];
}

#if defined(__SSE2__)
// The bytes of a 16-byte block that are not plain, as a bit mask (bit i: byte i); 0 when all are plain.
inline int special_mask(__m128i v) {
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  // A signed comparison: bytes >= 0x80 are negative, so "< 0x20" catches control bytes and non-ASCII.
  const __m128i hits =
      _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)), _mm_cmplt_epi8(v, space));
  return _mm_movemask_epi8(hits);
}
#endif

// The first byte in [p, end) that is not plain: '"', '\\', a control character or a non-ASCII byte.
inline const char* find_special(const char* p, const char* end) {
#if defined(__SSE2__)
  while (end - p >= 16) {
    if (const int mask = special_mask(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))))
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p != end && plain(*p)) ++p;
  return p;
}

// The bytes of x (8 bytes, little-endian) that are not plain, as their high bits. The lowest bit set is the
// first such byte exactly: a borrow of the subtractions only marks bytes above a byte rightly marked.
inline std::uint64_t special_bytes(std::uint64_t x) {
  constexpr std::uint64_t ones = 0x0101010101010101, highs = 0x8080808080808080;
  const auto zero = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
  return (x & highs) | ((x - ones * 0x20) & ~x & highs) | zero(x ^ (ones * '"')) | zero(x ^ (ones * '\\'));
}

// Length of the well-formed UTF-8 sequence at p (p < end), 0 when there is none there: an ASCII byte, a
// stray continuation byte, an overlong form, a surrogate, a code point past U+10FFFF or a sequence cut
// short by `end`.
inline std::size_t utf8_sequence(const char* p, const char* end) {
  const auto b = [p](std::size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(p[i])); };
  const auto in = [&](std::size_t i, unsigned lo, unsigned hi) { return b(i) >= lo && b(i) <= hi; };
  const auto left = static_cast<std::size_t>(end - p);
  const unsigned c = b(0);
  if (c < 0xC2) return 0;
  if (c < 0xE0) return left >= 2 && in(1, 0x80, 0xBF) ? 2 : 0;
  if (c < 0xF0)
    return left >= 3 && in(1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF) && in(2, 0x80, 0xBF) ? 3 : 0;
  if (c < 0xF5)
    return left >= 4 && in(1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF) && in(2, 0x80, 0xBF) &&
                   in(3, 0x80, 0xBF)
               ? 4
               : 0;
  return 0;
}

}  // namespace elk::json_text
