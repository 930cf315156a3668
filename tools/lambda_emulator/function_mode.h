// The emulator as Lambda running a log forwarder function (--function): it starts the function's custom
// runtime (bootstrap) with Lambda's environment, serves the Runtime API, and invokes it with a simulated
// source function's logs as CloudWatch Logs subscription payloads (asynchronous invocations: retries, then an
// on-failure record) or as Kinesis batches (ReportBatchItemFailures), with Lambda's freeze, deadlines and
// resets (a timed-out or crashed runtime is killed and started again), then ends the runtime and reports.
// Single-threaded: one io_context, coroutines.
#pragma once

#include "emulator.h"

namespace elk::emulator {

// Runs one function-mode lifetime; options.function_mode is set. Errors are on stderr, prefixed "[emulator]".
[[nodiscard]] Outcome run_function(const Options& options);

}  // namespace elk::emulator
