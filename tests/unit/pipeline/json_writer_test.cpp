#include "pipeline/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "pipeline/record.h"

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

// The buffer's writer (16 and 8 bytes at a time) writes what the string's writer (byte by byte) writes: strings
// of every length around the block sizes, with specials anywhere, and after any amount already written.
TEST(JsonWriter, TheBuffersStringWriterWritesWhatTheStringsWrites) {
  std::mt19937 rng(17);
  const std::string specials =
      std::string("\"\\\n\r\t\b\f\x01\x1f\x7f\x80\xC3\xA9\xE2\x9C\x93\xF0\x9F\x98\x80\xFF", 21) + '\0';
  for (int i = 0; i < 100000; ++i) {
    std::string s;
    const auto n = rng() % 80;
    for (std::size_t k = 0; k < n; ++k)
      s += rng() % 4 == 0 ? specials[rng() % specials.size()] : static_cast<char>('a' + rng() % 26);
    std::string expected;
    JsonWriter(expected).string(s);
    JsonBuffer buffer;
    buffer.start(rng() % 64);
    const std::string before(rng() % 40, 'x');
    buffer += before;
    append_json_string(buffer, s);
    ASSERT_EQ(buffer.view(), before + expected) << i;
  }
}

TEST(JsonWriter, NumbersAreStdToCharsShortestText) {
  std::mt19937_64 rng(19);
  auto expect_to_chars = [](double v) {
    char want[64];
    const auto r = std::to_chars(want, want + sizeof want, v);
    std::string got;
    JsonWriter(got).number(v);
    EXPECT_EQ(got, std::string(want, r.ptr)) << v;
  };
  for (double v : {0.0,
                   -0.0,
                   1.0,
                   0.5,
                   0.001,
                   0.0001,
                   1e-5,
                   1e4,
                   1e5,
                   1e6,
                   1e15,
                   1e16,
                   123456789012345.0,
                   0.1,
                   0.3,
                   2.113,
                   125.93,
                   0.198,
                   100000.0,
                   1200.0,
                   12345.6789,
                   1125899906842623.0,
                   5e-324,
                   1.7976931348623157e308})
    expect_to_chars(v), expect_to_chars(-v);
  for (int i = 0; i < 300000; ++i) {
    double v;
    switch (i % 3) {
      case 0:  // telemetry's numbers: a few decimals
        v = static_cast<double>(rng() % 100000000) / std::pow(10.0, static_cast<double>(rng() % 6));
        break;
      case 1: {  // any double
        const std::uint64_t bits = rng();
        std::memcpy(&v, &bits, sizeof v);
        if (!std::isfinite(v)) continue;
        break;
      }
      default:  // powers of ten and their neighbours
        v = std::pow(10.0, static_cast<double>(static_cast<int>(rng() % 40) - 20)) * static_cast<double>(rng() % 1000);
        break;
    }
    expect_to_chars(rng() % 2 ? v : -v);
  }
}

TEST(JsonWriter, TwoDecimalsArePrintfsText) {
  std::mt19937_64 rng(23);
  auto expect_printf = [](double v) {
    char want[64], got[32];
    std::snprintf(want, sizeof want, "%.2f", v);
    if (const auto n = two_decimals(v, got)) {
      EXPECT_EQ(std::string(got, n), want) << v;
    }
  };
  for (double v : {0.0, -0.0, 0.005, 0.015, 0.125, 1.005, 9999999999999.99, 1e13, 0.01, 0.1, 38.02, 125.93, 412.57})
    expect_printf(v), expect_printf(-v);
  for (int i = 0; i < 300000; ++i) {
    double v = i % 2 ? static_cast<double>(rng() % 100000000) / 100.0
                     : static_cast<double>(rng() % 1000000) / std::pow(10.0, static_cast<double>(rng() % 4));
    expect_printf(rng() % 2 ? v : -v);
  }
  char out[32];
  EXPECT_EQ(two_decimals(2.113, out), 0u);  // three decimals: left to printf
  EXPECT_EQ(two_decimals(1e13, out), 0u);
}

TEST(JsonWriter, WritesARecordsValuesAsTheyAre) {
  const auto v = boost::json::parse(
      R"({"s":"a\"b\u0001","n":[1,-2,18446744073709551615,2.5,1e300,-0.0,1E400],"o":{"k\n":{}},"t":true,"z":null})");
  const pipeline::Record ev("function", "", EpochMs{0}, v);
  std::string out;
  JsonWriter(out).value(ev.body);
  EXPECT_EQ(
      out, R"({"s":"a\"b\u0001","n":[1,-2,18446744073709551615,2.5,1e+300,-0,null],"o":{"k\n":{}},"t":true,"z":null})");
  out.clear();
  JsonWriter(out).value(json_tape::JsonView());
  EXPECT_EQ(out, "null");
}

}  // namespace
}  // namespace elk::pipeline
