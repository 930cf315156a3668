#include "telemetry/parse.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/time.h"

namespace elk::telemetry {

namespace json = boost::json;

namespace {

// Boost.JSON's default nesting limit, counted from the body's array: an item's own values start 2 deep.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kItemDepth = kMaxDepth - 1;   // an item of the body's array
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

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Bytes that stand for themselves inside a JSON string: not '"', '\\', a control character or non-ASCII.
constexpr auto kPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

// The first byte in [p, end) that is not plain.
const char* find_special(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // A signed comparison: bytes >= 0x80 are negative, so "< 0x20" catches control bytes and non-ASCII.
    const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                      _mm_cmplt_epi8(v, space));
    if (const int mask = _mm_movemask_epi8(hits)) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p != end && kPlain[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

// Length of the well-formed UTF-8 sequence at p (whose first byte is >= 0x80), 0 when there is none:
// no overlong forms, no surrogates, nothing past U+10FFFF, not cut short by `end`.
std::size_t utf8_sequence(const char* p, const char* end) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(p[i]); };
  const auto cont = [&](std::size_t i, unsigned lo, unsigned hi) { return b(i) >= lo && b(i) <= hi; };
  const auto left = static_cast<std::size_t>(end - p);
  const unsigned c = b(0);
  if (c < 0xC2) return 0;
  if (c < 0xE0) return left >= 2 && cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c < 0xF0)
    return left >= 3 && cont(1, c == 0xE0 ? 0xA0 : 0x80, c == 0xED ? 0x9F : 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c < 0xF5)
    return left >= 4 && cont(1, c == 0xF0 ? 0x90 : 0x80, c == 0xF4 ? 0x8F : 0xBF) && cont(2, 0x80, 0xBF) &&
                   cont(3, 0x80, 0xBF)
               ? 4
               : 0;
  return 0;
}

// The value of 4 hex digits at p, -1 when they are not that (or cut short).
int hex4(const char* p, const char* end) {
  if (end - p < 4) return -1;
  int v = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = p[i];
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  char buf[4];
  std::size_t n;
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp), n = 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6)), buf[1] = static_cast<char>(0x80 | (cp & 0x3F)), n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12)), buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F)), n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18)), buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), buf[3] = static_cast<char>(0x80 | (cp & 0x3F)), n = 4;
  }
  out.append(buf, n);
}

struct ScannedString {
  const char* next = nullptr;  // past the closing quote; nullptr when the string is not valid JSON
  std::string_view raw;        // the text between the quotes, as it is in the body
  bool escaped = false;        // raw holds escapes: the text is in the caller's buffer instead
};

// The JSON string whose opening quote is at p, validated as Boost.JSON does (escapes, \u surrogate pairs,
// UTF-8, no control characters). When it holds escapes and `out` is given, `out` is set to its text.
ScannedString scan_string(const char* p, const char* end, std::string* out) {
  ScannedString s;
  const char* const begin = ++p;
  const char* run = p;  // start of the bytes not yet copied to `out` (once there is an escape)
  for (;;) {
    p = find_special(p, end);
    if (p == end) return s;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      if (s.escaped && out) out->append(run, p);
      s.raw = std::string_view(begin, static_cast<std::size_t>(p - begin));
      s.next = p + 1;
      return s;
    }
    if (c >= 0x80) {
      const auto n = utf8_sequence(p, end);
      if (n == 0) return s;
      p += n;
      continue;
    }
    if (c != '\\') return s;  // a control character
    if (!s.escaped) {
      s.escaped = true;
      if (out) out->clear();
    }
    if (out) out->append(run, p);
    if (end - p < 2) return s;
    char unescaped;
    switch (p[1]) {
      case '"': unescaped = '"'; break;
      case '\\': unescaped = '\\'; break;
      case '/': unescaped = '/'; break;
      case 'b': unescaped = '\b'; break;
      case 'f': unescaped = '\f'; break;
      case 'n': unescaped = '\n'; break;
      case 'r': unescaped = '\r'; break;
      case 't': unescaped = '\t'; break;
      case 'u': {
        int cp = hex4(p + 2, end);
        if (cp < 0) return s;
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDFFF) {
          if (cp > 0xDBFF) return s;  // a trailing surrogate first
          if (end - p < 2 || p[0] != '\\' || p[1] != 'u') return s;
          const int low = hex4(p + 2, end);
          if (low < 0xDC00 || low > 0xDFFF) return s;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          p += 6;
        }
        if (out) append_utf8(*out, static_cast<std::uint32_t>(cp));
        run = p;
        continue;
      }
      default: return s;
    }
    if (out) out->push_back(unescaped);
    p += 2;
    run = p;
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
      : p_(body.data()), end_(body.data() + body.size()), received_(received),
        // The string records of a delivery take about its size; object records grow the arena as needed.
        arena_(json::make_shared_resource<json::monotonic_resource>(body.size() + 64)) {}

  bool read(Batch& out) {
    ws();
    if (p_ == end_ || *p_ != '[') return false;
    ++p_;
    ws();
    out.events.reserve(static_cast<std::size_t>(end_ - p_) / 192 + 1);
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
    while (p_ != end_ && is_ws(*p_)) ++p_;
  }

  // A JSON string at p_ that we keep: its text, unescaped into `buffer` when it has escapes.
  bool string(std::string& buffer, std::string_view& text) {
    const auto s = scan_string(p_, end_, &buffer);
    if (!s.next) return false;
    text = s.escaped ? std::string_view(buffer) : s.raw;
    p_ = s.next;
    return true;
  }

  // Any JSON value at p_, validated and passed over.
  bool skip_value(std::size_t max_depth) {
    if (*p_ == '"') {
      const auto s = scan_string(p_, end_, nullptr);
      p_ = s.next;
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
  bool record_value(std::optional<json::value>& record) {
    if (!parser_) {
      json::parse_options options;
      options.max_depth = kMemberDepth;
      parser_.emplace(json::storage_ptr(), options, parser_buffer_, sizeof parser_buffer_);
    }
    parser_->reset(arena_);
    json::error_code ec;
    const auto n = parser_->write_some(p_, static_cast<std::size_t>(end_ - p_), ec);
    if (ec) return false;
    record.emplace(parser_->release());
    p_ += n;
    return true;
  }

  // One {...} item of the array, p_ at its '{'. Of duplicate keys the last counts, as in a Boost.JSON object.
  bool item(Batch& out) {
    ++p_;
    ws();
    std::string_view type, time;
    bool type_is_string = false, time_is_string = false;
    // Constructed in place: assigning a value of the arena to one of the default storage would copy it.
    std::optional<json::value> record;
    if (p_ != end_ && *p_ == '}') {
      ++p_;
      ++out.skipped;
      return true;
    }
    for (;;) {
      if (p_ == end_ || *p_ != '"') return false;
      std::string_view k;
      if (!string(key_, k)) return false;
      ws();
      if (p_ == end_ || *p_ != ':') return false;
      ++p_;
      ws();
      if (p_ == end_) return false;
      const bool is_string = *p_ == '"';
      switch (key_of(k)) {
        case Key::type:
          if (!(is_string ? string(type_, type) : skip_value(kMemberDepth))) return false;
          type_is_string = is_string;
          break;
        case Key::time:
          if (!(is_string ? string(time_, time) : skip_value(kMemberDepth))) return false;
          time_is_string = is_string;
          break;
        case Key::record:
          if (is_string) {
            std::string_view text;
            if (!string(record_, text)) return false;
            record.emplace(json::string_view(text.data(), text.size()), arena_);
          } else if (!record_value(record)) {
            return false;
          }
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
      ++out.skipped;
      return true;
    }
    std::optional<EpochMs> parsed;
    if (time_is_string) parsed = parse_iso8601(time);
    if (!parsed && received_text_.empty()) received_text_ = format_iso8601_ms(received_);
    out.events.push_back(Event{std::string(type), parsed ? std::string(time) : received_text_,
                               parsed ? *parsed : received_,
                               record ? std::move(*record) : json::value(nullptr)});
    return true;
  }

  const char* p_;
  const char* const end_;
  const EpochMs received_;
  std::string received_text_;  // `received` as ISO 8601, once needed
  json::storage_ptr arena_;    // one per delivery: the records' strings and objects are freed together
  std::string key_, type_, time_, record_;  // unescaped text of strings that had escapes
  std::optional<json::parser> parser_;
  unsigned char parser_buffer_[4096];  // the record parser's first working memory
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
