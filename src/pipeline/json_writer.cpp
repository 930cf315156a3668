#include "pipeline/json_writer.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "telemetry/json_text.h"

namespace elk::pipeline {

void JsonBuffer::grow(std::size_t n) {
  const auto room = std::max<std::size_t>({used_ + n, 2 * storage_.size(), 256});
  storage_.resize(used_);  // only the written bytes move, should the string reallocate
  // The new room is not filled: its bytes are written (through extend) before anything reads them.
  storage_.resize_and_overwrite(room, [](char*, std::size_t r) { return r; });
}

template <class Out>
void append_json_string(Out& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
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
    switch (c) {
      case '"':
        out += std::string_view("\\\"");
        break;
      case '\\':
        out += std::string_view("\\\\");
        break;
      case '\n':
        out += std::string_view("\\n");
        break;
      case '\r':
        out += std::string_view("\\r");
        break;
      case '\t':
        out += std::string_view("\\t");
        break;
      case '\b':
        out += std::string_view("\\b");
        break;
      case '\f':
        out += std::string_view("\\f");
        break;
      default:
        if (c < 0x20) {
          const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          out.append(u, sizeof u);
        } else {
          out += std::string_view("\xEF\xBF\xBD");  // an invalid UTF-8 byte: U+FFFD
        }
    }
    run = ++p;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out += '"';
}

template <class Out>
void append_json_number(Out& out, double v) {
  if (!std::isfinite(v)) {
    out += std::string_view("null");
    return;
  }
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>((ec == std::errc{} ? end : buf) - buf));
}

template <class Out>
void BasicJsonWriter<Out>::value(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      comma(), out_ += std::string_view("null");
      break;
    case boost::json::kind::bool_:
      boolean(v.get_bool());
      break;
    case boost::json::kind::int64:
      integer(v.get_int64());
      break;
    case boost::json::kind::uint64: {
      comma();
      char buf[24];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out_.append(buf, static_cast<std::size_t>(r.ptr - buf));
      break;
    }
    case boost::json::kind::double_:
      number(v.get_double());
      break;
    case boost::json::kind::string:
      string(v.get_string());
      break;
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

template void append_json_string(std::string&, std::string_view);
template void append_json_string(JsonBuffer&, std::string_view);
template void append_json_number(std::string&, double);
template void append_json_number(JsonBuffer&, double);
template class BasicJsonWriter<std::string>;
template class BasicJsonWriter<JsonBuffer>;

}  // namespace elk::pipeline
