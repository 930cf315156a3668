// Reading JSON text by hand, at the byte level: the whitespace between tokens, and strings validated as Boost.JSON
// validates them (escapes, \u escapes with surrogates in pairs, well-formed UTF-8, no control characters) and
// unescaped, apart or in place. The readers of telemetry bodies and JSON values (json/value_reader.h) use them on
// every record: header-only and inline, so that they inline where they are used.
#pragma once

#include <array>
#include <boost/json/string.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "json/text.h"

namespace elk::json_text {

// Boost.JSON's limit on the bytes of a string (a json::string cannot hold more).
inline constexpr std::size_t kMaxStringSize = boost::json::string::max_size();

// The bytes that JSON allows between tokens.
inline bool is_ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

// The value of 4 hex digits at p, -1 when they are not that (or cut short).
inline int hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

// Writes code point cp as UTF-8 at out; returns the end.
inline char* put_utf8(char* out, std::uint32_t cp) {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xC0 | (cp >> 6));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xE0 | (cp >> 12));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | (cp >> 18));
    *out++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// The code point of the \u escape at p (its backslash), a surrogate pair read as one, validated as Boost.JSON
// does (hex digits, a leading surrogate followed by a trailing one): -1 when it is not valid, else p is moved
// past it.
inline std::int32_t unicode_escape(const char*& p, const char* end) {
  const int cp = hex4(p + 2, end);
  if (cp < 0) return -1;
  const char* next = p + 6;
  if (cp >= 0xD800 && cp <= 0xDFFF) {
    if (cp > 0xDBFF) return -1;  // a trailing surrogate first
    if (end - next < 2 || next[0] != '\\' || next[1] != 'u') return -1;
    const int low = hex4(next + 2, end);
    if (low < 0xDC00 || low > 0xDFFF) return -1;
    next += 6;
    p = next;
    return 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  p = next;
  return cp;
}

// The character a one-letter escape stands for ("\n" -> '\n'); 0 when the letter makes no escape ('u' is
// handled apart).
inline constexpr auto kEscape = [] {
  std::array<char, 256> t{};
  t['"'] = '"', t['\\'] = '\\', t['/'] = '/', t['b'] = '\b', t['f'] = '\f', t['n'] = '\n', t['r'] = '\r';
  t['t'] = '\t';
  return t;
}();

struct ScannedString {
  const char* next = nullptr;  // past the closing quote; nullptr when the string is not valid JSON
  std::string_view raw;        // the text between the quotes, as it is in the body
  bool escaped = false;        // raw holds escapes (then unescape() gives the text)
};

// The JSON string whose opening quote is at p, validated as Boost.JSON does: escapes, \u escapes with
// surrogates in pairs, well-formed UTF-8, no control characters, at most kMaxStringSize bytes.
inline ScannedString scan_string(const char* p, const char* end) {
  ScannedString s;
  const char* const begin = ++p;
  for (;;) {
    p = find_special(p, end);
    if (p == end) return s;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      s.raw = std::string_view(begin, static_cast<std::size_t>(p - begin));
      // Past Boost.JSON's limit a json::string cannot hold it: the DOM parse says what then.
      if (s.raw.size() <= kMaxStringSize) s.next = p + 1;
      return s;
    }
    if (c >= 0x80) {
      const auto n = utf8_sequence(p, end);
      if (n == 0) return s;
      p += n;
      continue;
    }
    if (c != '\\' || end - p < 2) return s;  // a control character, or cut short
    s.escaped = true;
    if (p[1] != 'u') {
      if (kEscape[static_cast<unsigned char>(p[1])] == 0) return s;
      p += 2;
      continue;
    }
    if (unicode_escape(p, end) < 0) return s;
  }
}

// The first backslash in [p, end), or end.
inline const char* find_backslash(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i backslash = _mm_set1_epi8('\\');
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    if (const int mask = _mm_movemask_epi8(_mm_cmpeq_epi8(v, backslash)))
      return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p != end && *p != '\\') ++p;
  return p;
}

// The text of a string that scan_string found valid, written at out (room for raw.size() bytes: the text
// is never longer than its escaped form); returns its length.
inline std::size_t unescape(std::string_view raw, char* out) {
  const char* p = raw.data();
  const char* const end = p + raw.size();
  char* const start = out;
  for (;;) {
    const char* q = find_backslash(p, end);
    std::memcpy(out, p, static_cast<std::size_t>(q - p));
    out += q - p;
    if (q == end) return static_cast<std::size_t>(out - start);
    if (q[1] != 'u') {
      *out++ = kEscape[static_cast<unsigned char>(q[1])];
      p = q + 2;
      continue;
    }
    p = q;
    out = put_utf8(out, static_cast<std::uint32_t>(unicode_escape(p, end)));  // valid: scan_string checked it
  }
}

// The JSON string whose opening quote is at p, validated as scan_string validates it, and its text written at
// `out`, the copy's place of its first byte (p + 1), in the same pass: past the closing quote, nullptr when it is
// not valid; `written` the text's length. Until the first escape the copy holds the text already; after it,
// the text is written behind where it was read (an escape is longer than what it stands for), 16 bytes at a
// time: the bytes that this writes past the string, up to 16 after its closing quote, are written back.
[[gnu::noinline]] inline const char* read_string_in_place(const char* p, const char* end, char* out,
                                                          std::size_t& written) {
  const char* const begin = ++p;
  char* const out_begin = out;
  bool moved = false;  // text written before where it was read
  for (;;) {
    if (!moved) {
      const char* q = find_special(p, end);
      out += q - p;
      p = q;
    } else {
#if defined(__SSE2__)
      while (end - p >= 16) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out), v);
        if (const int mask = special_mask(v)) {
          const auto k = __builtin_ctz(static_cast<unsigned>(mask));
          p += k, out += k;
          goto special;
        }
        p += 16, out += 16;
      }
#endif
      while (p != end && plain(*p)) *out++ = *p++;
    }
#if defined(__SSE2__)
  special:  // only the SIMD loop jumps here (an unused label is an error where there is no SSE2, e.g. arm64)
#endif
    if (p == end) return nullptr;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      if (static_cast<std::size_t>(p - begin) > kMaxStringSize) return nullptr;  // as scan_string
      written = static_cast<std::size_t>(out - out_begin);
      if (moved) {
        // The bytes after the string, as they were.
        char* const copy = out_begin + (p - begin);
        if (end - p >= 16)
          std::memcpy(copy, p, 16);
        else
          std::memcpy(copy, p, static_cast<std::size_t>(end - p));
      }
      return p + 1;
    }
    if (c >= 0x80) {
      const auto n = utf8_sequence(p, end);
      if (n == 0) return nullptr;
      if (moved) std::memcpy(out, p, n);
      out += n;
      p += n;
      continue;
    }
    if (c != '\\' || end - p < 2) return nullptr;  // a control character, or cut short
    moved = true;
    if (p[1] != 'u') {
      const char e = kEscape[static_cast<unsigned char>(p[1])];
      if (e == 0) return nullptr;
      *out++ = e;
      p += 2;
      continue;
    }
    const std::int32_t code = unicode_escape(p, end);
    if (code < 0) return nullptr;
    out = put_utf8(out, static_cast<std::uint32_t>(code));
  }
}

}  // namespace elk::json_text
