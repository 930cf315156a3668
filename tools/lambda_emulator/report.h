// What a run measured, as the --report JSON: per invocation (status, the latency the extensions added,
// the lines that arrived before the next INVOKE), the lines' freshness at a file destination, per extension
// (registration and init times, exit, CPU and memory), the errors posted, why the run did not go to plan,
// and every event as each subscriber got it, delivered or not.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/types.h"
#include "emulator.h"
#include "extension.h"
#include "support.h"
#include "telemetry.h"

namespace elk::emulator {

struct Invocation {
  RequestId request_id;
  std::size_t runtime_done_event = 0;  // index in the events of platform.runtimeDone
  std::size_t end_event = 0;           // ... and platform.end (the Logs API without runtimeDone)
  std::int64_t invoked_us = 0;         // when INVOKE was handed to the extensions (Unix us)
  Clock::time_point runtime_done_at;   // when the runtime finished: platform.runtimeDone emitted, not delivered
  bool in_time = true;
  std::string status;
  double duration_ms = 0;
};

// What the run recorded beyond the extensions' own state: the lifecycle and the API append to it.
struct RunRecord {
  std::vector<Invocation> invocations;
  std::map<std::pair<int, int>, std::int64_t> emitted_us;  // function line -> when the runtime wrote it (Unix us)
  std::vector<ErrorReport> init_errors, exit_errors;
  boost::json::array subscriptions;            // every subscription request: extension, api, body
  std::vector<std::string> failures;           // why the run did not go to plan
  int killed_at = 0;                           // the invocation of the planned kill
  std::optional<std::string> shutdown_reason;  // of the SHUTDOWN sent, if one was
  std::optional<double> init_duration_ms;
};

// Everything the report is made of.
struct ReportInput {
  const Options& options;
  std::uint16_t port;  // of the APIs, 0 when they did not start
  std::size_t lines_sent;
  const std::vector<Extension>& extensions;
  const RunRecord& record;
  const std::vector<std::unique_ptr<Subscriber>>& subscribers;
  const boost::json::object* function = nullptr;  // function mode: the runtime, its inits and invocations
};

// The report without its events.
[[nodiscard]] boost::json::object report(const ReportInput& in);

// report(), then "events": every event as each subscriber got it, written from its serialized text (a tree of
// them would hold a 100 MB burst of lines once more).
void write_report(std::ostream& out, const ReportInput& in);

}  // namespace elk::emulator
