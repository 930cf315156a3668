#include "emulator.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <vector>

#include "api.h"
#include "core/time.h"
#include "extension.h"
#include "function_mode.h"
#include "http/server.h"
#include "processes.h"
#include "report.h"
#include "support.h"
#include "telemetry.h"

namespace elk::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kInitLimit = 10s;           // Lambda's limit for the whole init phase
constexpr auto kReapEvery = 5ms;           // waitpid(WNOHANG) polling
constexpr auto kReapAfterKill = 2s;        // how long a SIGKILLed process may take to be reaped
constexpr int kFunctionBaseMemoryMb = 40;  // the emulated function's own footprint, for maxMemoryUsedMB

// The environment's lifetime: the extensions' processes, init, the invocations with Lambda's freeze and
// deadlines, shutdown, the end of the sandbox; the API (api.h) and the telemetry (telemetry.h) serve meanwhile.
class Emulator {
 public:
  Emulator(asio::io_context& io, const Options& options)
      : io_(io),
        options_(options),
        log_(options.quiet),
        wake_(io.get_executor()),
        signals_(io, SIGINT, SIGTERM),
        rng_(std::random_device{}()),
        telemetry_(wake_, log_, extensions_, options.function.damaged_lines,
                   [this](asio::awaitable<void> a) { spawn_detached(std::move(a)); }),
        api_(options, log_, wake_, rng_, extensions_, telemetry_, record_) {}

  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  Status start() {
    std::error_code ec;
    if (!std::filesystem::is_directory(options_.extensions_dir, ec))
      return fail("--extensions-dir " + options_.extensions_dir.string() + " is not a directory");
    for (const auto& entry : std::filesystem::directory_iterator(options_.extensions_dir, ec)) {
      std::error_code type_ec;
      if (!entry.is_regular_file(type_ec) || access(entry.path().c_str(), X_OK) != 0) continue;
      Extension e;
      e.name = entry.path().filename().string();
      e.path = entry.path();
      extensions_.push_back(std::move(e));
    }
    if (ec) return fail("cannot list " + options_.extensions_dir.string() + ": " + ec.message());
    std::sort(extensions_.begin(), extensions_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    if (extensions_.empty()) log_.info("no executable in " + options_.extensions_dir.string() + "; running without");
    if (extensions_.size() > 10)
      log_.error("Lambda allows 10 extensions; starting all " + std::to_string(extensions_.size()) + " anyway");

    http::ServerOptions server_options;
    server_options.port = options_.port;
    server_options.max_body_bytes = 8uz * 1024 * 1024;
    server_options.max_connections = 1024;  // every extension's next, register, logs ... at once
    auto server = http::Server::start(io_, std::move(server_options),
                                      [this](http::Request r) { return api_.handle(std::move(r)); });
    if (!server) return fail(server.error().message);
    server_ = std::move(*server);
    log_.info("Extensions API on 127.0.0.1:" + std::to_string(server_->port()) +
              (options_.telemetry_api ? "" : " (Telemetry API off: Logs API only)"));

    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log_.error("signal " + std::to_string(sig) + ": killing the extensions and stopping");
      kill_all();
      outcome_.exit_code = kExitInternal;
      io_.stop();
    });
    spawn_detached(reap());
    return {};
  }

  asio::awaitable<void> lifecycle();

  // After an internal error: leave no process behind.
  void kill_all() {
    if (finished_) return;  // shutdown() has done it
    for (auto& e : extensions_) {
      if (e.pid <= 0) continue;
      signal_group(e.pid, SIGKILL);  // what it started too, even when it has exited itself
      if (e.exited) continue;
      wait_blocking(e.pid);
      e.exited = true;
    }
  }

  [[nodiscard]] Outcome outcome() const { return outcome_; }

 private:
  template <class Awaitable>
  void spawn_detached(Awaitable a) {
    emulator::spawn_detached(io_, std::move(a), log_, [this] {
      kill_all();
      outcome_.exit_code = kExitInternal;
      io_.stop();
    });
  }

  std::size_t emit(std::string type, json::value record) { return telemetry_.emit(std::move(type), std::move(record)); }

  // ---- processes ----

  void spawn(Extension& e) {
    auto pid = spawn_process_group(e.path, extension_environment(options_.function, server_->port()), e.spawned);
    if (!pid) {
      e.pid = -1;
      e.exited = true;
      e.exited_early = true;
      e.exited_at = Clock::now();
      record_.init_errors.push_back({e.name, "Extension.LaunchError", pid.error().message});
      log_.error(pid.error().message);
      return;
    }
    e.pid = *pid;
    log_.info("started " + e.name + " (pid " + std::to_string(e.pid) + ")");
  }

  asio::awaitable<void> reap() {
    asio::steady_timer timer(io_);
    for (;;) {
      for (auto& e : extensions_) {
        if (!e.alive()) continue;
        const auto exit = poll_exit(e.pid);
        if (!exit) continue;
        e.exited = true;
        e.exited_at = Clock::now();
        e.exited_early = !e.shutdown_sent && !e.planned_kill;
        if (exit->maxrss_kb) e.reaped_maxrss_kb = exit->maxrss_kb;
        if (exit->exit_code) e.exit_code = exit->exit_code;
        if (exit->signal) e.signal = exit->signal;
        log_.info(e.name + " exited" + (e.exit_code ? " with code " + std::to_string(*e.exit_code) : "") +
                  (e.signal ? " on signal " + std::to_string(*e.signal) : "") +
                  (e.exited_early ? " before it was sent SHUTDOWN" : ""));
        wake_.notify();
      }
      timer.expires_after(kReapEvery);
      co_await timer.async_wait(use_tuple);
    }
  }

  void freeze() {
    for (auto& e : extensions_) {
      if (!e.alive() || e.stopped) continue;
      signal_group(e.pid, SIGSTOP);
      e.stopped = true;
    }
  }
  void thaw() {
    for (auto& e : extensions_) {
      if (e.stopped) signal_group(e.pid, SIGCONT);
      e.stopped = false;
    }
  }

  int memory_used_mb() const {
    std::int64_t kb = 0;
    for (const auto& e : extensions_)
      if (e.alive())
        if (auto p = read_proc(e.pid)) kb += p->rss_kb;
    return static_cast<int>(std::min<std::int64_t>(options_.function.memory_mb, kFunctionBaseMemoryMb + kb / 1024));
  }

  // ---- the scripted lifetime ----

  asio::awaitable<bool> init_phase();
  asio::awaitable<Status> before_invocation(int i);
  asio::awaitable<bool> invoke(int i);
  asio::awaitable<void> kill_for_reset(int i, const Invocation& inv, Clock::time_point deadline);
  asio::awaitable<void> shutdown(const std::string& reason);
  asio::awaitable<void> end_of_sandbox();
  void finish();

  asio::io_context& io_;
  const Options& options_;
  Log log_;
  Broadcast wake_;  // notified on every change of state; waiters re-check
  asio::signal_set signals_;
  std::mt19937_64 rng_;
  std::vector<Extension> extensions_;
  RunRecord record_;
  Telemetry telemetry_;
  ExtensionsApi api_;
  std::unique_ptr<http::Server> server_;

  std::optional<std::string> command_error_;  // a --before-invocation command failed
  Clock::time_point init_start_;
  bool finished_ = false;
  Outcome outcome_;
};

asio::awaitable<void> Emulator::lifecycle() {
  std::string reason = options_.shutdown_reason;
  if (co_await init_phase()) {
    for (int i = 1; i <= options_.invocations; ++i) {
      if (i > 1 && options_.idle.count() > 0) co_await sleep_until(Clock::now() + options_.idle);
      if (auto st = co_await before_invocation(i); !st) {
        command_error_ = st.error().message;
        record_.failures.push_back(*command_error_);
        log_.error(*command_error_ + "; no further invocation");
        break;
      }
      const bool in_time = co_await invoke(i);
      if (record_.killed_at > 0) break;  // the sandbox is gone
      if (!in_time) {
        reason = "timeout";  // Lambda resets the environment after a timed-out invocation
        break;
      }
      if (std::any_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return e.exited_early; })) {
        reason = "failure";  // ... and after a crash
        break;
      }
    }
  } else {
    reason = "failure";
  }
  if (record_.killed_at > 0)
    co_await end_of_sandbox();
  else
    co_await shutdown(reason);
  finish();
  io_.stop();
}

asio::awaitable<Status> Emulator::before_invocation(int i) {
  for (const auto& [n, command] : options_.before_invocation) {
    if (n != i) continue;
    log_.info("before invocation " + std::to_string(i) + ": " + command);
    if (auto st = co_await run_shell(command); !st)
      co_return fail("--before-invocation " + std::to_string(i) + " command '" + command + "' " + st.error().message);
  }
  co_return Status{};
}

asio::awaitable<bool> Emulator::init_phase() {
  init_start_ = Clock::now();
  emit("platform.initStart", init_start_record(options_.function));
  for (auto& e : extensions_) spawn(e);

  const auto deadline = init_start_ + kInitLimit;
  const auto resolved = [](const Extension& e) { return e.first_next_at || e.init_error || e.exited; };
  while (!std::all_of(extensions_.begin(), extensions_.end(), resolved) && Clock::now() < deadline)
    co_await wake_.wait_until(deadline);
  api_.close_registration();

  std::string error_type;
  for (auto& e : extensions_) {
    if (e.init_error) {
      error_type = "Extension.InitError";
    } else if (e.exited && !e.first_next_at) {
      if (e.pid > 0)  // (a launch error is already recorded)
        record_.init_errors.push_back({e.name, "Extension.Crash",
                                       "exited during init" +
                                           (e.exit_code ? " with code " + std::to_string(*e.exit_code) : "") +
                                           (e.signal ? " on signal " + std::to_string(*e.signal) : "")});
      error_type = "Extension.Crash";
    } else if (!e.first_next_at) {
      record_.failures.push_back(e.name + " did not call next within Lambda's 10 s init limit");
      log_.error(record_.failures.back());
      if (error_type.empty()) error_type = "Sandbox.Timeout";
    }
  }
  const bool ok = error_type.empty();
  if (ok) emit("function", init_function_record(options_.function, now_epoch_ms()));
  const std::string status = ok ? "success" : error_type == "Sandbox.Timeout" ? "timeout" : "error";
  emit("platform.initRuntimeDone", init_runtime_done_record(status, error_type));
  record_.init_duration_ms = ms_between(init_start_, Clock::now());
  emit("platform.initReport", init_report_record(status, error_type, *record_.init_duration_ms));
  if (!ok) log_.error("init failed (" + error_type + "): no invocation");
  co_return ok;
}

asio::awaitable<bool> Emulator::invoke(int i) {
  thaw();
  Invocation inv;
  inv.request_id = RequestId{make_uuid(rng_)};
  const Trace trace = make_trace(rng_, now_epoch_ms());
  const auto start = Clock::now();
  const EpochMs start_ms = now_epoch_ms();
  const auto deadline = start + options_.function_timeout;

  const json::object event{{"eventType", "INVOKE"},
                           {"deadlineMs", start_ms.value + options_.function_timeout.count()},
                           {"requestId", inv.request_id.value},
                           {"invokedFunctionArn", function_arn(options_.function)},
                           {"tracing", json::object{{"type", "X-Amzn-Trace-Id"}, {"value", trace.value}}}};
  std::vector<Extension*> invoked;
  for (auto& e : extensions_) {
    if (!e.alive() || !e.wants("INVOKE")) continue;
    e.pending = Pending{json::serialize(event), false, i};
    invoked.push_back(&e);
  }
  inv.invoked_us = now_epoch_us();
  wake_.notify();
  emit("platform.start", start_record(inv.request_id, trace));

  // The handler runs for --invoke-ms and logs its lines spread over that time. A line that is late already
  // (a burst) only lets the deliveries run first, without a timer: a timer costs two system calls.
  const int lines = options_.lines;
  for (int j = 1; j <= lines; ++j) {
    const auto at = start + std::chrono::microseconds(options_.invoke) * (j - 1) / lines;
    if (Clock::now() < at)
      co_await sleep_until(at);
    else
      co_await asio::post(io_, asio::use_awaitable);
    emit("function", function_record(options_.function, inv.request_id, i, j, now_epoch_ms()));
    outcome_.sent_tokens.insert({i, j});
    record_.emitted_us[{i, j}] = now_epoch_us();
  }
  co_await sleep_until(start + options_.invoke);
  const auto runtime_done = Clock::now();
  inv.runtime_done_at = runtime_done;
  inv.runtime_done_event =
      emit("platform.runtimeDone",
           runtime_done_record(RuntimeDone{inv.request_id, trace, start_ms, ms_between(start, runtime_done), 53}));
  inv.end_event = emit("platform.end", end_record(inv.request_id));
  if (i == options_.kill_at_invocation) {
    co_await kill_for_reset(i, inv, deadline);
    inv.in_time = false;
    inv.status = "killed";
    inv.duration_ms = ms_between(start, Clock::now());
    record_.invocations.push_back(std::move(inv));
    co_return false;
  }

  // The invocation ends when every extension has called next again, within the function timeout.
  const auto all_next = [&] {
    return std::all_of(invoked.begin(), invoked.end(),
                       [&](const Extension* e) { return e->exited || e->post_invoke_next.contains(i); });
  };
  while (!all_next() && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  inv.in_time = all_next();
  const auto end = Clock::now();
  inv.duration_ms = ms_between(start, end);
  inv.status = inv.in_time ? "success" : "timeout";
  if (!inv.in_time) {
    for (const auto* e : invoked)
      if (!e->exited && !e->post_invoke_next.contains(i))
        record_.failures.push_back(e->name + " did not call next within the function timeout (" +
                                   std::to_string(options_.function_timeout.count()) + " ms) of invocation " +
                                   std::to_string(i));
    log_.error("invocation " + std::to_string(i) + " timed out waiting for the extensions");
  }

  Report r;
  r.request_id = inv.request_id;
  r.trace = trace;
  r.status = inv.status;
  r.duration_ms = inv.duration_ms;
  r.memory_mb = options_.function.memory_mb;
  r.max_memory_used_mb = memory_used_mb();
  if (i == 1) r.init_duration_ms = record_.init_duration_ms;
  r.extension_overhead_start = EpochMs{start_ms.value + static_cast<std::int64_t>(ms_between(start, runtime_done))};
  r.extension_overhead_ms = ms_between(runtime_done, end);
  emit("platform.report", report_record(r));
  if (inv.in_time) freeze();
  log_.info("invocation " + std::to_string(i) + " " + inv.request_id.value + ": " + inv.status + " in " +
            std::to_string(static_cast<std::int64_t>(inv.duration_ms)) + " ms");
  record_.invocations.push_back(std::move(inv));
  co_return record_.invocations.back().in_time;
}

asio::awaitable<void> Emulator::kill_for_reset(int i, const Invocation& inv, Clock::time_point deadline) {
  // Delivered: every telemetry listener answered the delivery that carries runtimeDone (platform.end for a
  // Logs API subscriber of schema 2020-08-15, which has no runtimeDone).
  const auto delivered = [&] {
    for (const auto& e : extensions_) {
      if (!e.alive() || !e.subscriber) continue;
      const Item* carrier = find_item(*e.subscriber, inv.runtime_done_event);
      if (!carrier) carrier = find_item(*e.subscriber, inv.end_event);
      if (carrier && !carrier->acked_at) return false;
    }
    return true;
  };
  while (!delivered() && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  if (!delivered())
    log_.error("invocation " + std::to_string(i) + "'s runtimeDone was not delivered within the function timeout");
  if (options_.kill_delay.count() > 0) co_await sleep_until(Clock::now() + options_.kill_delay);
  for (auto& e : extensions_) {
    if (!e.alive()) continue;
    e.stats = read_proc(e.pid);
    e.called_next_before_kill = e.post_invoke_next.contains(i);
    signal_group(e.pid, options_.kill_signal);
    e.killed = true;
    e.planned_kill = true;
    log_.info(e.name + (options_.kill_signal == SIGTERM ? " sent SIGTERM" : " killed") + " during invocation " +
              std::to_string(i) + " (--kill-at-invocation), " + (*e.called_next_before_kill ? "after" : "before") +
              " it called next");
  }
  record_.killed_at = i;
}

asio::awaitable<void> Emulator::shutdown(const std::string& reason) {
  record_.shutdown_reason = reason;
  thaw();
  for (auto& e : extensions_)
    if (e.alive()) e.stats = read_proc(e.pid);
  const auto deadline = Clock::now() + options_.shutdown_deadline;
  const json::object event{{"eventType", "SHUTDOWN"},
                           {"shutdownReason", reason},
                           {"deadlineMs", now_epoch_ms().value + options_.shutdown_deadline.count()}};
  for (auto& e : extensions_) {
    if (!e.alive()) continue;
    e.shutdown_sent = true;
    if (!e.id.empty() && e.wants("SHUTDOWN")) {
      e.pending = Pending{json::serialize(event), true, 0};
    } else {
      // Not registered, or not for SHUTDOWN: nothing to wait for.
      signal_group(e.pid, SIGKILL);
      e.killed = true;
      log_.info(e.name + " killed: " + (e.id.empty() ? "never registered" : "not registered for SHUTDOWN"));
    }
  }
  wake_.notify();
  log_.info("SHUTDOWN (" + reason + "), deadline " + std::to_string(options_.shutdown_deadline.count()) + " ms");

  const auto all_exited = [&] {
    return std::none_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return e.alive(); });
  };
  while (!all_exited() && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  for (auto& e : extensions_) {
    if (!e.alive()) continue;
    signal_group(e.pid, SIGKILL);
    e.killed = true;
    record_.failures.push_back(e.name + " was still running at the shutdown deadline and was killed");
    log_.error(record_.failures.back());
  }
  co_await end_of_sandbox();
}

asio::awaitable<void> Emulator::end_of_sandbox() {
  const auto all_exited = [&] {
    return std::none_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return e.alive(); });
  };
  const auto reap_limit = Clock::now() + kReapAfterKill;
  while (!all_exited() && Clock::now() < reap_limit) co_await wake_.wait_until(reap_limit);
  for (const auto& e : extensions_) signal_group(e.pid, SIGKILL);  // the sandbox is gone, with what they left
  telemetry_.stop();

  // Whatever was still buffered or in flight is not delivered: the environment is gone.
  for (auto& e : extensions_) {
    if (e.exited_early && e.first_next_at) record_.failures.push_back(e.name + " exited before it was sent SHUTDOWN");
    if (e.exited && !e.killed && e.exit_code && *e.exit_code != 0 && !e.init_error)
      record_.failures.push_back(e.name + " exited with code " + std::to_string(*e.exit_code));
    if (e.exited && !e.killed && e.signal)
      record_.failures.push_back(e.name + " died on signal " + std::to_string(*e.signal));
  }
  for (const auto& x : record_.exit_errors)
    record_.failures.push_back(x.extension + " posted exit/error " + x.error_type);
}

void Emulator::finish() {
  finished_ = true;
  outcome_.exit_code = command_error_                 ? kExitInternal
                       : !record_.init_errors.empty() ? kExitInitError
                       : !record_.failures.empty()    ? kExitMisbehaved
                                                      : kExitOk;
  std::size_t delivered = 0, total = 0;
  for (const auto& s : telemetry_.subscribers())
    for (const auto& item : s->items) {
      ++total;
      if (item.acked_at) ++delivered;
    }
  log_.info("done: " + std::to_string(record_.invocations.size()) + " invocation(s), " + std::to_string(delivered) +
            " of " + std::to_string(total) + " event deliveries acknowledged, exit code " +
            std::to_string(outcome_.exit_code));
  if (!options_.report) return;
  std::ofstream out(*options_.report, std::ios::trunc);
  write_report(out, ReportInput{options_, server_ ? server_->port() : std::uint16_t{0}, outcome_.sent_tokens.size(),
                                extensions_, record_, telemetry_.subscribers()});
  out.close();
  if (!out) {
    log_.error("cannot write the report to " + options_.report->string());
    outcome_.exit_code = kExitInternal;
  }
}

}  // namespace

Outcome run(const Options& options) {
  if (options.function_mode) return run_function(options);
  asio::io_context io;
  Emulator emulator(io, options);
  if (auto st = emulator.start(); !st) {
    std::fprintf(stderr, "[emulator] error: %s\n", st.error().message.c_str());
    emulator.kill_all();
    return Outcome{kExitInternal, {}};
  }
  bool internal_error = false;
  asio::co_spawn(io, emulator.lifecycle(), [&](std::exception_ptr ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "[emulator] error: internal: %s\n", ex.what());
    }
    internal_error = true;
    io.stop();
  });
  io.run();
  emulator.kill_all();  // only after an internal error or a signal is anything left
  Outcome outcome = emulator.outcome();
  if (internal_error) outcome.exit_code = kExitInternal;
  return outcome;
}

}  // namespace elk::emulator
