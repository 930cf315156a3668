#include "pipeline/json_writer.h"

#include <array>
#include <charconv>
#include <cmath>

namespace elk::pipeline {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // No overlong forms, no surrogates, nothing past U+10FFFF.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

}  // namespace

// Bytes that go into a JSON string as they are: printable ASCII but '"' and '\\'.
constexpr auto plain_bytes = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

void JsonWriter::escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out_.reserve(out_.size() + s.size() + 2);
  out_ += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escaping
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (plain_bytes[c]) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (const auto n = utf8_length(s, i)) {
        i += n;
        continue;
      }
    }
    out_.append(s.data() + run, i - run);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      case '\b': out_ += "\\b"; break;
      case '\f': out_ += "\\f"; break;
      default:
        if (c < 0x20) {
          out_ += "\\u00";
          out_ += hex[c >> 4];
          out_ += hex[c & 0xF];
        } else {
          out_ += "\xEF\xBF\xBD";  // an invalid UTF-8 byte: U+FFFD
        }
    }
    ++i;
    run = i;
  }
  out_.append(s.data() + run, s.size() - run);
  out_ += '"';
}

void JsonWriter::number(double v) {
  comma();
  if (!std::isfinite(v)) {
    out_ += "null";
    return;
  }
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, ec == std::errc{} ? end : buf);
}

void JsonWriter::value(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null: comma(), out_ += "null"; break;
    case boost::json::kind::bool_: boolean(v.get_bool()); break;
    case boost::json::kind::int64: integer(v.get_int64()); break;
    case boost::json::kind::uint64: comma(), out_ += std::to_string(v.get_uint64()); break;
    case boost::json::kind::double_: number(v.get_double()); break;
    case boost::json::kind::string: string(v.get_string()); break;
    case boost::json::kind::array:
      begin_array();
      for (const auto& e : v.get_array()) value(e);
      end_array();
      break;
    case boost::json::kind::object:
      begin_object();
      for (const auto& kv : v.get_object()) {
        key_escaped(kv.key());
        value(kv.value());
      }
      end_object();
      break;
  }
}

}  // namespace elk::pipeline
