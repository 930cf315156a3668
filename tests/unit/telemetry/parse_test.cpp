#include "telemetry/parse.h"

#include <gtest/gtest.h>

#include "../test_util.h"

namespace elk::telemetry {
namespace {

constexpr EpochMs received{1700000000000};

struct SampleCase {
  std::string file;
  std::size_t events;
};

class Samples : public ::testing::TestWithParam<SampleCase> {};

TEST_P(Samples, EveryRecordOfTheReferenceBatchesParses) {
  const auto batch = parse_batch(test::telemetry_sample(GetParam().file), received);
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->events.size(), GetParam().events);
  EXPECT_EQ(batch->skipped, 0u);
  for (const auto& e : batch->events) {
    EXPECT_FALSE(e.type.empty());
    EXPECT_NE(e.time_ms, received) << "the sample's own time is used: " << e.time;
  }
}

INSTANTIATE_TEST_SUITE_P(Telemetry, Samples,
                         ::testing::Values(SampleCase{"function-json-logs.json", 13},
                                           SampleCase{"function-text-logs-multi-runtime.json", 15},
                                           SampleCase{"logs-api-batch-2021-03-18.json", 14},
                                           SampleCase{"platform-cold-start-invocation.json", 12},
                                           SampleCase{"platform-restore-timeout-errors.json", 13}));

TEST(ParseBatch, KeepsStringAndObjectRecordsAsTheyCame) {
  const auto batch = parse_batch(test::telemetry_sample("function-json-logs.json"), received);
  ASSERT_TRUE(batch);
  std::size_t objects = 0, strings = 0;
  for (const auto& e : batch->events) {
    if (e.type != "function") continue;
    objects += e.record.is_object();
    strings += e.record.is_string();
  }
  EXPECT_GT(objects, 0u);
  EXPECT_EQ(strings, 1u);  // the bare print() line
}

TEST(ParseBatch, ABodyThatIsNotAnArrayIsAnError) {
  EXPECT_FALSE(parse_batch("", received));
  EXPECT_FALSE(parse_batch("not json", received));
  EXPECT_FALSE(parse_batch(R"({"time":"x","type":"function","record":"a"})", received));
  EXPECT_FALSE(parse_batch(R"([{"type":"function"})", received));  // truncated
}

TEST(ParseBatch, ItemsThatAreNotRecordsAreSkippedAndCounted) {
  const auto batch = parse_batch(R"([1, "x", null, {"record":"no type"}, {"type":7},
                                    {"type":"function","time":"2024-05-02T10:15:30.520Z","record":"ok"}])",
                                 received);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->skipped, 5u);
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].record.as_string(), "ok");
}

TEST(ParseBatch, AMissingOrMalformedTimeTakesTheReceiveTime) {
  const auto batch = parse_batch(R"([{"type":"function","record":"a"},{"type":"function","time":"yesterday","record":"b"}])",
                                 received);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 2u);
  for (const auto& e : batch->events) {
    EXPECT_EQ(e.time_ms, received);
    EXPECT_EQ(e.time, "2023-11-14T22:13:20.000Z");
  }
}

TEST(ParseBatch, AnEmptyArrayIsAnEmptyBatch) {
  const auto batch = parse_batch("[]", received);
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->events.empty());
}

}  // namespace
}  // namespace elk::telemetry
