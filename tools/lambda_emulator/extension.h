// One extension as the emulated Lambda sees it: its process, its registration, the event waiting for its
// next `next`, and what it did (the report reads these). The API (api.h) and the lifecycle (emulator.cpp)
// change it; the telemetry (telemetry.h) and the report (report.h) read it.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "processes.h"
#include "support.h"

namespace elk::emulator {

struct Subscriber;  // telemetry.h

// An event waiting for the extension's next `next`.
struct Pending {
  std::string body;
  bool shutdown = false;
  int invocation = 0;
};

struct Extension {
  std::string name;
  std::filesystem::path path;
  pid_t pid = -1;
  Clock::time_point spawned;

  std::string id;  // Lambda-Extension-Identifier; empty until registered
  std::vector<std::string> events;
  std::optional<Clock::time_point> registered_at, first_next_at;
  Subscriber* subscriber = nullptr;

  std::optional<Pending> pending;
  bool busy = false;  // took an event and has not called next since
  bool shutdown_taken = false;
  bool shutdown_sent = false;
  int invocation = 0;                                 // the last INVOKE it took
  std::map<int, Clock::time_point> post_invoke_next;  // invocation -> its first next after that INVOKE
  bool init_error = false;

  bool stopped = false;
  bool exited = false;
  bool exited_early = false;  // before it was sent SHUTDOWN, on its own
  bool killed = false;
  bool planned_kill = false;                    // killed by --kill-at-invocation
  std::optional<bool> called_next_before_kill;  // ... after it had called next for that invocation
  Clock::time_point exited_at;
  std::optional<std::int64_t> exit_code, signal;
  std::optional<ProcStats> stats;                // at SHUTDOWN, or just before the planned kill
  std::optional<std::int64_t> reaped_maxrss_kb;  // the kernel's peak RSS of the process, when it was reaped

  [[nodiscard]] bool wants(std::string_view event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }
  [[nodiscard]] bool alive() const { return pid > 0 && !exited; }
};

// An init/error or exit/error an extension posted, or a failure to start or a crash during init.
struct ErrorReport {
  std::string extension;
  std::string error_type;
  std::string body;
};

}  // namespace elk::emulator
