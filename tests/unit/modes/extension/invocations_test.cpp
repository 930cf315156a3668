#include "modes/extension/invocations.h"

#include <gtest/gtest.h>

#include <string>

namespace elk::extension {
namespace {

TEST(Invocations, RecordsEachInvocationsInvokeRuntimeEndAndReport) {
  Invocations seen;
  EXPECT_EQ(seen.latest(), "");
  seen.on_invoke("a", EpochMs{100});
  EXPECT_EQ(seen.latest(), "a");
  EXPECT_FALSE(seen.runtime_done("a"));
  const auto& a = seen.on_runtime_done("a", EpochMs{130});
  ASSERT_TRUE(a.invoked);
  EXPECT_EQ(a.invoked->value, 100);
  EXPECT_TRUE(seen.runtime_done("a"));
  EXPECT_FALSE(seen.reported("a"));
  seen.on_report("a");
  EXPECT_TRUE(seen.reported("a"));
  seen.on_invoke("b", EpochMs{200});
  EXPECT_EQ(seen.latest(), "b");
  EXPECT_FALSE(seen.runtime_done("b"));
  EXPECT_TRUE(seen.reported("a"));
}

// Telemetry of an invocation can be handled before its INVOKE: it is kept, without an invoke time (the flush
// policy learns no runtime duration from it), and the INVOKE then finds it.
TEST(Invocations, TelemetryBeforeItsInvokeIsKeptWithoutAnInvokeTime) {
  Invocations seen;
  EXPECT_FALSE(seen.on_runtime_done("zzz", EpochMs{50'000}).invoked);
  seen.on_invoke("zzz", EpochMs{49'000});
  EXPECT_TRUE(seen.runtime_done("zzz"));
  EXPECT_EQ(seen.latest(), "zzz");
}

TEST(Invocations, RemembersTheLastFewOnly) {
  Invocations seen;
  for (int i = 0; i < 20; ++i) {
    seen.on_invoke("r" + std::to_string(i), EpochMs{i * 100});
    seen.on_runtime_done("r" + std::to_string(i), EpochMs{i * 100 + 1});
  }
  EXPECT_TRUE(seen.runtime_done("r19"));
  EXPECT_TRUE(seen.runtime_done("r" + std::to_string(20 - Invocations::kept)));
  EXPECT_FALSE(seen.runtime_done("r" + std::to_string(19 - Invocations::kept)));
  EXPECT_FALSE(seen.reported("r0"));
}

}  // namespace
}  // namespace elk::extension
