#include "telemetry/parse.h"

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/time.h"
#include "telemetry/json_text.h"
#include "telemetry/time_text.h"

namespace elk::telemetry {

namespace json = boost::json;

namespace {

// Boost.JSON's default nesting limit, counted from the body's array: an item's own values start 2 deep.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kItemDepth = kMaxDepth - 1;    // an item of the body's array
constexpr std::size_t kMemberDepth = kMaxDepth - 2;  // a value inside an item's object

// A basic_parser handler that builds nothing: Boost.JSON's own verdict on a value we skip, with the limits
// of the DOM parser (boost/json/detail/handler.hpp), so that what it accepts is what json::parse accepts.
struct Validator {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t, json::error_code&) { return true; }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_key(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

bool is_ws(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

using json_text::find_special;
using json_text::utf8_sequence;

// The value of 4 hex digits at p, -1 when they are not that (or cut short).
int hex4(const char* p, const char* end) {
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
char* put_utf8(char* out, std::uint32_t cp) {
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

// The character a one-letter escape stands for ("\n" -> '\n'); 0 when the letter makes no escape ('u' is
// handled apart).
constexpr auto kEscape = [] {
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
// surrogates in pairs, well-formed UTF-8, no control characters, at most json::string::max_size() bytes.
ScannedString scan_string(const char* p, const char* end) {
  ScannedString s;
  const char* const begin = ++p;
  for (;;) {
    p = find_special(p, end);
    if (p == end) return s;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      s.raw = std::string_view(begin, static_cast<std::size_t>(p - begin));
      // Past Boost.JSON's limit a json::string cannot hold it: the DOM parse says what then.
      if (s.raw.size() <= json::string::max_size()) s.next = p + 1;
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
    const int cp = hex4(p + 2, end);
    if (cp < 0) return s;
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      if (cp > 0xDBFF) return s;  // a trailing surrogate first
      if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return s;
      const int low = hex4(p + 2, end);
      if (low < 0xDC00 || low > 0xDFFF) return s;
      p += 6;
    }
  }
}

// The first backslash in [p, end), or end.
const char* find_backslash(const char* p, const char* end) {
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
std::size_t unescape(std::string_view raw, char* out) {
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
    auto cp = static_cast<std::uint32_t>(hex4(q + 2, end));
    p = q + 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(hex4(p + 2, end)) - 0xDC00);
      p += 6;
    }
    out = put_utf8(out, cp);
  }
}

enum class Key { time, type, record, other };

Key key_of(std::string_view k) {
  if (k == "time") return Key::time;
  if (k == "type") return Key::type;
  if (k == "record") return Key::record;
  return Key::other;
}

// Reads a body of the shape Lambda sends, [{"time": "...", "type": "...", "record": ...}, ...], in one pass.
// Any departure from valid JSON makes it give up (read() is false); it never guesses.
class Reader {
 public:
  Reader(std::string_view body, EpochMs received)
      : begin_(body.data()),
        p_(body.data()),
        end_(body.data() + body.size()),
        received_(received),
        // The string records of a delivery take about its size; object records grow the arena as needed.
        arena_(json::make_shared_resource<json::monotonic_resource>(body.size() + 64)) {}

  bool read(Batch& out) {
    ws();
    if (p_ == end_ || *p_ != '[') return false;
    ++p_;
    ws();
    out.events.reserve(static_cast<std::size_t>(end_ - p_) / 512 + 4);
    if (p_ != end_ && *p_ == ']') {
      ++p_;
    } else {
      for (;;) {
        if (p_ == end_) return false;
        if (*p_ == '{') {
          if (!item(out)) return false;
        } else {
          if (!skip_value(kItemDepth)) return false;
          ++out.skipped;
        }
        ws();
        if (p_ == end_) return false;
        if (*p_ == ']') {
          ++p_;
          break;
        }
        if (*p_ != ',') return false;
        ++p_;
        ws();
      }
    }
    ws();
    return p_ == end_;
  }

 private:
  void ws() {
    while (p_ != end_ && static_cast<unsigned char>(*p_) <= ' ' && is_ws(*p_)) ++p_;
  }

  // Room for one more event. The first guess (from the body's size) is small; past it, the number of
  // events is extrapolated from the bytes read so far, so that the vector grows about once.
  void make_room(std::vector<Event>& events) {
    if (events.size() < events.capacity()) return;
    const auto read = static_cast<std::size_t>(p_ - begin_) + 1;
    const auto total = static_cast<std::size_t>(end_ - begin_);
    events.reserve(std::max(events.size() * 2, events.size() * total / read + events.size() / 8 + 16));
  }

  // A JSON string at p_ that we keep: its text, unescaped into `buffer` when it has escapes.
  bool string(std::string& buffer, std::string_view& text) {
    const auto s = scan_string(p_, end_);
    if (!s.next) return false;
    if (s.escaped) {
      buffer.resize(s.raw.size());
      buffer.resize(unescape(s.raw, buffer.data()));
      text = buffer;
    } else {
      text = s.raw;
    }
    p_ = s.next;
    return true;
  }

  // A string record: its text goes straight into the record, a value of the arena.
  bool string_record(json::value& record) {
    const auto s = scan_string(p_, end_);
    if (!s.next) return false;
    auto& text = record.emplace_string();
    if (s.escaped) {
      text.reserve(s.raw.size());
      text.grow(unescape(s.raw, text.data()));
    } else {
      text.assign(json::string_view(s.raw.data(), s.raw.size()));
    }
    p_ = s.next;
    return true;
  }

  // The key at p_ (its opening quote), and p_ past it. The keys Lambda sends are matched as they are.
  bool key(Key& k) {
    const auto left = end_ - p_;
    if (left >= 6 && std::memcmp(p_, "\"type\"", 6) == 0) return p_ += 6, k = Key::type, true;
    if (left >= 6 && std::memcmp(p_, "\"time\"", 6) == 0) return p_ += 6, k = Key::time, true;
    if (left >= 8 && std::memcmp(p_, "\"record\"", 8) == 0) return p_ += 8, k = Key::record, true;
    std::string_view text;
    if (!string(key_, text)) return false;
    k = key_of(text);
    return true;
  }

  // Any JSON value at p_, validated and passed over.
  bool skip_value(std::size_t max_depth) {
    if (*p_ == '"') {
      p_ = scan_string(p_, end_).next;
      return p_ != nullptr;
    }
    json::parse_options options;
    options.max_depth = max_depth;
    json::basic_parser<Validator> validator(options);
    json::error_code ec;
    const auto n = validator.write_some(false, p_, static_cast<std::size_t>(end_ - p_), ec);
    if (ec) return false;
    p_ += n;
    return true;
  }

  // A record that is not a string: Boost.JSON's parser, on this value only, into the delivery's arena.
  bool record_value(json::value& record) {
    if (!parser_) {
      json::parse_options options;
      options.max_depth = kMemberDepth;
      parser_.emplace(json::storage_ptr(), options, parser_buffer_, sizeof parser_buffer_);
    }
    parser_->reset(arena_);
    json::error_code ec;
    const auto n = parser_->write_some(p_, static_cast<std::size_t>(end_ - p_), ec);
    if (ec) return false;
    json::value parsed = parser_->release();
    record.swap(parsed);  // both on the arena: their bytes trade places
    p_ += n;
    return true;
  }

  // One {...} item of the array, p_ at its '{'. Of duplicate keys the last counts, as in a Boost.JSON object.
  bool item(Batch& out) {
    ++p_;
    ws();
    std::string_view type, time;
    bool type_is_string = false, time_is_string = false;
    bool time_read = false;  // time_ms holds `time`, read at once (Lambda's own form)
    EpochMs time_ms;
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      ++out.skipped;
      return true;
    }
    // The event is made in place, and its record is a value of the arena from the start: it is then filled
    // where it stays. (Assigning a json::value keeps the target's storage, so it would copy; and moving one
    // costs atomic reference counts, a moved-from value keeping its storage.) A missing record stays null.
    make_room(out.events);
    Event& event = out.events.emplace_back();
    std::destroy_at(&event.record);
    std::construct_at(&event.record, arena_);  // noexcept
    for (;;) {
      if (p_ == end_ || *p_ != '"') return false;
      Key k;
      if (!key(k)) return false;
      ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      ws();
      if (p_ == end_) return false;
      const bool is_string = *p_ == '"';
      switch (k) {
        case Key::type:
          if (!(is_string ? string(type_, type) : skip_value(kMemberDepth))) return false;
          type_is_string = is_string;
          break;
        case Key::time:
          time_read = false;
          if (is_string && end_ - p_ >= 26 && p_[25] == '"') [[likely]]
            time_read = read_lambda_time(p_ + 1, time_ms);
          if (time_read) [[likely]] {
            time = std::string_view(p_ + 1, 24);
            p_ += 26;
          } else if (!(is_string ? string(time_, time) : skip_value(kMemberDepth))) {
            return false;
          }
          time_is_string = is_string;
          break;
        case Key::record:
          if (!(is_string ? string_record(event.record) : record_value(event.record))) return false;
          break;
        case Key::other:
          if (!skip_value(kMemberDepth)) return false;
          break;
      }
      ws();
      if (p_ == end_) return false;
      if (*p_ == '}') {
        ++p_;
        break;
      }
      if (*p_ != ',') return false;
      ++p_;
      ws();
    }
    if (!type_is_string) {
      out.events.pop_back();
      ++out.skipped;
      return true;
    }
    if (!time_read && time_is_string) {
      if (const auto parsed = parse_iso8601(time)) time_read = true, time_ms = *parsed;
    }
    if (!time_read) {
      if (received_text_.empty()) received_text_ = format_iso8601_ms(received_);
      time = received_text_;
      time_ms = received_;
    }
    event.type.assign(type);
    event.time.assign(time);
    event.time_ms = time_ms;
    return true;
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const EpochMs received_;
  std::string received_text_;           // `received` as ISO 8601, once needed
  json::storage_ptr arena_;             // one per delivery: the records' strings and objects are freed together
  std::string key_, type_, time_;       // unescaped text of strings that had escapes
  std::optional<json::parser> parser_;  // for the records that are not strings
  unsigned char parser_buffer_[4096];   // its first working memory
};

}  // namespace

namespace detail {

std::optional<Batch> read_batch_streaming(std::string_view body, EpochMs received) {
  Batch out;
  Reader reader(body, received);
  if (!reader.read(out)) return std::nullopt;
  return out;
}

Result<Batch> parse_batch_dom(std::string_view body, EpochMs received) {
  boost::system::error_code ec;
  // One arena per delivery: the records' strings and objects are freed together, with the batch.
  auto arena = json::make_shared_resource<json::monotonic_resource>();
  json::value doc = json::parse(body, ec, arena);
  if (ec) return fail("telemetry body is not JSON (" + ec.message() + ")");
  if (!doc.is_array()) return fail("telemetry body is JSON but not an array");

  Batch out;
  auto& items = doc.as_array();
  out.events.reserve(items.size());
  for (auto& item : items) {
    auto* obj = item.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
      ++out.skipped;
      continue;
    }
    std::string time;
    if (const auto* t = obj->if_contains("time"); t && t->is_string()) time = std::string(t->get_string());
    const auto parsed = parse_iso8601(time);
    if (!parsed) time = format_iso8601_ms(received);
    // Move-constructed, so that the record keeps living in the arena instead of being copied out.
    auto* r = obj->if_contains("record");
    out.events.push_back(Event{std::string(type->get_string()), std::move(time), parsed ? *parsed : received,
                               r ? json::value(std::move(*r)) : json::value(nullptr)});
  }
  return out;
}

}  // namespace detail

Result<Batch> parse_batch(std::string_view body, EpochMs received) {
  if (auto batch = detail::read_batch_streaming(body, received)) return std::move(*batch);
  // Not a body the streaming reader takes: most likely not JSON at all. Boost.JSON's DOM parse decides, and
  // says what is wrong; should the reader ever refuse valid JSON, the body is still read, only slower.
  return detail::parse_batch_dom(body, received);
}

}  // namespace elk::telemetry
