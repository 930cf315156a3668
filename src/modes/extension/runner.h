// The extension's life: register, read the settings, build the destinations, listen, subscribe,
// then the invoke/shutdown loop with its flush policy. Everything runs on one thread (one
// io_context, coroutines): the receiver, the batcher and the flushes share no locks.
#pragma once

#include <string>

#include "config/settings.h"
#include "core/log.h"
#include "core/types.h"

namespace elk::extension {

struct RunnerOptions {
  std::string extension_name;  // the executable's file name, as Lambda requires at registration
  RuntimeApiAddress runtime_api;
  Getenv environment;
};

// Runs until SHUTDOWN (exit code 0) or a failure at init (non-zero).
[[nodiscard]] int run(const RunnerOptions& options, const Logger& log);

}  // namespace elk::extension
