// Reading a JSON value into a tape (json/tape.h) by hand, for the forms that loggers and Lambda write, in the
// storage that keeps a copy of the text (json/tape_builder.h): a string's node (string_node) and any other
// value's (ValueReader). Header-only, like json/string_scan.h: they are on every record's path, and without LTO
// only a header lets them inline where they are used.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "json/string_scan.h"
#include "json/tape.h"
#include "json/tape_builder.h"
#include "json/text.h"

namespace elk::json_tape {

// Appends the string node of the JSON string at p (its opening quote, in the body) to the storage, its text
// in the body's copy: past the
// closing quote, nullptr when the string is not valid.
[[gnu::always_inline]] inline const char* string_node(const char* p, const BodyCopy& body, RecordStorage& storage) {
  const char* const begin = p + 1;
  const char* q = json_text::find_special(begin, body.end);
  std::size_t size;
  const char* next;
  if (q != body.end && *q == '"') [[likely]] {
    // Plain text: the copy holds it.
    size = static_cast<std::size_t>(q - begin);
    if (size > json_text::kMaxStringSize) return nullptr;
    next = q + 1;
  } else {
    next = json_text::read_string_in_place(p, body.end, body.at(begin), size);
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
inline constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// Reads a JSON value (an object, array, number, true, false or null) into the storage, by hand, when it
// keeps to the forms that loggers and Lambda write: nesting at most 16 deep; integers of at most 18 digits;
// other numbers of at most 15 significant digits and a power of ten within 10^-22..10^22. Whatever it reads is
// read as Boost.JSON reads it: for such numbers Boost.JSON makes the integer of the digits and multiplies or
// divides it by an exact power of ten, as this does. Anything else, valid or not, it leaves to Boost.JSON's
// parser (read() gives nullptr; json/tape_builder.h): it never judges.
class ValueReader {
 public:
  ValueReader(const BodyCopy& body, RecordStorage& storage, UniqueKeys& unique_keys)
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
    while (p != end && static_cast<unsigned char>(*p) <= ' ' && json_text::is_ws(*p)) ++p;
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

}  // namespace elk::json_tape
