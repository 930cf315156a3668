#include "modes/extension/flush_policy.h"

#include <algorithm>

namespace elk::extension {

bool AutoFlush::on_invoke(EpochMs now) {
  bool rare = true;
  if (previous_invoke_) {
    // The previous invocation ran for about as long as the latest one whose runtimeDone we have seen (in
    // the background its own runtimeDone usually arrives during this invocation, after this decision).
    const auto since_previous = std::chrono::milliseconds(now.value - previous_invoke_->value);
    const auto gap =
        std::max(since_previous - runtime_.value_or(std::chrono::milliseconds(0)), std::chrono::milliseconds(0));
    last_gap_ = gap;
    rare = gap >= rare_after_;
  }
  previous_invoke_ = now;
  return rare;
}

void AutoFlush::on_runtime_done(EpochMs invoked, EpochMs done) {
  runtime_ = std::chrono::milliseconds(std::max<std::int64_t>(done.value - invoked.value, 0));
}

}  // namespace elk::extension
