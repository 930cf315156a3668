// A local Lambda execution environment for extensions: it starts every executable in a directory as
// Lambda starts /opt/extensions/*, serves the Extensions, Telemetry and Logs APIs on 127.0.0.1, plays a
// scripted function (init, N invocations, shutdown) with Lambda's freeze and deadlines, delivers the
// telemetry with Lambda's buffering and retries, and reports what happened. Single-threaded: one
// io_context, coroutines.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "script.h"

namespace elk::emulator {

// Function mode (--function): the emulator as Lambda running a log forwarder's custom runtime, invoked with
// CloudWatch Logs subscription payloads (asynchronous invocations) or Kinesis batches of them.
enum class EventSource { cloudwatch, kinesis };
struct FunctionMode {
  std::filesystem::path path;  // the runtime's bootstrap
  EventSource events = EventSource::cloudwatch;
  std::string source_function = "demo-function";  // whose logs the payloads carry
  int streams = 2;                                // the source's log streams
  int source_timeout_every = 0;                   // every Nth source invocation times out (0: none)
  int batch_size = 3;                             // Kinesis records per batch
  int max_retry_attempts = 2;
  std::chrono::milliseconds retry_delay{50};
  std::optional<std::filesystem::path> on_failure_file;
  bool bad_payloads = false;
};

struct Options {
  std::filesystem::path extensions_dir;
  std::optional<FunctionMode> function_mode;  // set: --function, no extensions
  int invocations = 3;
  int lines = 5;  // function log lines per invocation
  FunctionSetup function;
  std::chrono::milliseconds invoke{5};  // how long the handler runs (the lines are spread over it)
  std::chrono::milliseconds function_timeout{3000};
  std::chrono::milliseconds shutdown_deadline{2000};
  std::chrono::milliseconds idle{0};  // frozen time between invocations
  std::string shutdown_reason = "spindown";
  bool telemetry_api = true;  // off: PUT /2022-07-01/telemetry answers 404
  std::uint16_t port = 0;     // 0: ephemeral
  std::optional<std::filesystem::path> report;
  // A file destination's directory: the report then says when every function line arrived there (the
  // modification time of the file holding it) and how many of each invocation's lines came before the next
  // INVOKE.
  std::optional<std::filesystem::path> arrivals_dir;
  bool quiet = false;
  // Shell commands (/bin/sh -c) run to completion just before an invocation (1-based) is handed to the
  // extensions, in the order given; one that fails ends the run.
  std::vector<std::pair<int, std::string>> before_invocation;
  // 0: none. Else SIGKILL every extension's process group `kill_delay` after invocation N's runtimeDone was
  // delivered to the telemetry listeners, and end the run there, without SHUTDOWN.
  int kill_at_invocation = 0;
  std::chrono::milliseconds kill_delay{0};
  int kill_signal = 9;  // SIGKILL, or SIGTERM (--kill-signal): what the extensions get at kill_at_invocation
};

// Exit codes of the emulator.
inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;    // usage or internal error, or a --before-invocation command failed
inline constexpr int kExitInitError = 2;   // an extension failed init (init/error, crash during init)
inline constexpr int kExitMisbehaved = 3;  // missed a deadline, was killed, crashed, exit/error, exit code != 0

struct Outcome {
  int exit_code = kExitOk;
  std::set<std::pair<int, int>> sent_tokens;  // (invocation, line) of every function line generated
};

// Runs one environment lifetime. Errors are on stderr, prefixed "[emulator]".
[[nodiscard]] Outcome run(const Options& options);

}  // namespace elk::emulator
