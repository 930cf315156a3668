// How the extension spends SHUTDOWN's time (the event's deadlineMs: 2,000 ms when an external extension is
// registered, PROTOCOLS.md §1): first
// late telemetry is taken in (the last invocation's report comes after `next`), then one final flush,
// then what is left goes to the spill, and the process exits before the deadline. Pure: times are passed
// in, so the rules are unit-tested without a clock.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/time.h"

namespace elk::extension {

struct ShutdownBudget {
  // Time kept free: intake stops `flush_budget` + `margin` before the deadline; sending stops
  // `spill_reserve` + `margin` before it, spilling what is left; the extension exits at least `margin`
  // before it.
  static constexpr std::chrono::milliseconds flush_budget{500};
  static constexpr std::chrono::milliseconds spill_reserve{150};
  static constexpr std::chrono::milliseconds margin{100};

  SteadyTime intake_end;      // no more waiting for telemetry after this
  SteadyTime flush_deadline;  // the final flush sends until this, then spills

  [[nodiscard]] static ShutdownBudget of(SteadyTime deadline) {
    return {deadline - flush_budget - margin, deadline - margin - spill_reserve};
  }

  // While taking late telemetry in: nullopt when intake is over at `now` — at intake_end, or once the last
  // invocation's report is in (`report_in`) and nothing arrived for `quiet` — else when to look again
  // (unless telemetry arrives first).
  [[nodiscard]] std::optional<SteadyTime> keep_taking_until(SteadyTime now, bool report_in, SteadyTime last_event_at,
                                                            std::chrono::milliseconds quiet) const {
    if (now >= intake_end) return std::nullopt;
    if (report_in && now - last_event_at >= quiet) return std::nullopt;
    return report_in ? std::min(intake_end, last_event_at + quiet) : intake_end;
  }
};

}  // namespace elk::extension
