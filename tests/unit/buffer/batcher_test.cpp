#include "buffer/batcher.h"

#include <gtest/gtest.h>

namespace elk::buffer {
namespace {

using namespace std::chrono_literals;
const SteadyTime t0{std::chrono::hours(1)};

pipeline::Document doc(std::size_t size) {
  return {std::string(size, 'x'), EpochMs{0}};
}

TEST(Batcher, IsNotDueWhenEmpty) {
  Batcher b({10, 1000, 1000ms});
  EXPECT_FALSE(b.due(t0 + 1h));
  EXPECT_FALSE(b.due_at().has_value());
}

TEST(Batcher, IsDueWhenItHoldsMaxItems) {
  Batcher b({3, 1000, 1000ms});
  b.add(doc(1), t0);
  b.add(doc(1), t0);
  EXPECT_FALSE(b.due(t0));
  b.add(doc(1), t0);
  EXPECT_TRUE(b.due(t0));
}

TEST(Batcher, IsDueWhenItHoldsMaxBytes) {
  Batcher b({100, 10, 1000ms});
  b.add(doc(6), t0);
  EXPECT_FALSE(b.due(t0));
  b.add(doc(4), t0);
  EXPECT_TRUE(b.due(t0));
}

TEST(Batcher, IsDueWhenTheOldestRecordReachesMaxAge) {
  Batcher b({100, 1000, 1000ms});
  b.add(doc(1), t0);
  b.add(doc(1), t0 + 900ms);
  EXPECT_EQ(b.due_at(), t0 + 1000ms);
  EXPECT_FALSE(b.due(t0 + 999ms));
  EXPECT_TRUE(b.due(t0 + 1000ms));
}

TEST(Batcher, AgeCountsFromTheFirstRecordAfterADrain) {
  Batcher b({100, 1000, 1000ms});
  b.add(doc(1), t0);
  (void)b.drain();
  b.add(doc(1), t0 + 5s);
  EXPECT_FALSE(b.due(t0 + 5500ms));
  EXPECT_EQ(b.due_at(), t0 + 6s);
}

TEST(Batcher, DrainCutsBatchesWithinBothBoundsAndKeepsOrder) {
  Batcher b({3, 10, 1000ms});
  for (int i = 0; i < 7; ++i) b.add({std::string(3, static_cast<char>('a' + i)), EpochMs{i}}, t0);
  const auto batches = b.drain();
  // 3 bytes each, at most 10 bytes -> 3 per batch; at most 3 items -> 3 per batch.
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].documents.size(), 3u);
  EXPECT_EQ(batches[2].documents.size(), 1u);
  EXPECT_EQ(batches[0].bytes, 9u);
  std::string order;
  for (const auto& batch : batches)
    for (const auto& d : batch.documents) order += d.json[0];
  EXPECT_EQ(order, "abcdefg");
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.bytes(), 0u);
}

TEST(Batcher, ADocumentLargerThanMaxBytesTravelsAlone) {
  Batcher b({100, 10, 1000ms});
  b.add(doc(2), t0);
  b.add(doc(50), t0);
  b.add(doc(2), t0);
  const auto batches = b.drain();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].bytes, 50u);
}

}  // namespace
}  // namespace elk::buffer
