#include "pipeline/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace elk::pipeline {
namespace {

std::string as_json_string(std::string_view s) {
  std::string out;
  JsonWriter w(out);
  w.string(s);
  return out;
}

TEST(JsonWriter, WritesNestedObjectsWithCommasInTheRightPlaces) {
  std::string out;
  JsonWriter w(out);
  w.begin_object();
  w.field("a", "x");
  w.key("b"), w.begin_object(), w.field("c", std::int64_t{1}), w.field("d", true), w.end_object();
  w.key("e"), w.begin_array(), w.integer(1), w.integer(2), w.end_array();
  w.field_number("f", 1.5);
  w.end_object();
  EXPECT_EQ(out, R"({"a":"x","b":{"c":1,"d":true},"e":[1,2],"f":1.5})");
}

TEST(JsonWriter, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(as_json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(as_json_string("l1\nl2\tx\r"), R"("l1\nl2\tx\r")");
  EXPECT_EQ(as_json_string(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(as_json_string(std::string("nul\0here", 8)), R"("nul\u0000here")");
}

TEST(JsonWriter, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(as_json_string("héllo ✓ 😀"), "\"héllo ✓ 😀\"");
  EXPECT_EQ(as_json_string("bad \xff byte"), "\"bad \xEF\xBF\xBD byte\"");
  EXPECT_EQ(as_json_string("cut \xE2\x9C"), "\"cut \xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_EQ(as_json_string("overlong \xC0\xAF"), "\"overlong \xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(JsonWriter, EveryByteStringGivesValidJson) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const auto v = boost::json::parse(as_json_string(all));
  EXPECT_TRUE(v.is_string());
}

TEST(JsonWriter, WritesNonFiniteNumbersAsNull) {
  std::string out;
  JsonWriter w(out);
  w.number(1.0 / 0.0);
  EXPECT_EQ(out, "null");
}

}  // namespace
}  // namespace elk::pipeline
