// The emulator's child processes: an extension started as Lambda starts /opt/extensions/* (its own process
// group, Lambda's environment, stdio only), a --before-invocation shell command, polling their exit, and
// what /proc says about them. No state: the emulator keeps its processes' pids.
#pragma once

#include <sys/types.h>

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "script.h"
#include "support.h"

namespace elk::emulator {

struct ProcStats {
  std::int64_t cpu_us = 0;
  std::int64_t rss_kb = 0;
  std::int64_t hwm_kb = 0;
};

// utime+stime from /proc/<pid>/stat, VmRSS/VmHWM from /proc/<pid>/status.
[[nodiscard]] std::optional<ProcStats> read_proc(pid_t pid);

// Runs `/bin/sh -c command` to completion, with the emulator's environment and output. Its exit is polled,
// so that the APIs are still served meanwhile. The error says how it failed.
[[nodiscard]] asio::awaitable<Status> run_shell(std::string command);

// The emulator's environment with Lambda's variables for an extension set (those the emulator had replaced):
// the runtime API on 127.0.0.1:`api_port`, the function's name, version, memory, region and log format.
[[nodiscard]] std::vector<std::string> extension_environment(const FunctionSetup& function, std::uint16_t api_port);

// The emulator's environment with Lambda's variables for a function's runtime process (the Runtime API, the
// function's name, version, memory, region, handler, task root, log group and stream).
[[nodiscard]] std::vector<std::string> function_environment(const FunctionSetup& function, std::uint16_t api_port,
                                                            const std::string& log_stream);

// Starts `path` with `env` and no arguments, in its own process group (so that freezing and killing reach
// the processes it starts too), with stdio only. `started` is set just before the spawn, whether it works or
// not. The error is "cannot start <path>: <reason>".
[[nodiscard]] Result<pid_t> spawn_process_group(const std::filesystem::path& path, std::vector<std::string> env,
                                                Clock::time_point& started);

// How a child ended, as far as waitpid could tell (nothing known when it could not be waited for).
struct Exit {
  std::optional<std::int64_t> exit_code, signal;
  std::optional<std::int64_t> maxrss_kb;  // KiB: its VmHWM at exit (a reaped child's if larger)
};
// nullopt while `pid` runs; else it has been reaped (or cannot be waited for any more).
[[nodiscard]] std::optional<Exit> poll_exit(pid_t pid);

// Sends `sig` to the process group of `pid` (nothing for pid <= 0): Lambda freezes and kills everything in
// the sandbox.
void signal_group(pid_t pid, int sig);

// Blocks until `pid` is reaped.
void wait_blocking(pid_t pid);

}  // namespace elk::emulator
