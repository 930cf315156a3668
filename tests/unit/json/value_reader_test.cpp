#include "json/value_reader.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "json/tape_builder.h"

namespace elk::json_tape {
namespace {

namespace json = boost::json;

enum class With { value_reader, tape_builder };

// The value in `text`, read into a storage that keeps a copy of it, serialized (so that the members' order
// counts); nullopt when the reader leaves it (ValueReader) or refuses it (TapeBuilder).
std::optional<std::string> read(std::string_view text, With with) {
  RecordStorage storage;
  const BodyCopy body{text.data(), text.data() + text.size(), storage.keep_copy(text)};
  UniqueKeys unique_keys;
  const char* next = nullptr;
  if (with == With::value_reader) {
    ValueReader reader(body, storage, unique_keys);
    next = reader.read(text.data(), body.end);
  } else {
    TapeBuilder builder(body, storage, unique_keys, 30);
    next = builder.read(text.data(), body.end);
  }
  if (!next) return std::nullopt;
  EXPECT_EQ(next, body.end) << text;
  EXPECT_EQ(storage.nodes.front().extent, storage.nodes.size()) << text;
  return json::serialize(JsonView(storage.nodes.data()).to_value());
}

std::string boost_reads(std::string_view text) {
  return json::serialize(json::parse(text));
}

TEST(ValueReader, ReadsTheUsualFormsAsBoostJsonDoes) {
  const char* const texts[] = {
      R"({"level":"INFO","msg":"a\nb \u00e9","n":-12,"d":0.125,"e":15e-3,"t":true,"f":false,"z":null})",
      R"([1,[2,[3,{}]],[],"x"])",
      R"({"a":1,"b":2,"a":3})",  // of duplicate keys the first one's place and the last one's value
      R"({ "spaced" : [ 1 , 2 ] , "out" : { "k" : "v" } })",
      "[123456789012345678]",  // 18 digits
      "[-9.87654321012345]",   // 15 significant digits
      "[1e22,1e-22,-0,0.5E+1]",
  };
  for (const std::string_view t : texts) {
    EXPECT_EQ(read(t, With::value_reader), boost_reads(t)) << t;
    EXPECT_EQ(read(t, With::tape_builder), boost_reads(t)) << t;
  }
}

TEST(ValueReader, LeavesOtherFormsToTheTapeBuilderWhichReadsThemAsBoostJsonDoes) {
  const std::string deep = std::string(17, '[') + std::string(17, ']');
  const char* const texts[] = {
      "[1234567890123456789]",           // 19 digits
      "[1.2345678901234567]",            // 17 significant digits
      "[1e23]",                          // a power of ten past 10^22
      "[18446744073709551615]",          // a uint64
      "[ ]",                             // an empty array with whitespace inside
      R"({"a":[1,2],"b":{"c":1e400}})",  // infinity, as Boost.JSON reads it
  };
  for (const std::string_view t : texts) {
    EXPECT_EQ(read(t, With::value_reader), std::nullopt) << t;
    EXPECT_EQ(read(t, With::tape_builder), boost_reads(t)) << t;
  }
  EXPECT_EQ(read(deep, With::value_reader), std::nullopt);
  EXPECT_EQ(read(deep, With::tape_builder), boost_reads(deep));
}

TEST(ValueReader, NeitherReaderTakesInvalidJson) {
  const char* const texts[] = {"[1,]", R"({"a" 1})", "[01]", "[tru]", R"(["\ud83d"])", "[1", R"({"a":})"};
  for (const std::string_view t : texts) {
    EXPECT_EQ(read(t, With::value_reader), std::nullopt) << t;
    EXPECT_EQ(read(t, With::tape_builder), std::nullopt) << t;
  }
}

TEST(TapeBuilder, NestingIsLimitedByItsMaxDepth) {
  const std::string ok = std::string(30, '[') + std::string(30, ']');
  const std::string deeper = std::string(31, '[') + std::string(31, ']');
  EXPECT_EQ(read(ok, With::tape_builder), boost_reads(ok));
  EXPECT_EQ(read(deeper, With::tape_builder), std::nullopt);
}

TEST(TapeBuilder, AStringWithEscapesReadsAsBoostJsonReadsIt) {
  const std::string_view t = R"({"k\u00e9y":"line\none","plain":"text"})";
  EXPECT_EQ(read(t, With::tape_builder), boost_reads(t));
  EXPECT_EQ(read(t, With::value_reader), boost_reads(t));
}

}  // namespace
}  // namespace elk::json_tape
