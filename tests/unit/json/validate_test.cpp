#include "json/validate.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <string_view>

namespace elk::json_text {
namespace {

namespace json = boost::json;

bool boost_takes(std::string_view text, std::size_t max_depth) {
  json::parse_options options;
  options.max_depth = max_depth;
  boost::system::error_code ec;
  json::parse(text, ec, {}, options);
  return !ec;
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(Validate, TakesWhatBoostJsonsDomParseTakes) {
  const char* const texts[] = {
      "null",     " true ",
      "-0.5e+3",  R"({"a":[1,{"b":"c"}],"a":2})",
      "\t[]\n",   R"("\ud83d\ude00")",
      "",  // nothing
      "01",       "[1,]",
      R"({"a"})", R"({"a":1,})",
      "nul",      R"("\ud83d")",
      "\"\xFF\"", "[1] [2]",
      "tru e",    "1.",
      "-",
  };
  for (const std::string_view t : texts) EXPECT_EQ(valid_value(t, 32), boost_takes(t, 32)) << t;
}

TEST(Validate, NestingIsLimitedAsBoostJsonLimitsIt) {
  for (std::size_t depth : {1, 5, 30, 31, 32}) {
    EXPECT_TRUE(valid_value(nested(depth), depth)) << depth;
    EXPECT_FALSE(valid_value(nested(depth + 1), depth)) << depth;
    EXPECT_EQ(valid_value(nested(depth + 1), depth), boost_takes(nested(depth + 1), depth)) << depth;
  }
}

TEST(Validate, SkipValuePassesOverOneValueAndTheWhitespaceAfterItAndLooksNoFurther) {
  const std::string_view text = R"(  {"a":[1,2]} , garbage)";
  const char* end = text.data() + text.size();
  const char* next = skip_value(text.data(), end, 32);
  ASSERT_NE(next, nullptr);
  EXPECT_EQ(std::string_view(next, static_cast<std::size_t>(end - next)), ", garbage");
  const std::string_view cut = R"({"a":[1,2)";
  EXPECT_EQ(skip_value(cut.data(), cut.data() + cut.size(), 32), nullptr);
}

}  // namespace
}  // namespace elk::json_text
