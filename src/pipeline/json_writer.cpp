#include "pipeline/json_writer.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <type_traits>

#include "json/text.h"

namespace elk::pipeline {

void JsonBuffer::grow(std::size_t n) {
  const auto room = std::max<std::size_t>({used_ + n, 2 * storage_.size(), 256});
  storage_.resize(used_);  // only the written bytes move, should the string reallocate
  // The new room is not filled: its bytes are written (through extend) before anything reads them.
  storage_.resize_and_overwrite(room, [](char*, std::size_t r) { return r; });
}

namespace {

// What an escaped byte becomes: its escape, or (a byte that starts no well-formed UTF-8 sequence) U+FFFD.
// Writes at o (room for 6 bytes); returns the end.
char* escape_byte(char* o, unsigned char c) {
  static constexpr char hex[] = "0123456789abcdef";
  switch (c) {
    case '"':
      return std::memcpy(o, "\\\"", 2), o + 2;
    case '\\':
      return std::memcpy(o, "\\\\", 2), o + 2;
    case '\n':
      return std::memcpy(o, "\\n", 2), o + 2;
    case '\r':
      return std::memcpy(o, "\\r", 2), o + 2;
    case '\t':
      return std::memcpy(o, "\\t", 2), o + 2;
    case '\b':
      return std::memcpy(o, "\\b", 2), o + 2;
    case '\f':
      return std::memcpy(o, "\\f", 2), o + 2;
    default:
      if (c < 0x20) {
        const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        return std::memcpy(o, u, 6), o + 6;
      }
      return std::memcpy(o, "\xEF\xBF\xBD", 3), o + 3;  // an invalid UTF-8 byte: U+FFFD
  }
}

}  // namespace

template <class Out>
void append_json_string(Out& out, std::string_view s) {
  if constexpr (std::is_same_v<Out, std::string>) out.reserve(out.size() + s.size() + 2);
  out += '"';
  const char* p = s.data();
  const char* const end = p + s.size();
  const char* run = p;  // start of the pending run of bytes that need no escaping
  for (;;) {
    p = json_text::find_special(p, end);
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p);
    if (c >= 0x80) {
      if (const auto n = json_text::utf8_sequence(p, end)) {
        p += n;
        continue;
      }
    }
    out.append(run, static_cast<std::size_t>(p - run));
    char escaped[6];
    out.append(escaped, static_cast<std::size_t>(escape_byte(escaped, c) - escaped));
    run = ++p;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out += '"';
}

namespace {

std::uint64_t load8(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
void store8(char* p, std::uint64_t v) {
  std::memcpy(p, &v, 8);
}

}  // namespace

void append_json_string_blocks(JsonBuffer& out, std::string_view s) {
  // Room for the string, its quotes and a block written past its end; escapes ask for more as they come.
  constexpr std::size_t slack = 16;
  const char* p = s.data();
  const char* const end = p + s.size();
  char* o = out.room(s.size() + 2 + slack);
  *o++ = '"';
  for (;;) {
    // Each block is copied, then checked: up to its first special byte, it was copied rightly.
    std::size_t k;
#if defined(__SSE2__)
    while (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
      if (const int mask = json_text::special_mask(v)) {
        k = static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
        goto special;
      }
      p += 16, o += 16;
    }
#endif
    while (end - p >= 8) {
      const std::uint64_t v = load8(p);
      store8(o, v);
      if (const std::uint64_t m = json_text::special_bytes(v)) {
        k = static_cast<std::size_t>(__builtin_ctzll(m)) / 8;
        goto special;
      }
      p += 8, o += 8;
    }
    if (end - p >= 4) {
      // The last 4..7 bytes: two 4-byte words, overlapping, as the low halves of 8-byte ones of plain bytes.
      const auto r = static_cast<std::size_t>(end - p);
      std::uint32_t lo, hi;
      std::memcpy(&lo, p, 4), std::memcpy(&hi, end - 4, 4);
      std::memcpy(o, &lo, 4), std::memcpy(o + r - 4, &hi, 4);
      constexpr std::uint64_t plain_high = 0x6161616100000000;  // "aaaa" above
      if (const std::uint64_t m = json_text::special_bytes(plain_high | lo)) {
        k = static_cast<std::size_t>(__builtin_ctzll(m)) / 8;
        goto special;
      }
      if (const std::uint64_t m = json_text::special_bytes(plain_high | hi)) {
        k = r - 4 + static_cast<std::size_t>(__builtin_ctzll(m)) / 8;
        goto special;
      }
      p += r, o += r;
    }
    while (p != end && json_text::plain(*p)) *o++ = *p++;
    if (p == end) break;
    k = 0;
  special:
    p += k, o += k;
    {
      const auto c = static_cast<unsigned char>(*p);
      if (c >= 0x80) {
        if (const auto n = json_text::utf8_sequence(p, end)) {
          std::memcpy(o, p, n);  // (room: the string's own bytes)
          p += n, o += n;
          continue;
        }
      }
      // An escape of up to 6 bytes for 1: room for it and the rest.
      o = out.room_from(o, static_cast<std::size_t>(end - p) + 6 + 1 + slack);
      o = escape_byte(o, c);
      ++p;
    }
  }
  *o++ = '"';
  out.commit(o);
}

std::size_t short_fixed(double v, char* out) {
  static constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4};
  const bool negative = std::signbit(v);
  const double a = negative ? -v : v;
  if (!(a > 0) || !(a < 1e15)) return 0;  // zero, NaN, large, infinite
  for (int d = 0; d <= 4; ++d) {
    const double scaled = a * kPow10[d];
    // Below 2^50 a double's neighbours are closer than a quarter of 10^-d to it: one decimal of d places at
    // most reads back as it.
    if (scaled >= 0x1p50) return 0;
    // Round half up; exactness is checked on the next line, so lround's edge cases do not matter.
    const auto m = static_cast<std::uint64_t>(scaled + 0.5);  // NOLINT(bugprone-incorrect-roundings)
    if (static_cast<double>(m) / kPow10[d] != a) continue;
    // m / 10^d, d as small as can be (so for d > 0 m ends in a digit other than 0): the shortest digits.
    char digits[20];
    int n = 0;
    for (std::uint64_t x = m; x != 0; x /= 10) digits[n++] = static_cast<char>('0' + x % 10);  // reversed
    int zeros = 0;  // trailing ones (d == 0 only)
    while (zeros < n - 1 && digits[zeros] == '0') ++zeros;
    const int fixed = n > d ? n + (d > 0 ? 1 : 0) : 2 + d;
    const int significant = n - zeros, exponent = n - 1 - d;
    const int magnitude = exponent < 0 ? -exponent : exponent;
    const int scientific = significant + (significant > 1 ? 1 : 0) + 2 + (magnitude >= 100 ? 3 : 2);
    if (fixed > scientific) return 0;  // to_chars writes it as 1e+20 and the like
    char* o = out;
    if (negative) *o++ = '-';
    if (n > d) {
      for (int i = n - 1; i >= d; --i) *o++ = digits[i];
      if (d > 0) {
        *o++ = '.';
        for (int i = d - 1; i >= 0; --i) *o++ = digits[i];
      }
    } else {
      *o++ = '0', *o++ = '.';
      for (int i = d; i > n; --i) *o++ = '0';
      for (int i = n - 1; i >= 0; --i) *o++ = digits[i];
    }
    return static_cast<std::size_t>(o - out);
  }
  return 0;
}

std::size_t two_decimals(double v, char* out) {
  const bool negative = std::signbit(v);
  const double a = negative ? -v : v;
  if (!(a < 1e13)) return 0;  // large, infinite, NaN
  // m / 100 reads back as v: v's exact value is within a hair of it, far from where "%.2f" would round
  // elsewhere (half a hundredth away), so that is its text.
  const auto m = static_cast<std::uint64_t>(a * 100 + 0.5);  // NOLINT(bugprone-incorrect-roundings): checked next
  if (static_cast<double>(m) / 100 != a) return 0;
  char digits[20];
  int n = 0;
  for (std::uint64_t x = m; x != 0 || n < 3; x /= 10) digits[n++] = static_cast<char>('0' + x % 10);  // reversed
  char* o = out;
  if (negative) *o++ = '-';
  for (int i = n - 1; i >= 2; --i) *o++ = digits[i];
  *o++ = '.', *o++ = digits[1], *o++ = digits[0];
  return static_cast<std::size_t>(o - out);
}

template <class Out>
void append_json_number(Out& out, double v) {
  if (!std::isfinite(v)) {
    out += std::string_view("null");
    return;
  }
  char buf[32];
  if (const auto n = short_fixed(v, buf)) {
    out.append(buf, n);
    return;
  }
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>((ec == std::errc{} ? end : buf) - buf));
}

template <class Out>
void BasicJsonWriter<Out>::value(json_tape::JsonView v) {
  using Kind = json_tape::JsonNode::Kind;
  const json_tape::JsonNode* n = v.node();
  if (n == nullptr) {
    comma(), out_ += std::string_view("null");
    return;
  }
  switch (n->kind) {
    case Kind::null:
      comma(), out_ += std::string_view("null");
      break;
    case Kind::boolean:
      boolean(n->boolean);
      break;
    case Kind::int64:
      integer(n->int64);
      break;
    case Kind::uint64: {
      comma();
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, n->uint64);
      out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
      break;
    }
    case Kind::double_:
      number(n->number);
      break;
    case Kind::string:
      string(v.string());
      break;
    case Kind::array:
      begin_array();
      for (const auto e : v.elements()) value(e);
      end_array();
      break;
    case Kind::object:
      begin_object();
      for (const auto& m : v.members()) {
        key_escaped(m.key);
        value(m.value);
      }
      end_object();
      break;
  }
}

template void append_json_string(std::string&, std::string_view);
template void append_json_number(std::string&, double);
template void append_json_number(JsonBuffer&, double);
template class BasicJsonWriter<std::string>;
template class BasicJsonWriter<JsonBuffer>;

}  // namespace elk::pipeline
