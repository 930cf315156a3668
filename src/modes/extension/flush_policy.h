// EXTENSION_LOG_FLUSH=auto: per invocation, whether the extension holds `next` to send that invocation's
// records (rare invocations: the environment would sit frozen with them) or lets them leave in the
// background (frequent invocations: the next thaw comes before a batch of ours is due anyway).
// It decides from what the extension observes: when each INVOKE arrived and when the runtime finished
// each invocation (platform.runtimeDone's time). Pure: times are passed in.
#pragma once

#include <chrono>
#include <optional>

#include "core/types.h"

namespace elk::extension {

class AutoFlush {
 public:
  // Invocations whose idle gap (the previous invocation's runtime end -> this INVOKE) is at least
  // `rare_after` are rare.
  explicit AutoFlush(std::chrono::milliseconds rare_after) : rare_after_(rare_after) {}

  // An INVOKE arrived at `now`: true when its records should be sent before next. The first invocation is
  // rare (nothing observed yet: a cold start is what a rare function looks like).
  [[nodiscard]] bool on_invoke(EpochMs now);
  // The runtime finished an invocation invoked at `invoked`, at `done` (platform.runtimeDone's time).
  void on_runtime_done(EpochMs invoked, EpochMs done);

  // The last idle gap estimated, for the log.
  [[nodiscard]] std::optional<std::chrono::milliseconds> last_gap() const { return last_gap_; }

 private:
  std::chrono::milliseconds rare_after_;
  std::optional<EpochMs> previous_invoke_;
  std::optional<std::chrono::milliseconds> runtime_;  // the latest runtime duration observed
  std::optional<std::chrono::milliseconds> last_gap_;
};

}  // namespace elk::extension
