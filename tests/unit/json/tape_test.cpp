#include "json/tape.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "pipeline/record.h"
#include "sources/telemetry/parse.h"

namespace elk::json_tape {
namespace {

namespace json = boost::json;

// The record of a one-item body, read by the streaming reader.
pipeline::Record read_record(std::string_view record_json) {
  const auto body =
      R"([{"time":"2024-05-02T11:00:00.102Z","type":"function","record":)" + std::string(record_json) + "}]";
  auto batch = telemetry::detail::read_batch_streaming(body, EpochMs{0});
  EXPECT_TRUE(batch) << record_json;
  if (!batch || batch->events.size() != 1) return {};
  return batch->events[0];
}

TEST(Record, AnObjectsMembersComeInOrderWithTheirValues) {
  const auto ev =
      read_record(R"({"s":"a\nb","i":-7,"u":18446744073709551615,"d":2.5,"t":true,"n":null,"o":{"x":[1,"y"]}})");
  const auto r = ev.body;
  ASSERT_TRUE(r.is_object());
  EXPECT_EQ(r.size(), 7u);
  std::vector<std::string> keys;
  for (const auto& m : r.members()) keys.emplace_back(m.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"s", "i", "u", "d", "t", "n", "o"}));
  EXPECT_EQ(r.find("s").string(), "a\nb");
  EXPECT_EQ(r.find("i").number(), -7.0);
  EXPECT_EQ(r.find("u").node()->uint64, 18446744073709551615u);
  EXPECT_EQ(r.find("d").number(), 2.5);
  EXPECT_TRUE(r.find("t").node()->boolean);
  EXPECT_TRUE(r.find("n").is_null());
  EXPECT_TRUE(r.find("n"));  // null is a value
  const auto x = r.find("o").find("x");
  ASSERT_TRUE(x.is_array());
  std::vector<std::string> elements;
  for (const auto e : x.elements()) elements.push_back(json::serialize(e.to_value()));
  EXPECT_EQ(elements, (std::vector<std::string>{"1", R"("y")"}));
}

TEST(Record, AMissingMemberIsNothingAndReadsAsEmpty) {
  const auto ev = read_record(R"({"a":1})");
  const auto missing = ev.body.find("b");
  EXPECT_FALSE(missing);
  EXPECT_FALSE(missing.is_null());
  EXPECT_EQ(missing.string(), "");
  EXPECT_FALSE(missing.number());
  EXPECT_EQ(missing.members().begin(), missing.members().end());
  EXPECT_FALSE(missing.find("a"));
  EXPECT_EQ(ev.body.find("a").string(), "");  // not a string
}

TEST(Record, OfDuplicateKeysTheFirstPlaceKeepsTheLastValue) {
  const auto ev = read_record(R"({"a":1,"b":{"c":[1,{"d":1,"d":2}]},"a":{"e":3},"b":"last","f":0})");
  EXPECT_EQ(ev.body.size(), 3u);
  EXPECT_EQ(json::serialize(ev.body.to_value()), R"({"a":{"e":3},"b":"last","f":0})");
  const auto nested = read_record(R"({"x":{"a":1,"a":{"b":2},"c":[{"d":1,"d":2}]}})");
  EXPECT_EQ(json::serialize(nested.body.to_value()), R"({"x":{"a":{"b":2},"c":[{"d":2}]}})");
  // Many keys (the sorted path), some of them twice.
  std::string many = "{", expected = "{";
  for (int i = 0; i < 40; ++i) many += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  for (int i = 0; i < 40; i += 3) many += "\"k" + std::to_string(i) + "\":\"again\",";
  many.back() = '}';
  EXPECT_EQ(json::serialize(read_record(many).body.to_value()), json::serialize(json::parse(many)));
}

TEST(Record, StringRecordsAndOtherValues) {
  EXPECT_EQ(read_record(R"("line\twith tab\n")").body.string(), "line\twith tab\n");
  EXPECT_TRUE(read_record("null").body.is_null());
  EXPECT_EQ(read_record("42").body.number(), 42.0);
  EXPECT_EQ(read_record("[]").body.size(), 0u);
  EXPECT_TRUE(read_record("{}").body.is_object());
}

TEST(Record, AnEventCopiedOutOfItsBatchKeepsItsTextsAndRecord) {
  pipeline::Record kept;
  {
    auto batch = telemetry::parse_batch(R"([{"time":"2024-05-02T11:00:00.102Z","type":"platform.report",
                                  "record":{"requestId":"r-1","metrics":{"durationMs":1.5}}}])",
                                        EpochMs{0});
    ASSERT_TRUE(batch);
    kept = batch->events[0];
  }
  EXPECT_EQ(kept.type_name, "platform.report");
  EXPECT_EQ(kept.time, "2024-05-02T11:00:00.102Z");
  EXPECT_EQ(kept.body.find("requestId").string(), "r-1");
  EXPECT_EQ(kept.body.find("metrics").find("durationMs").number(), 1.5);
}

TEST(Record, AnEventMadeFromAValueOwnsACopyOfIt) {
  const json::value v = json::parse(R"({"requestId":"r-2","spans":[{"name":"x","durationMs":0.25}],"n":null})");
  const pipeline::Record ev("platform.runtimeDone", "2024-05-02T11:00:00.102Z", EpochMs{5}, v);
  EXPECT_EQ(ev.type_name, "platform.runtimeDone");
  EXPECT_EQ(ev.time_ms, EpochMs{5});
  EXPECT_EQ(ev.body.find("requestId").string(), "r-2");
  EXPECT_EQ(ev.body.to_value(), v);
  EXPECT_EQ(json::serialize(ev.body.to_value()), json::serialize(v));
  EXPECT_EQ(pipeline::Record("function", "", EpochMs{1}, json::value("text")).type, pipeline::Record::Type::function);
  EXPECT_EQ(ev.type, pipeline::Record::Type::platform);
}

TEST(Record, StorageKeepsTextsWhereTheyAreAsItGrows) {
  RecordStorage storage(8);
  std::vector<std::string_view> texts;
  for (int i = 0; i < 2000; ++i) texts.push_back(storage.copy("text number " + std::to_string(i)));
  for (int i = 0; i < 2000; ++i) EXPECT_EQ(texts[static_cast<std::size_t>(i)], "text number " + std::to_string(i));
  EXPECT_EQ(storage.copy("").size(), 0u);
}

}  // namespace
}  // namespace elk::json_tape
