#include "modes/extension/shutdown_budget.h"

#include <gtest/gtest.h>

namespace elk::extension {
namespace {

using namespace std::chrono_literals;

const SteadyTime t0 = SteadyTime{} + 1000s;

// Lambda's 2 s: 1.4 s to take late telemetry in, the final flush until 250 ms before the deadline (150 ms
// to spill what is left, 100 ms to exit).
TEST(ShutdownBudget, KeepsTimeForTheFlushTheSpillAndTheExit) {
  const auto b = ShutdownBudget::of(t0 + 2000ms);
  EXPECT_EQ(b.intake_end, t0 + 1400ms);
  EXPECT_EQ(b.flush_deadline, t0 + 1750ms);
}

TEST(ShutdownBudget, WaitsForTheLastReportUntilIntakeEnds) {
  const auto b = ShutdownBudget::of(t0 + 2000ms);
  // The report has not come: wait until intake ends, however quiet it has been.
  EXPECT_EQ(b.keep_taking_until(t0, false, t0 - 10s, 100ms), b.intake_end);
  EXPECT_EQ(b.keep_taking_until(t0 + 1399ms, false, t0 - 10s, 100ms), b.intake_end);
  EXPECT_EQ(b.keep_taking_until(t0 + 1400ms, false, t0 - 10s, 100ms), std::nullopt);
}

TEST(ShutdownBudget, OnceTheReportIsInStopsAfterAQuietSpell) {
  const auto b = ShutdownBudget::of(t0 + 2000ms);
  // Something arrived 30 ms ago: look again when the quiet spell would be over.
  EXPECT_EQ(b.keep_taking_until(t0, true, t0 - 30ms, 100ms), t0 + 70ms);
  EXPECT_EQ(b.keep_taking_until(t0 + 70ms, true, t0 - 30ms, 100ms), std::nullopt);
  // Never past intake's end, even while telemetry keeps coming.
  EXPECT_EQ(b.keep_taking_until(t0 + 1350ms, true, t0 + 1340ms, 100ms), b.intake_end);
}

// A deadline already passed (a late SHUTDOWN, a clock step): nothing is waited for.
TEST(ShutdownBudget, ADeadlineAlreadyPassedTakesNothingMoreIn) {
  const auto b = ShutdownBudget::of(t0 - 1s);
  EXPECT_EQ(b.keep_taking_until(t0, false, t0, 100ms), std::nullopt);
  EXPECT_LT(b.flush_deadline, t0);
}

}  // namespace
}  // namespace elk::extension
