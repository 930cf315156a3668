#include "json/string_scan.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <string_view>

namespace elk::json_text {
namespace {

namespace json = boost::json;

// What Boost.JSON makes of `quoted` (a JSON string, quotes included): its text, or nullopt when it refuses it.
std::optional<std::string> boost_text(std::string_view quoted) {
  boost::system::error_code ec;
  const auto v = json::parse(quoted, ec);
  if (ec || !v.is_string()) return std::nullopt;
  return std::string(v.get_string());
}

// What scan_string and unescape make of it.
std::optional<std::string> scanned_text(std::string_view quoted) {
  const auto s = scan_string(quoted.data(), quoted.data() + quoted.size());
  if (!s.next) return std::nullopt;
  EXPECT_EQ(s.next, quoted.data() + quoted.size()) << quoted;
  if (!s.escaped) return std::string(s.raw);
  std::string out(s.raw.size(), '\0');
  out.resize(unescape(s.raw, out.data()));
  return out;
}

// What read_string_in_place makes of it, in a copy of `quoted` followed by other bytes, which it leaves as
// they were.
std::optional<std::string> in_place_text(std::string_view quoted) {
  const std::string tail = "]} and more than 16 bytes after the string";
  const std::string text = std::string(quoted) + tail;
  std::string copy = text;
  std::size_t written = 0;
  const char* next = read_string_in_place(text.data(), text.data() + text.size(), copy.data() + 1, written);
  if (!next) return std::nullopt;
  EXPECT_EQ(next, text.data() + quoted.size()) << quoted;
  EXPECT_EQ(copy.substr(quoted.size()), tail) << "the bytes after the string are as they were: " << quoted;
  return copy.substr(1, written);
}

const char* const kStrings[] = {
    R"("")",
    R"("plain text, longer than sixteen bytes")",
    R"("a\nb\tc\"d\\e\/f\bg\fh\ri")",
    R"("\u00e9\u20ac\ud83d\ude00 and after the escapes, more than sixteen bytes of text")",
    "\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"",
    R"("\ud83d")",        // a leading surrogate alone
    R"("\ude00")",        // a trailing surrogate first
    R"("\ud83d\u0041")",  // a leading surrogate, then no trailing one
    R"("\u12G4")",        // not hex
    R"("\x")",            // no such escape
    "\"a\x01z\"",         // a control character
    "\"\xC0\xAF\"",       // an overlong form
    "\"\xED\xA0\x80\"",   // a surrogate in UTF-8
    "\"\xE2\x82\"",       // cut short
    "\"\xFF\"",           // never UTF-8
    R"("no closing quote)",
    R"("a backslash at the end\)",
};

TEST(StringScan, ValidatesAndUnescapesAsBoostJsonDoes) {
  for (const std::string_view s : kStrings) {
    EXPECT_EQ(scanned_text(s), boost_text(s)) << s;
    EXPECT_EQ(in_place_text(s), boost_text(s)) << s;
  }
}

TEST(StringScan, SaysWhetherAStringHadEscapes) {
  const std::string_view plain = R"("no escapes")", escaped = R"("one\n")";
  EXPECT_FALSE(scan_string(plain.data(), plain.data() + plain.size()).escaped);
  EXPECT_TRUE(scan_string(escaped.data(), escaped.data() + escaped.size()).escaped);
}

TEST(StringScan, WhitespaceIsJsonsFourBytes) {
  for (int c = 0; c < 256; ++c)
    EXPECT_EQ(is_ws(static_cast<char>(c)), c == ' ' || c == '\t' || c == '\n' || c == '\r') << c;
}

}  // namespace
}  // namespace elk::json_text
