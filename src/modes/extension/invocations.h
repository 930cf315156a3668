// What the extension saw of its recent invocations: each INVOKE (its request id, when it came), when the runtime
// finished it (platform.runtimeDone's time) and whether its report came. The one record of them that the flush
// policy, the wait for runtimeDone and SHUTDOWN's wait for the last report read. Pure: times are passed in.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "core/types.h"

namespace elk::extension {

class Invocations {
 public:
  struct Invocation {
    std::string request;
    std::optional<EpochMs> invoked;       // when its INVOKE came; nullopt when its telemetry came first
    std::optional<EpochMs> runtime_done;  // platform.runtimeDone's time
    bool reported = false;                // platform.report came
  };

  // The last `kept` invocations are remembered (an event of an older one finds nothing).
  static constexpr std::size_t kept = 8;

  void on_invoke(std::string_view request, EpochMs at) {
    entry(request).invoked = at;
    latest_ = std::string(request);
  }
  // The invocation, as now known.
  const Invocation& on_runtime_done(std::string_view request, EpochMs at) {
    auto& i = entry(request);
    i.runtime_done = at;
    return i;
  }
  void on_report(std::string_view request) { entry(request).reported = true; }

  // The latest INVOKE's request id; "" before the first.
  [[nodiscard]] const std::string& latest() const { return latest_; }
  [[nodiscard]] bool runtime_done(std::string_view request) const {
    const auto* i = find(request);
    return i != nullptr && i->runtime_done;
  }
  [[nodiscard]] bool reported(std::string_view request) const {
    const auto* i = find(request);
    return i != nullptr && i->reported;
  }

 private:
  [[nodiscard]] const Invocation* find(std::string_view request) const {
    for (const auto& i : recent_)
      if (i.request == request) return &i;
    return nullptr;
  }
  Invocation& entry(std::string_view request) {
    for (auto& i : recent_)
      if (i.request == request) return i;
    if (recent_.size() == kept) recent_.pop_front();
    return recent_.emplace_back(Invocation{std::string(request), {}, {}, false});
  }

  std::deque<Invocation> recent_;  // in the order they were first seen
  std::string latest_;
};

}  // namespace elk::extension
