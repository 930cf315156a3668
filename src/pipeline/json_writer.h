// Appends compact JSON to a string: a document is written field by field, in a fixed order, with no
// intermediate tree. Strings are escaped per RFC 8259; invalid UTF-8 bytes become U+FFFD, so every
// document is valid JSON whatever the function printed.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace elk::pipeline {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

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
    out_ += "\":";
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
  void integer(std::int64_t v) {
    comma();
    out_ += std::to_string(v);
  }
  void number(double v);
  void boolean(bool v) {
    comma();
    out_ += v ? "true" : "false";
  }
  // Any Boost.JSON value, as is (strings re-escaped through the same rules).
  void value(const boost::json::value& v);

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

 private:
  void comma() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void escape(std::string_view s);

  std::string& out_;
  bool first_ = true;
};

}  // namespace elk::pipeline
