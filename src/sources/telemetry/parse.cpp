#include "sources/telemetry/parse.h"

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/time.h"
#include "core/time_text.h"
#include "json/text.h"
#include "sources/telemetry/salvage.h"

namespace elk::telemetry {

namespace json = boost::json;
using json_tape::JsonNode;
using json_tape::JsonView;
using json_tape::RecordStorage;

namespace {

// Boost.JSON's default nesting limit, counted from the body's array: an item's own values start 2 deep.
constexpr std::size_t kMaxDepth = 32;
constexpr std::size_t kItemDepth = kMaxDepth - 1;  // an item of the body's array
static_assert(kItemDepth == detail::kMaxItemDepth);
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

// The delivery's body as it is read and its copy in the storage: the same bytes at the same places. A string
// without escapes is a view into the copy; one with escapes is unescaped into the copy, in its own place.
struct BodyCopy {
  const char* begin = nullptr;
  const char* end = nullptr;
  char* copy = nullptr;

  [[nodiscard]] char* at(const char* p) const { return copy + (p - begin); }
  [[nodiscard]] bool holds(const char* p) const {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return a >= reinterpret_cast<std::uintptr_t>(begin) && a < reinterpret_cast<std::uintptr_t>(end);
  }
};

// Makes an object's keys unique as a Boost.JSON object does: when a key occurs more than once, its first place
// keeps the last value and the other members go. Working memory kept from one object to the next.
class UniqueKeys {
 public:
  // The object whose head is nodes[at], its members the last nodes.
  void apply(std::vector<JsonNode>& nodes, std::size_t at) {
    if (!maybe_duplicates(nodes, at)) return;
    keys_.clear();
    for (std::size_t k = at + 1, i = 0; k < nodes.size(); k += 1 + nodes[k + 1].extent, ++i)
      keys_.push_back({std::string_view(nodes[k].text, nodes[k].size), k, i});
    if (!duplicates()) return;
    // Sorted by key, then place: each key's run starts with its first member and ends with its last.
    sorted_ = keys_;
    std::sort(sorted_.begin(), sorted_.end(), by_text_then_place);
    std::vector<std::size_t> value_from(keys_.size(), 0);  // the node of a kept member's value; 0: not kept
    for (std::size_t i = 0; i < sorted_.size();) {
      std::size_t j = i;
      while (j + 1 < sorted_.size() && sorted_[j + 1].text == sorted_[i].text) ++j;
      value_from[sorted_[i].place] = sorted_[j].node + 1;
      i = j + 1;
    }
    std::vector<JsonNode> rebuilt;
    std::size_t members = 0;
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const auto v = value_from[i];
      if (v == 0) continue;
      ++members;
      rebuilt.push_back(nodes[keys_[i].node]);
      rebuilt.insert(rebuilt.end(), nodes.begin() + static_cast<std::ptrdiff_t>(v),
                     nodes.begin() + static_cast<std::ptrdiff_t>(v + nodes[v].extent));
    }
    nodes.resize(at + 1);
    nodes.insert(nodes.end(), rebuilt.begin(), rebuilt.end());
    nodes[at].size = members;
    nodes[at].extent = static_cast<std::uint32_t>(nodes.size() - at);
  }

 private:
  struct Key {
    std::string_view text;
    std::size_t node;   // of the key
    std::size_t place;  // among the members
  };
  static bool by_text_then_place(const Key& a, const Key& b) {
    return a.text != b.text ? a.text < b.text : a.place < b.place;
  }

  // Whether two keys might be the same: false when no two have the same length, first and last byte (as far
  // as a set of 256 of their hashes tells), which is the usual object.
  static bool maybe_duplicates(const std::vector<JsonNode>& nodes, std::size_t at) {
    std::uint64_t seen[4] = {};
    for (std::size_t k = at + 1; k < nodes.size(); k += 1 + nodes[k + 1].extent) {
      const JsonNode& key = nodes[k];
      std::uint32_t h = static_cast<std::uint32_t>(key.size);
      if (key.size != 0)
        h += 0x9E3779B9u * static_cast<unsigned char>(key.text[0]) +
             0x85EBCA6Bu * static_cast<unsigned char>(key.text[key.size - 1]);
      h = (h * 0x9E3779B1u) >> 24;
      std::uint64_t& word = seen[h >> 6];
      const std::uint64_t bit = std::uint64_t{1} << (h & 63);
      if (word & bit) return true;
      word |= bit;
    }
    return false;
  }

  // Whether two of keys_ are the same: compared pairwise when there are few (the usual record), else sorted.
  bool duplicates() {
    if (keys_.size() <= 16) {
      for (std::size_t i = 1; i < keys_.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
          if (keys_[i].text.size() == keys_[j].text.size() && keys_[i].text == keys_[j].text) return true;
      return false;
    }
    sorted_ = keys_;
    std::sort(sorted_.begin(), sorted_.end(), by_text_then_place);
    for (std::size_t i = 1; i < sorted_.size(); ++i)
      if (sorted_[i].text == sorted_[i - 1].text) return true;
    return false;
  }

  std::vector<Key> keys_, sorted_;
};

// A basic_parser handler that appends a record's nodes to the delivery's storage, with the limits of the DOM
// parser, as the Validator: what Boost.JSON's DOM parse of the record would hold (numbers as it reads them;
// of duplicate keys the first one's place and the last one's value), without the tree.
class TapeBuilder {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  void use(const BodyCopy* body, RecordStorage* storage, UniqueKeys* unique_keys) {
    body_ = body, storage_ = storage, unique_keys_ = unique_keys;
  }

  bool on_document_begin(json::error_code&) {
    depth_ = 0;
    part_.clear();
    return true;
  }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return open(JsonNode::Kind::array); }
  bool on_array_end(std::size_t n, json::error_code&) {
    close(n);
    return true;
  }
  bool on_object_begin(json::error_code&) { return open(JsonNode::Kind::object); }
  bool on_object_end(std::size_t n, json::error_code&) {
    const auto at = close(n);
    if (n > 1) unique_keys_->apply(storage_->nodes, at);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    string(s);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t n, json::error_code& ec) { return on_string_part(s, n, ec); }
  bool on_key(json::string_view s, std::size_t n, json::error_code& ec) { return on_string(s, n, ec); }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, json::error_code&) {
    node(JsonNode::Kind::int64).int64 = v;
    return true;
  }
  bool on_uint64(std::uint64_t v, json::string_view, json::error_code&) {
    node(JsonNode::Kind::uint64).uint64 = v;
    return true;
  }
  bool on_double(double v, json::string_view, json::error_code&) {
    node(JsonNode::Kind::double_).number = v;
    return true;
  }
  bool on_bool(bool v, json::error_code&) {
    node(JsonNode::Kind::boolean).boolean = v;
    return true;
  }
  bool on_null(json::error_code&) {
    node(JsonNode::Kind::null);
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  JsonNode& node(JsonNode::Kind kind) {
    auto& n = storage_->nodes.emplace_back();
    n.kind = kind;
    return n;
  }
  bool open(JsonNode::Kind kind) {
    // The parser's depth limit keeps a record well inside open_ (kMemberDepth).
    open_[depth_++] = storage_->nodes.size();
    node(kind);
    return true;
  }
  std::size_t close(std::size_t n) {
    const auto at = open_[--depth_];
    auto& head = storage_->nodes[at];
    head.size = n;
    head.extent = static_cast<std::uint32_t>(storage_->nodes.size() - at);
    return at;
  }
  void string(json::string_view s) {
    std::string_view text(s.data(), s.size());
    if (part_.empty() && body_->holds(text.data())) {
      // Read whole from the body, unescaped: the same bytes are in the copy.
      text = std::string_view(body_->at(text.data()), text.size());
    } else {
      if (!part_.empty()) {
        part_.append(text);
        text = part_;
      }
      text = storage_->copy(text);
      part_.clear();
    }
    auto& n = node(JsonNode::Kind::string);
    n.text = text.data();
    n.size = text.size();
  }

  const BodyCopy* body_ = nullptr;
  RecordStorage* storage_ = nullptr;
  UniqueKeys* unique_keys_ = nullptr;
  std::array<std::size_t, kMaxDepth + 1> open_{};  // the heads of the open arrays and objects
  std::size_t depth_ = 0;
  std::string part_;  // a string (or key) read in parts: it had escapes
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

// The code point of the \u escape at p (its backslash), a surrogate pair read as one, validated as Boost.JSON
// does (hex digits, a leading surrogate followed by a trailing one): -1 when it is not valid, else p is moved
// past it.
std::int32_t unicode_escape(const char*& p, const char* end) {
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
    if (unicode_escape(p, end) < 0) return s;
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
    p = q;
    out = put_utf8(out, static_cast<std::uint32_t>(unicode_escape(p, end)));  // valid: scan_string checked it
  }
}

// The JSON string whose opening quote is at p, validated as scan_string validates it, and its text written at
// `out`, the copy's place of its first byte (p + 1), in the same pass: past the closing quote, nullptr when it is
// not valid; `written` the text's length. Until the first escape the copy holds the text already; after it,
// the text is written behind where it was read (an escape is longer than what it stands for), 16 bytes at a
// time: the bytes that this writes past the string, up to 16 after its closing quote, are written back.
[[gnu::noinline]] const char* read_string_in_place(const char* p, const char* end, char* out, std::size_t& written) {
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
        if (const int mask = json_text::special_mask(v)) {
          const auto k = __builtin_ctz(static_cast<unsigned>(mask));
          p += k, out += k;
          goto special;
        }
        p += 16, out += 16;
      }
#endif
      while (p != end && json_text::plain(*p)) *out++ = *p++;
    }
#if defined(__SSE2__)
  special:  // only the SIMD loop jumps here (an unused label is an error where there is no SSE2, e.g. arm64)
#endif
    if (p == end) return nullptr;
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"') {
      if (static_cast<std::size_t>(p - begin) > json::string::max_size()) return nullptr;  // as scan_string
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

// Appends the string node of the JSON string at p (its opening quote, in the body) to the storage: past the
// closing quote, nullptr when the string is not valid.
[[gnu::always_inline]] inline const char* string_node(const char* p, const BodyCopy& body, RecordStorage& storage) {
  const char* const begin = p + 1;
  const char* q = find_special(begin, body.end);
  std::size_t size;
  const char* next;
  if (q != body.end && *q == '"') [[likely]] {
    // Plain text: the copy holds it.
    size = static_cast<std::size_t>(q - begin);
    if (size > json::string::max_size()) return nullptr;
    next = q + 1;
  } else {
    next = read_string_in_place(p, body.end, body.at(begin), size);
    if (!next) return nullptr;
  }
  JsonNode node;
  node.kind = JsonNode::Kind::string;
  node.text = body.at(begin);
  node.size = size;
  storage.nodes.push_back(node);
  return next;
}

// Ten to the power 0..22: exact as doubles (and so the entries of Boost.JSON's table).
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Reads a record's value (an object, array, number, true, false or null) into the storage, by hand, when it
// keeps to the forms that loggers and Lambda write: nesting at most 16 deep; integers of at most 18 digits;
// other numbers of at most 15 significant digits and a power of ten within 10^-22..10^22. Whatever it reads is
// read as Boost.JSON reads it: for such numbers Boost.JSON makes the integer of the digits and multiplies or
// divides it by an exact power of ten, as this does. Anything else, valid or not, it leaves to Boost.JSON's
// parser (read() gives nullptr): it never judges.
class PlainReader {
 public:
  PlainReader(const BodyCopy& body, RecordStorage& storage, UniqueKeys& unique_keys)
      : body_(body), storage_(storage), unique_keys_(unique_keys) {}

  // The value at p (not a string); past its end, or nullptr. Whitespace is looked for only where the next
  // byte is not what comes in compact JSON.
  const char* read(const char* p, const char* end) {
    auto& nodes = storage_.nodes;
    std::size_t depth = 0;
  value:
    if (p == end) return nullptr;
    switch (*p) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        p = ws(p, end);
        goto value;
      case '{':
      case '[': {
        if (depth == kDepth) return nullptr;
        const bool object = *p == '{';
        open_[depth] = {nodes.size(), 0, object};
        ++depth;
        auto& head = nodes.emplace_back();
        head.kind = object ? JsonNode::Kind::object : JsonNode::Kind::array;
        ++p;
        if (p != end && *p == (object ? '}' : ']')) {  // (an empty one with whitespace inside is left to Boost.JSON)
          ++p;
          goto close;
        }
        if (object) goto key;
        goto value;
      }
      case '"':
        p = string_node(p, body_, storage_);
        if (!p) return nullptr;
        break;
      case 't':
        if (end - p < 4 || std::memcmp(p, "true", 4) != 0) return nullptr;
        nodes.emplace_back().kind = JsonNode::Kind::boolean, nodes.back().boolean = true;
        p += 4;
        break;
      case 'f':
        if (end - p < 5 || std::memcmp(p, "false", 5) != 0) return nullptr;
        nodes.emplace_back().kind = JsonNode::Kind::boolean, nodes.back().boolean = false;
        p += 5;
        break;
      case 'n':
        if (end - p < 4 || std::memcmp(p, "null", 4) != 0) return nullptr;
        nodes.emplace_back().kind = JsonNode::Kind::null;
        p += 4;
        break;
      default:
        p = number(p, end);
        if (!p) return nullptr;
        break;
    }
  next:
    // After a value: the end of the record, or of its container, or the next member or element.
    if (depth == 0) return p;
    if (p == end) return nullptr;
    if (static_cast<unsigned char>(*p) <= ' ') {
      p = ws(p, end);
      if (p == end) return nullptr;
    }
    {
      Open& o = open_[depth - 1];
      ++o.count;
      if (*p == ',') {
        ++p;
        if (o.object) goto key;
        goto value;
      }
      if (*p != (o.object ? '}' : ']')) return nullptr;
      ++p;
    }
  close : {
    const Open& o = open_[--depth];
    auto& head = nodes[o.head];
    head.size = o.count;
    head.extent = static_cast<std::uint32_t>(nodes.size() - o.head);
    if (o.object && o.count > 1) unique_keys_.apply(nodes, o.head);
  }
    goto next;
  key:
    if (p != end && *p != '"') p = ws(p, end);
    if (p == end || *p != '"') return nullptr;
    p = string_node(p, body_, storage_);
    if (!p) return nullptr;
    if (p != end && *p != ':') p = ws(p, end);
    if (p == end || *p != ':') return nullptr;
    ++p;
    goto value;
  }

 private:
  static constexpr std::size_t kDepth = 16;

  static const char* ws(const char* p, const char* end) {
    while (p != end && static_cast<unsigned char>(*p) <= ' ' && is_ws(*p)) ++p;
    return p;
  }
  static bool digit(char c) { return c >= '0' && c <= '9'; }

  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? within the limits above, followed by no digit.
  const char* number(const char* p, const char* end) {
    const bool negative = *p == '-';
    if (negative) ++p;
    if (p == end || !digit(*p)) return nullptr;
    std::uint64_t mantissa = 0;
    int digits = 0;  // of the mantissa (a leading 0 is none)
    if (*p == '0') {
      ++p;
    } else {
      while (p != end && digit(*p)) {
        if (++digits > 18) return nullptr;
        mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p++ - '0');
      }
    }
    if (p == end) return nullptr;
    if (*p != '.' && (*p | 32) != 'e') {
      if (digit(*p)) return nullptr;  // a leading 0
      auto& n = storage_.nodes.emplace_back();
      n.kind = JsonNode::Kind::int64;
      n.int64 = negative ? -static_cast<std::int64_t>(mantissa) : static_cast<std::int64_t>(mantissa);
      return p;
    }
    int power = 0;  // of ten
    if (*p == '.') {
      ++p;
      const char* const first = p;
      while (p != end && digit(*p)) {
        ++digits;
        mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p++ - '0');
        if (digits > 15) return nullptr;
      }
      if (p == first || p == end) return nullptr;
      power = -static_cast<int>(p - first);
    }
    if (digits > 15) return nullptr;
    if ((*p | 32) == 'e') {
      ++p;
      const bool down = p != end && *p == '-';
      if (p != end && (*p == '-' || *p == '+')) ++p;
      const char* const first = p;
      int exponent = 0;
      while (p != end && digit(*p)) {
        if (p - first == 4) return nullptr;
        exponent = exponent * 10 + (*p++ - '0');
      }
      if (p == first || p == end) return nullptr;
      power += down ? -exponent : exponent;
    }
    if (power < -22 || power > 22) return nullptr;
    // Boost.JSON's dec_to_float, for these powers.
    double x = static_cast<double>(mantissa);
    if (negative) x = -x;
    auto& n = storage_.nodes.emplace_back();
    n.kind = JsonNode::Kind::double_;
    n.number = power < 0 ? x / kPow10[-power] : x * kPow10[power];
    return p;
  }

  struct Open {
    std::size_t head;   // its node
    std::size_t count;  // members or elements so far
    bool object;
  };

  const BodyCopy& body_;
  RecordStorage& storage_;
  UniqueKeys& unique_keys_;
  std::array<Open, kDepth> open_;
};

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
        storage_(std::make_shared<RecordStorage>()),
        body_{body.data(), body.data() + body.size(), storage_->keep_copy(body)},
        plain_(body_, *storage_, unique_keys_) {}

  bool read(Delivery& out) {
    ws();
    if (p_ == end_ || *p_ != '[') return false;
    ++p_;
    ws();
    // Room at once for what a body of this size usually holds (a record is rarely under 128 bytes with its
    // envelope; 64 bytes of body per node): the vectors grow by copying themselves, several times for a large body.
    const auto bytes = static_cast<std::size_t>(end_ - p_);
    out.events.reserve(bytes / 128 + 4);
    record_node_.reserve(bytes / 128 + 4);
    storage_->nodes.reserve(bytes / 64 + 16);
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
    if (p_ != end_) return false;
    // The nodes are where they stay: the records can point to them.
    const JsonNode* nodes = storage_->nodes.data();
    for (std::size_t i = 0; i < out.events.size(); ++i) {
      out.events[i].body = JsonView(nodes + record_node_[i]);
      out.events[i].storage = storage_;
    }
    return true;
  }

 private:
  void ws() {
    while (p_ != end_ && static_cast<unsigned char>(*p_) <= ' ' && is_ws(*p_)) ++p_;
  }

  // Room for one more event. The first guess (from the body's size) is small; past it, the number of
  // events is extrapolated from the bytes read so far, so that the vector grows about once.
  void make_room(std::vector<pipeline::Record>& events) {
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

  // A record that is not a string: read by hand when it is of the usual forms, else by Boost.JSON's parser
  // (on this value only); its nodes go into the storage.
  bool record_value() {
    const auto mark = storage_->mark();
    if (const char* next = plain_.read(p_, end_)) {
      p_ = next;
      return true;
    }
    storage_->rollback(mark);
    if (!parser_) {
      json::parse_options options;
      options.max_depth = kMemberDepth;
      parser_.emplace(options);
      parser_->handler().use(&body_, storage_.get(), &unique_keys_);
    }
    parser_->reset();
    json::error_code ec;
    const auto n = parser_->write_some(false, p_, static_cast<std::size_t>(end_ - p_), ec);
    if (ec) return false;
    p_ += n;
    return true;
  }

  // One {...} item of the array, p_ at its '{'. Of duplicate keys the last counts, as in a Boost.JSON object.
  bool item(Delivery& out) {
    std::string_view type, time;
    bool type_is_string = false, time_is_string = false;
    bool time_read = false;  // time_ms holds `time`, read at once (Lambda's own form)
    EpochMs time_ms;
    std::size_t record = npos;  // the record's node; none yet
    // Lambda's own shape is read at once, up to where the loop below would be after its three members.
    const Shape shape = lambda_shape(type, time, time_ms, record);
    if (shape == Shape::invalid) return false;
    bool members_read = shape == Shape::read;
    if (members_read) {
      type_is_string = time_is_string = time_read = true;
    } else {
      ++p_;
      ws();
      if (p_ != end_ && *p_ == '}') {
        ++p_;
        ++out.skipped;
        return true;
      }
    }
    for (;;) {
      if (members_read) {
        members_read = false;
      } else if (!member(type, time, time_ms, record, type_is_string, time_is_string, time_read)) {
        return false;
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
    if (!time_read && time_is_string) {
      if (const auto parsed = parse_iso8601(time)) time_read = true, time_ms = *parsed;
    }
    if (record == npos) {  // a missing record is null
      record = storage_->nodes.size();
      storage_->nodes.emplace_back();
    }
    make_room(out.events);
    pipeline::Record& event = out.events.emplace_back();
    event.type_name = keep(type);
    event.type = pipeline::Record::type_of(event.type_name);
    if (time_read) {
      event.time = keep(time);
      event.time_ms = time_ms;
    } else {
      if (received_text_.empty()) received_text_ = storage_->copy(format_iso8601_ms(received_));
      event.time = received_text_;
      event.time_ms = received_;
    }
    record_node_.push_back(record);
    return true;
  }

  // One "key": value member of an item, p_ at its key.
  bool member(std::string_view& type, std::string_view& time, EpochMs& time_ms, std::size_t& record,
              bool& type_is_string, bool& time_is_string, bool& time_read) {
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
          time_read = time_reader_.read(p_ + 1, time_ms);
        if (time_read) [[likely]] {
          time = std::string_view(p_ + 1, 24);
          p_ += 26;
        } else if (!(is_string ? string(time_, time) : skip_value(kMemberDepth))) {
          return false;
        }
        time_is_string = is_string;
        break;
      case Key::record:
        // A later record replaces an earlier one (whose nodes stay unused).
        record = storage_->nodes.size();
        if (is_string) {
          p_ = string_node(p_, body_, *storage_);
          if (!p_) return false;
        } else if (!record_value()) {
          return false;
        }
        break;
      case Key::other:
        if (!skip_value(kMemberDepth)) return false;
        break;
    }
    return true;
  }

  enum class Shape { other, read, invalid };

  // The start of an item (p_ at its '{') in Lambda's own shape, {"time":"2024-05-02T11:00:00.102Z","type":
  // "<plain text>","record":<value>: its three members as member() reads them, p_ past the record (read).
  // Anything else leaves p_ where it is (other); a record that is not valid JSON is invalid.
  Shape lambda_shape(std::string_view& type, std::string_view& time, EpochMs& time_ms, std::size_t& record) {
    constexpr std::string_view open = R"({"time":")", between = R"(","type":")", before_record = R"(","record":)";
    constexpr std::size_t type_at = open.size() + 24 + between.size();
    if (static_cast<std::size_t>(end_ - p_) < type_at || std::memcmp(p_, open.data(), open.size()) != 0 ||
        std::memcmp(p_ + open.size() + 24, between.data(), between.size()) != 0)
      return Shape::other;
    const char* const type_text = p_ + type_at;
    const char* const quote = find_special(type_text, end_);
    if (static_cast<std::size_t>(end_ - quote) < before_record.size() ||
        std::memcmp(quote, before_record.data(), before_record.size()) != 0 ||
        !time_reader_.read(p_ + open.size(), time_ms))
      return Shape::other;
    time = std::string_view(p_ + open.size(), 24);
    type = std::string_view(type_text, static_cast<std::size_t>(quote - type_text));
    p_ = quote + before_record.size();
    ws();
    if (p_ == end_) return Shape::invalid;
    record = storage_->nodes.size();
    if (*p_ == '"') {
      p_ = string_node(p_, body_, *storage_);
      return p_ ? Shape::read : Shape::invalid;
    }
    return record_value() ? Shape::read : Shape::invalid;
  }

  // A text read from the body (a view into it, or into a buffer when it had escapes), kept in the storage.
  std::string_view keep(std::string_view text) {
    if (body_.holds(text.data())) return {body_.at(text.data()), text.size()};
    return storage_->copy(text);
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  const char* const begin_;
  const char* p_;
  const char* const end_;
  const EpochMs received_;
  std::shared_ptr<RecordStorage> storage_;  // one per delivery: the events' texts and records
  const BodyCopy body_;                     // the body, and its copy in the storage
  std::string_view received_text_;          // `received` as ISO 8601 (in the storage), once needed
  LambdaTimeReader time_reader_;
  std::vector<std::size_t> record_node_;  // each event's record: its first node
  std::string key_, type_, time_;         // unescaped text of strings that had escapes
  UniqueKeys unique_keys_;
  PlainReader plain_;                                      // for the records that are not strings
  std::optional<json::basic_parser<TapeBuilder>> parser_;  // for those that PlainReader leaves
};

}  // namespace

namespace detail {

bool valid_item(std::string_view text) {
  json::parse_options options;
  options.max_depth = kItemDepth;
  json::basic_parser<Validator> validator(options);
  json::error_code ec;
  const auto n = validator.write_some(false, text.data(), text.size(), ec);
  if (ec) return false;
  for (auto k = n; k < text.size(); ++k)
    if (!is_ws(text[k])) return false;
  return true;
}

std::optional<Delivery> read_batch_streaming(std::string_view body, EpochMs received) {
  Delivery out;
  Reader reader(body, received);
  if (!reader.read(out)) return std::nullopt;
  return out;
}

Result<Delivery> parse_batch_dom(std::string_view body, EpochMs received) {
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec);
  if (ec) return fail("telemetry body is not JSON (" + ec.message() + ")");
  if (!doc.is_array()) return fail("telemetry body is JSON but not an array");

  Delivery out;
  auto storage = std::make_shared<RecordStorage>(body.size());
  std::string_view received_text;
  std::vector<std::size_t> record_node;
  const auto& items = doc.as_array();
  out.events.reserve(items.size());
  for (const auto& item : items) {
    const auto* obj = item.if_object();
    const auto* type = obj ? obj->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string()) {
      ++out.skipped;
      continue;
    }
    pipeline::Record& event = out.events.emplace_back();
    event.type_name = storage->copy(type->get_string());
    event.type = pipeline::Record::type_of(event.type_name);
    std::string_view time;
    if (const auto* t = obj->if_contains("time"); t && t->is_string()) time = t->get_string();
    if (const auto parsed = parse_iso8601(time)) {
      event.time = storage->copy(time);
      event.time_ms = *parsed;
    } else {
      if (received_text.empty()) received_text = storage->copy(format_iso8601_ms(received));
      event.time = received_text;
      event.time_ms = received;
    }
    record_node.push_back(storage->nodes.size());
    const auto* r = obj->if_contains("record");
    storage->append(r ? *r : json::value(nullptr));
  }
  for (std::size_t i = 0; i < out.events.size(); ++i) {
    out.events[i].body = JsonView(storage->nodes.data() + record_node[i]);
    out.events[i].storage = storage;
  }
  return out;
}

}  // namespace detail

Result<Delivery> parse_batch(std::string_view body, EpochMs received) {
  if (auto batch = detail::read_batch_streaming(body, received)) return std::move(*batch);
  // Not a body the streaming reader takes. Not an array at all: Boost.JSON's DOM parse says what is wrong.
  // Else its items one by one, and the good (or repaired) ones read as a body of their own.
  auto salvaged = detail::salvage_items(body);
  if (!salvaged) return detail::parse_batch_dom(body, received);
  auto batch = detail::read_batch_streaming(salvaged->body, received);
  if (!batch) {
    // Should the reader ever refuse valid JSON, the body is still read, only slower.
    auto dom = detail::parse_batch_dom(salvaged->body, received);
    if (!dom) return dom;
    batch = std::move(*dom);
  }
  batch->skipped += salvaged->unreadable;
  batch->repaired += salvaged->repaired;
  return std::move(*batch);
}

}  // namespace elk::telemetry
