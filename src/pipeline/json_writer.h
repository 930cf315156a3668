// Appends compact JSON to a string: a document is written field by field, in a fixed order, with no
// intermediate tree. Strings are escaped per RFC 8259; invalid UTF-8 bytes become U+FFFD, so every
// document is valid JSON whatever the function printed.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "json/tape.h"
#include "json/text.h"

namespace elk::pipeline {

// A growable byte buffer with inline appends, for text written piece by piece and often (the enricher's
// documents, each written in the same buffer and then copied out at its exact size). Its storage is a
// std::string whose size is the room available; its first used_ bytes are written.
class JsonBuffer {
 public:
  JsonBuffer() = default;
  JsonBuffer(const JsonBuffer&) = default;
  JsonBuffer& operator=(const JsonBuffer&) = default;
  JsonBuffer(JsonBuffer&& other) noexcept : storage_(std::move(other.storage_)), used_(other.used_) {
    other.storage_.clear();
    other.used_ = 0;
  }
  JsonBuffer& operator=(JsonBuffer&& other) noexcept {
    storage_ = std::move(other.storage_), used_ = other.used_;
    other.storage_.clear(), other.used_ = 0;
    return *this;
  }

  // Starts over, with room for about `expected` bytes.
  void start(std::size_t expected) {
    used_ = 0;
    if (storage_.size() < expected) grow(expected);
  }
  [[nodiscard]] std::string_view view() const { return {storage_.data(), used_}; }
  [[nodiscard]] std::size_t size() const { return used_; }

  // (An empty text may have no bytes at all: memcpy is not to be given a null pointer, even for 0 bytes.)
  void append(const char* s, std::size_t n) {
    if (n != 0) std::memcpy(extend(n), s, n);
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void push_back(char c) { *extend(1) = c; }
  // n more bytes at the end, left for the caller to fill.
  char* extend(std::size_t n) {
    if (storage_.size() - used_ < n) grow(n);
    char* p = storage_.data() + used_;
    used_ += n;
    return p;
  }
  JsonBuffer& operator+=(std::string_view s) { return append(s), *this; }
  JsonBuffer& operator+=(char c) { return push_back(c), *this; }

  // For text written through a pointer: room for n more bytes at the end, where the pointer returned points;
  // what is written there counts once committed (commit(past the last byte written)).
  char* room(std::size_t n) {
    if (storage_.size() - used_ < n) grow(n);
    return storage_.data() + used_;
  }
  // Room for n more bytes from `at` (between room() and commit()): `at`, or where it is after the buffer grew.
  char* room_from(char* at, std::size_t n) {
    const auto written = static_cast<std::size_t>(at - storage_.data());
    if (storage_.size() - written < n) {
      used_ = written;  // kept as the buffer grows
      grow(n);
    }
    return storage_.data() + written;
  }
  void commit(const char* end) { used_ = static_cast<std::size_t>(end - storage_.data()); }

 private:
  void grow(std::size_t n);  // room for n more bytes

  std::string storage_;
  std::size_t used_ = 0;
};

// Appends `s` as a JSON string: quoted, escaped per RFC 8259, invalid UTF-8 bytes as U+FFFD. `Out` is a
// std::string or a JsonBuffer.
template <class Out>
void append_json_string(Out& out, std::string_view s);
// The same into a JsonBuffer, copying and checking 16 (or 8) bytes at a time.
void append_json_string_blocks(JsonBuffer& out, std::string_view s);
// A string of 4 to 16 bytes with nothing to escape (a level, an action, a type name) at once, inline; any
// other through append_json_string_blocks.
inline void append_json_string(JsonBuffer& out, std::string_view s) {
  const std::size_t n = s.size();
  if (n >= 4 && n <= 16) {
    // Two words that overlap or meet, each checked as 8 bytes (4-byte words: with 4 plain bytes above).
    std::uint64_t a = 0x6161616161616161, b = a;  // "aaaaaaaa": plain bytes above 4-byte words
    if (n >= 8)
      std::memcpy(&a, s.data(), 8), std::memcpy(&b, s.data() + n - 8, 8);
    else
      std::memcpy(&a, s.data(), 4), std::memcpy(&b, s.data() + n - 4, 4);
    if ((json_text::special_bytes(a) | json_text::special_bytes(b)) == 0) {
      char* o = out.room(n + 2);
      o[0] = '"';
      if (n >= 8)
        std::memcpy(o + 1, &a, 8), std::memcpy(o + 1 + n - 8, &b, 8);
      else
        std::memcpy(o + 1, &a, 4), std::memcpy(o + 1 + n - 4, &b, 4);
      o[n + 1] = '"';
      out.commit(o + n + 2);
      return;
    }
  }
  append_json_string_blocks(out, s);
}
// A JSON number: shortest round-trip form (std::to_chars's); null for infinities and NaN.
template <class Out>
void append_json_number(Out& out, double v);
// std::to_chars(v)'s text, written at out (room for 24 bytes), when it is in fixed notation with at most 4
// decimals, as telemetry's numbers are (2.113, 125.93, 40): written at once; else 0 (nothing written).
std::size_t short_fixed(double v, char* out);
// printf's "%.2f" text of v, written at out (room for 24 bytes), when v has at most 2 decimals (a report's
// 125.93 ms) and is below 10^13: written at once; else 0 (nothing written).
std::size_t two_decimals(double v, char* out);
template <class Out>
void append_json_integer(Out& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// Writes JSON to `Out`: a std::string (JsonWriter, every write visible at once) or a JsonBuffer.
template <class Out>
class BasicJsonWriter {
 public:
  explicit BasicJsonWriter(Out& out) : out_(out) {}

  void begin_object() {
    comma();
    out_ += '{';
    first_ = true;
  }
  void end_object() {
    out_ += '}';
    first_ = false;
  }
  void begin_array() {
    comma();
    out_ += '[';
    first_ = true;
  }
  void end_array() {
    out_ += ']';
    first_ = false;
  }
  // A key of ours (a literal with nothing to escape); the next call writes its value.
  void key(std::string_view k) {
    comma();
    out_ += '"';
    out_ += k;
    out_ += std::string_view("\":");
    first_ = true;  // the value follows without a comma
  }
  // A key from the outside world (a JSON log record's own keys): escaped.
  void key_escaped(std::string_view k) {
    comma();
    escape(k);
    out_ += ':';
    first_ = true;
  }
  void string(std::string_view s) {
    comma();
    escape(s);
  }
  // A string of ours known to hold nothing to escape (a timestamp, a literal).
  void plain_string(std::string_view s) {
    comma();
    out_ += '"';
    out_ += s;
    out_ += '"';
  }
  void integer(std::int64_t v) {
    comma();
    append_json_integer(out_, v);
  }
  void number(double v) {
    comma();
    append_json_number(out_, v);
  }
  void boolean(bool v) {
    comma();
    out_ += v ? std::string_view("true") : std::string_view("false");
  }
  // A value of a telemetry record, as is (strings re-escaped through the same rules); nothing writes null.
  void value(json_tape::JsonView v);

  // Pre-rendered members ("key":value[,"key":value...]) appended as they are.
  void raw_members(std::string_view fragment) {
    comma();
    out_ += fragment;
  }

  // Shorthands for a key and its value.
  void field(std::string_view k, std::string_view v) { key(k), string(v); }
  void field(std::string_view k, const char* v) { key(k), string(v); }
  void field(std::string_view k, std::int64_t v) { key(k), integer(v); }
  void field(std::string_view k, bool v) { key(k), boolean(v); }
  void field_number(std::string_view k, double v) { key(k), number(v); }
  void field_plain(std::string_view k, std::string_view v) { key(k), plain_string(v); }

 private:
  void comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void escape(std::string_view s) { append_json_string(out_, s); }

  Out& out_;
  bool first_ = true;
};

using JsonWriter = BasicJsonWriter<std::string>;
using BufferJsonWriter = BasicJsonWriter<JsonBuffer>;

extern template void append_json_string(std::string&, std::string_view);
extern template void append_json_number(std::string&, double);
extern template void append_json_number(JsonBuffer&, double);
extern template class BasicJsonWriter<std::string>;
extern template class BasicJsonWriter<JsonBuffer>;

}  // namespace elk::pipeline
