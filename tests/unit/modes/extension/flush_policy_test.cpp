#include "modes/extension/flush_policy.h"

#include <gtest/gtest.h>

namespace elk::extension {
namespace {

using std::chrono::milliseconds;

TEST(AutoFlush, TheFirstInvocationIsRare) {
  AutoFlush p(milliseconds(1000));
  EXPECT_TRUE(p.on_invoke(EpochMs{10'000}));
  EXPECT_FALSE(p.last_gap());
}

TEST(AutoFlush, InvocationsCloserThanTheBatchAgeAreFrequent) {
  AutoFlush p(milliseconds(1000));
  std::int64_t t = 10'000;
  ASSERT_TRUE(p.on_invoke(EpochMs{t}));
  for (int i = 1; i < 20; ++i) {
    t += 100;
    EXPECT_FALSE(p.on_invoke(EpochMs{t})) << i;
    p.on_runtime_done(EpochMs{t}, EpochMs{t + 1});
  }
}

TEST(AutoFlush, InvocationsFurtherApartAreRare) {
  AutoFlush p(milliseconds(1000));
  std::int64_t t = 10'000;
  for (int i = 0; i < 5; ++i, t += 5000) {
    EXPECT_TRUE(p.on_invoke(EpochMs{t})) << i;
    p.on_runtime_done(EpochMs{t}, EpochMs{t + 20});
  }
  EXPECT_EQ(p.last_gap(), milliseconds(4980));
}

// Long invocations back to back leave no idle time: the runtime's own duration is not a gap, even when the
// previous invocation's runtimeDone has not arrived yet (it comes during the next invocation).
TEST(AutoFlush, LongInvocationsBackToBackAreFrequent) {
  AutoFlush p(milliseconds(1000));
  std::int64_t t = 10'000;
  ASSERT_TRUE(p.on_invoke(EpochMs{t}));
  p.on_runtime_done(EpochMs{t}, EpochMs{t + 3000});
  for (int i = 1; i < 6; ++i) {
    t += 3010;
    EXPECT_FALSE(p.on_invoke(EpochMs{t})) << i;
    if (i % 2 == 0) p.on_runtime_done(EpochMs{t - 3010}, EpochMs{t - 10});  // late, sometimes
  }
}

TEST(AutoFlush, ABurstAfterAPauseStartsRareThenTurnsFrequent) {
  AutoFlush p(milliseconds(1000));
  ASSERT_TRUE(p.on_invoke(EpochMs{0}));
  p.on_runtime_done(EpochMs{0}, EpochMs{5});
  EXPECT_FALSE(p.on_invoke(EpochMs{200}));
  EXPECT_TRUE(p.on_invoke(EpochMs{60'000}));
  EXPECT_FALSE(p.on_invoke(EpochMs{60'300}));
}

}  // namespace
}  // namespace elk::extension
