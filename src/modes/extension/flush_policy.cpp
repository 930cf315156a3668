#include "modes/extension/flush_policy.h"

#include <algorithm>

namespace elk::extension {
namespace {
constexpr std::size_t remembered = 8;
}

bool AutoFlush::on_invoke(std::string request, EpochMs now) {
  bool rare = true;
  if (!recent_.empty()) {
    // The previous invocation ran for about as long as the latest one whose runtimeDone we have seen (in
    // the background its own runtimeDone usually arrives during this invocation, after this decision).
    const auto since_previous = std::chrono::milliseconds(now.value - recent_.back().invoked.value);
    const auto gap =
        std::max(since_previous - runtime_.value_or(std::chrono::milliseconds(0)), std::chrono::milliseconds(0));
    last_gap_ = gap;
    rare = gap >= rare_after_;
  }
  recent_.push_back({std::move(request), now});
  if (recent_.size() > remembered) recent_.pop_front();
  return rare;
}

void AutoFlush::on_runtime_done(std::string_view request, EpochMs time) {
  const auto it = std::find_if(recent_.begin(), recent_.end(), [&](const Seen& s) { return s.request == request; });
  if (it == recent_.end()) return;
  runtime_ = std::chrono::milliseconds(std::max<std::int64_t>(time.value - it->invoked.value, 0));
}

}  // namespace elk::extension
