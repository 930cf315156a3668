#include "function_mode.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cloudwatch.h"
#include "core/time.h"
#include "http/server.h"
#include "processes.h"
#include "report.h"
#include "runtime_api.h"
#include "support.h"

namespace elk::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kInitLimit = 10s;     // Lambda's limit for the init phase
constexpr auto kReapEvery = 5ms;     // waitpid(WNOHANG) polling
constexpr auto kReapAfterKill = 2s;  // how long a SIGKILLed process may take to be reaped
constexpr std::size_t kBodyLimit = 4096;
constexpr int kSourceMemoryMb = 128;

// One event handed to the function (each retry is one more).
struct FunctionInvocation {
  std::string request_id;
  int event = 0;  // 1-based: the payload (cloudwatch) or the batch (kinesis)
  std::string kind;
  int attempt = 1;
  std::string answer;  // response | error | timeout | crash
  std::string error_type;
  std::string body;
  std::int64_t duration_us = 0;  // handed out -> answered (or timed out, or crashed)
};

struct InitRecord {
  double ms = 0;  // process start -> first next
  pid_t pid = -1;
  std::string reason;  // cold | after-timeout | after-crash
};

// An asynchronous invocation's event.
struct AsyncEvent {
  std::string kind;
  std::string body;
};

std::string truncated(std::string s) {
  if (s.size() > kBodyLimit) s.resize(kBodyLimit);
  return s;
}

class FunctionEmulator {
 public:
  FunctionEmulator(asio::io_context& io, const Options& options)
      : io_(io),
        options_(options),
        mode_(*options.function_mode),
        log_(options.quiet),
        wake_(io.get_executor()),
        signals_(io, SIGINT, SIGTERM),
        rng_(std::random_device{}()),
        api_(options.function, log_, wake_, state_) {}

  FunctionEmulator(const FunctionEmulator&) = delete;
  FunctionEmulator& operator=(const FunctionEmulator&) = delete;

  Status start() {
    if (access(mode_.path.c_str(), X_OK) != 0) return fail("--function " + mode_.path.string() + " is not executable");
    if (mode_.on_failure_file) {
      on_failure_out_.open(*mode_.on_failure_file, std::ios::app);
      if (!on_failure_out_) return fail("cannot open --on-failure-file " + mode_.on_failure_file->string());
    }
    http::ServerOptions server_options;
    server_options.port = options_.port;
    server_options.max_body_bytes = 8uz * 1024 * 1024;
    auto server = http::Server::start(io_, std::move(server_options),
                                      [this](http::Request r) { return api_.handle(std::move(r)); });
    if (!server) return fail(server.error().message);
    server_ = std::move(*server);
    log_.info("Runtime API on 127.0.0.1:" + std::to_string(server_->port()));
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log_.error("signal " + std::to_string(sig) + ": killing the runtime and stopping");
      kill_all();
      outcome_.exit_code = kExitInternal;
      io_.stop();
    });
    spawn_detached(reap());
    return {};
  }

  asio::awaitable<void> lifecycle();

  void kill_all() {
    if (pid_ <= 0) return;
    signal_group(pid_, SIGKILL);
    if (alive_) wait_blocking(pid_);
    alive_ = false;
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

  asio::awaitable<void> reap();
  asio::awaitable<bool> init(const std::string& reason);
  asio::awaitable<std::optional<FunctionInvocation>> invoke(const std::string& body, int event, const std::string& kind,
                                                            int attempt);
  asio::awaitable<void> kill_runtime();
  void note_peak();  // the runtime's VmHWM so far, into maxrss_kb_
  asio::awaitable<bool> before_invocation();
  asio::awaitable<void> run_async(const std::vector<AsyncEvent>& events);
  asio::awaitable<void> run_kinesis(const std::vector<KinesisRecord>& records);
  asio::awaitable<void> end_runtime();
  void write_on_failure(const json::object& record);
  void finish();
  json::object function_report() const;

  // The source function's invocations as CloudWatch Logs payloads (one per invocation): the JSON.
  std::vector<std::pair<std::string, std::string>> source_payloads();  // (log stream, JSON)

  void freeze() {
    if (alive_ && !stopped_) signal_group(pid_, SIGSTOP);
    stopped_ = alive_;
  }
  void thaw() {
    if (stopped_) signal_group(pid_, SIGCONT);
    stopped_ = false;
  }

  asio::io_context& io_;
  const Options& options_;
  const FunctionMode& mode_;
  Log log_;
  Broadcast wake_;
  asio::signal_set signals_;
  std::mt19937_64 rng_;
  RuntimeState state_;
  RuntimeApi api_;
  std::unique_ptr<http::Server> server_;
  std::ofstream on_failure_out_;

  // The runtime process.
  pid_t pid_ = -1;
  bool alive_ = false, stopped_ = false;
  bool expect_exit_ = false;  // killed or sent SIGTERM by the emulator
  bool invoking_ = false;
  Clock::time_point spawned_;
  std::optional<ProcStats> stats_;
  std::optional<std::int64_t> maxrss_kb_, exit_code_, signal_;
  std::string restart_reason_ = "cold";
  std::string log_stream_;

  std::vector<InitRecord> inits_;
  std::vector<FunctionInvocation> invocations_;
  int handed_ = 0, on_failure_ = 0;
  std::optional<std::string> command_error_;
  RunRecord record_;
  Outcome outcome_;
};

asio::awaitable<void> FunctionEmulator::reap() {
  asio::steady_timer timer(io_);
  for (;;) {
    if (alive_) {
      if (const auto exit = poll_exit(pid_)) {
        alive_ = false;
        stopped_ = false;
        // Not wait4's ru_maxrss: Linux carries the forked emulator's peak (which holds every payload) across
        // the exec into it. The runtime's own peak is its VmHWM, read before it is ended (note_peak).
        exit_code_ = exit->exit_code;
        signal_ = exit->signal;
        log_.info("the runtime exited" + (exit_code_ ? " with code " + std::to_string(*exit_code_) : "") +
                  (signal_ ? " on signal " + std::to_string(*signal_) : ""));
        if (!expect_exit_ && !invoking_ && state_.first_next_at) {
          state_.violations.emplace_back("exited outside an invocation");
          log_.error("the runtime exited outside an invocation");
          restart_reason_ = "after-crash";
        }
        wake_.notify();
      }
    }
    timer.expires_after(kReapEvery);
    co_await timer.async_wait(use_tuple);
  }
}

asio::awaitable<bool> FunctionEmulator::init(const std::string& reason) {
  ++state_.generation;
  state_.first_next_at.reset();
  state_.init_error.reset();
  state_.offer.reset();
  state_.in_flight.reset();
  expect_exit_ = false;
  exit_code_.reset();
  signal_.reset();
  log_stream_ = log_stream_name(rng_, now_epoch_ms());
  auto pid =
      spawn_process_group(mode_.path, function_environment(options_.function, server_->port(), log_stream_), spawned_);
  if (!pid) {
    record_.init_errors.push_back({"runtime", "Runtime.LaunchError", pid.error().message});
    log_.error(pid.error().message);
    co_return false;
  }
  pid_ = *pid;
  alive_ = true;
  log_.info("started the runtime " + mode_.path.string() + " (pid " + std::to_string(pid_) + ", " + reason + ")");
  const auto deadline = Clock::now() + kInitLimit;
  while (!state_.first_next_at && !state_.init_error && alive_ && Clock::now() < deadline)
    co_await wake_.wait_until(deadline);
  if (state_.first_next_at && !state_.init_error) {
    inits_.push_back(InitRecord{ms_between(spawned_, *state_.first_next_at), pid_, reason});
    co_return true;
  }
  if (state_.init_error)
    record_.init_errors.push_back(*state_.init_error);
  else if (!alive_)
    record_.init_errors.push_back({"runtime", "Runtime.ExitError",
                                   "exited during init" +
                                       (exit_code_ ? " with code " + std::to_string(*exit_code_) : "") +
                                       (signal_ ? " on signal " + std::to_string(*signal_) : "")});
  else
    record_.init_errors.push_back({"runtime", "Sandbox.Timedout", "did not call next within Lambda's 10 s init limit"});
  inits_.push_back(InitRecord{ms_between(spawned_, Clock::now()), pid_, reason});
  co_await kill_runtime();
  co_return false;
}

void FunctionEmulator::note_peak() {
  if (const auto stats = read_proc(pid_)) maxrss_kb_ = std::max({maxrss_kb_.value_or(0), stats->hwm_kb, stats->rss_kb});
}

asio::awaitable<void> FunctionEmulator::kill_runtime() {
  note_peak();
  expect_exit_ = true;
  thaw();
  signal_group(pid_, SIGKILL);
  const auto limit = Clock::now() + kReapAfterKill;
  while (alive_ && Clock::now() < limit) co_await wake_.wait_until(limit);
}

asio::awaitable<bool> FunctionEmulator::before_invocation() {
  ++handed_;
  for (const auto& [n, command] : options_.before_invocation) {
    if (n != handed_) continue;
    log_.info("before invocation " + std::to_string(handed_) + ": " + command);
    if (auto st = co_await run_shell(command); !st) {
      command_error_ =
          "--before-invocation " + std::to_string(handed_) + " command '" + command + "' " + st.error().message;
      record_.failures.push_back(*command_error_);
      log_.error(*command_error_ + "; no further invocation");
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<std::optional<FunctionInvocation>> FunctionEmulator::invoke(const std::string& body, int event,
                                                                            const std::string& kind, int attempt) {
  if (!alive_ && !co_await init(restart_reason_)) co_return std::nullopt;
  FunctionInvocation inv;
  inv.event = event;
  inv.kind = kind;
  inv.attempt = attempt;
  inv.request_id = make_uuid(rng_);
  const auto deadline = Clock::now() + options_.function_timeout;
  state_.answer.reset();
  state_.handed_at.reset();
  state_.offer =
      Offer{RequestId{inv.request_id}, body, EpochMs{now_epoch_ms().value + options_.function_timeout.count()},
            make_trace(rng_, now_epoch_ms())};
  invoking_ = true;
  thaw();
  wake_.notify();
  while (!state_.answer && alive_ && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  const auto handed = state_.handed_at.value_or(Clock::now());
  if (state_.answer) {
    inv.answer = state_.answer->kind;
    inv.error_type = state_.answer->error_type;
    inv.body = truncated(state_.answer->body);
    inv.duration_us = us_between(handed, state_.answer->at);
  } else {
    state_.offer.reset();
    state_.in_flight.reset();
    state_.done.insert(inv.request_id);
    inv.duration_us = us_between(handed, Clock::now());
    if (!alive_) {
      inv.answer = "crash";
      inv.error_type = "Runtime.ExitError";
      inv.body = json::serialize(json::object{
          {"errorType", inv.error_type},
          {"errorMessage", "RequestId: " + inv.request_id + " Error: Runtime exited" +
                               (exit_code_ ? " with error: exit status " + std::to_string(*exit_code_) : "") +
                               (signal_ ? " with signal " + std::to_string(*signal_) : "")}});
      restart_reason_ = "after-crash";
    } else {
      inv.answer = "timeout";
      inv.error_type = "Sandbox.Timedout";
      char secs[32];
      std::snprintf(secs, sizeof secs, "%.2f", static_cast<double>(options_.function_timeout.count()) / 1000.0);
      inv.body =
          json::serialize(json::object{{"errorType", inv.error_type},
                                       {"errorMessage", format_iso8601_ms(now_epoch_ms()) + " " + inv.request_id +
                                                            " Task timed out after " + secs + " seconds"}});
      // Lambda resets the environment after a timeout: the next invocation starts a new runtime.
      co_await kill_runtime();
      restart_reason_ = "after-timeout";
    }
  }
  invoking_ = false;
  freeze();
  log_.info("event " + std::to_string(event) + " (" + kind + ") attempt " + std::to_string(attempt) + " " +
            inv.request_id + ": " + inv.answer + (inv.error_type.empty() ? "" : " " + inv.error_type));
  invocations_.push_back(inv);
  co_return inv;
}

void FunctionEmulator::write_on_failure(const json::object& record) {
  ++on_failure_;
  if (!on_failure_out_.is_open()) return;
  on_failure_out_ << json::serialize(record) << '\n';
  on_failure_out_.flush();
}

std::vector<std::pair<std::string, std::string>> FunctionEmulator::source_payloads() {
  FunctionSetup source = options_.function;
  source.function_name = mode_.source_function;
  source.memory_mb = kSourceMemoryMb;
  std::vector<std::string> streams;
  streams.reserve(static_cast<std::size_t>(mode_.streams));
  for (int s = 0; s < mode_.streams; ++s) streams.push_back(log_stream_name(rng_, now_epoch_ms()));
  std::vector<bool> used(streams.size(), false);
  EventIds ids;
  const EpochMs t0 = now_epoch_ms();
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 1; i <= options_.invocations; ++i) {
    const auto s = static_cast<std::size_t>(i - 1) % streams.size();
    const bool timed_out = mode_.source_timeout_every > 0 && i % mode_.source_timeout_every == 0;
    const SourceInvocation inv{source,   RequestId{make_uuid(rng_)},
                               i,        options_.lines,
                               !used[s], EpochMs{t0.value + std::int64_t{i - 1} * (options_.lines + 10)},
                               timed_out};
    used[s] = true;
    const auto events = source_log_events(inv, ids);
    for (int j = 1; j <= options_.lines; ++j) {
      outcome_.sent_tokens.insert({i, j});
      record_.emitted_us[{i, j}] = now_epoch_us();
    }
    out.emplace_back(streams[s], data_message(LogSubscription{"/aws/lambda/" + source.function_name, streams[s],
                                                              options_.function.function_name},
                                              events));
  }
  return out;
}

asio::awaitable<void> FunctionEmulator::run_async(const std::vector<AsyncEvent>& events) {
  for (std::size_t k = 0; k < events.size(); ++k) {
    const AsyncEvent& e = events[k];
    for (int attempt = 1;; ++attempt) {
      if (!co_await before_invocation()) co_return;
      const auto inv = co_await invoke(e.body, static_cast<int>(k) + 1, e.kind, attempt);
      if (!inv) co_return;  // init failed
      if (inv->answer == "response") break;
      if (attempt > mode_.max_retry_attempts) {
        write_on_failure(async_failure_record(
            options_.function, FailedInvocation{RequestId{inv->request_id}, attempt, "Unhandled", inv->body}, e.body,
            now_epoch_ms()));
        break;
      }
      // Real Lambda waits about 1 minute, then 2, and meanwhile goes on with newer events; here the retry comes
      // --retry-delay-ms later, before the next event.
      co_await sleep_until(Clock::now() + mode_.retry_delay);
    }
  }
}

asio::awaitable<void> FunctionEmulator::run_kinesis(const std::vector<KinesisRecord>& records) {
  const auto size = static_cast<std::size_t>(mode_.batch_size);
  int batch_number = 0;
  for (std::size_t pos = 0; pos < records.size(); pos += size) {
    ++batch_number;
    std::vector<KinesisRecord> batch(
        records.begin() + static_cast<std::ptrdiff_t>(pos),
        records.begin() + static_cast<std::ptrdiff_t>(std::min(pos + size, records.size())));
    for (int attempt = 1;; ++attempt) {
      if (!co_await before_invocation()) co_return;
      const auto inv = co_await invoke(kinesis_event(batch, options_.function), batch_number, "kinesis", attempt);
      if (!inv) co_return;
      std::optional<std::vector<std::string>> failed = std::vector<std::string>{};  // a function error: all of it
      if (inv->answer == "response") {
        std::vector<std::string> sequence_numbers;
        sequence_numbers.reserve(batch.size());
        for (const auto& r : batch) sequence_numbers.push_back(r.sequence_number);
        failed = batch_item_failures(inv->body, sequence_numbers);
      }
      if (!failed) break;
      // The batch is checkpointed before its lowest failed record; the retry starts there (a complete failure:
      // the whole batch again).
      if (!failed->empty()) {
        const auto lowest = std::find_if(batch.begin(), batch.end(), [&](const KinesisRecord& r) {
          return std::find(failed->begin(), failed->end(), r.sequence_number) != failed->end();
        });
        batch.erase(batch.begin(), lowest);
      }
      if (attempt > mode_.max_retry_attempts) {
        write_on_failure(kinesis_failure_record(
            options_.function,
            FailedInvocation{RequestId{inv->request_id}, attempt,
                             inv->answer == "response" ? "BatchItemFailures" : "Unhandled", inv->body},
            batch, now_epoch_ms()));
        break;
      }
      co_await sleep_until(Clock::now() + mode_.retry_delay);
    }
  }
}

asio::awaitable<void> FunctionEmulator::lifecycle() {
  auto payloads = source_payloads();
  if (co_await init("cold")) {
    if (mode_.events == EventSource::kinesis) {
      std::vector<KinesisRecord> records;
      records.reserve(payloads.size());
      std::uint64_t n = 0;
      for (const auto& [stream, payload] : payloads)
        records.push_back(KinesisRecord{kinesis_sequence_number(++n), stream, encode_payload(payload),
                                        static_cast<double>(now_epoch_ms().value) / 1000.0});
      co_await run_kinesis(records);
    } else {
      std::vector<AsyncEvent> events;
      events.push_back({"control", awslogs_event(encode_payload(control_message(now_epoch_ms())))});
      std::size_t bad = 0;
      const std::size_t bad_count = mode_.bad_payloads ? std::size(kBadPayloads) : 0;
      const LogSubscription sub{"/aws/lambda/" + mode_.source_function, payloads.empty() ? "" : payloads[0].first,
                                options_.function.function_name};
      const auto add_bad = [&] {
        const BadPayload b = kBadPayloads[bad++];
        events.push_back({std::string(kind_name(b)), bad_payload_event(b, sub)});
      };
      for (const auto& [stream, payload] : payloads) {
        if (bad < bad_count) add_bad();
        events.push_back({"data", awslogs_event(encode_payload(payload))});
      }
      while (bad < bad_count) add_bad();
      payloads.clear();
      co_await run_async(events);
    }
  }
  co_await end_runtime();
  finish();
  io_.stop();
}

asio::awaitable<void> FunctionEmulator::end_runtime() {
  if (!alive_) co_return;
  thaw();
  stats_ = read_proc(pid_);
  if (stats_) maxrss_kb_ = std::max({maxrss_kb_.value_or(0), stats_->hwm_kb, stats_->rss_kb});
  expect_exit_ = true;
  signal_group(pid_, SIGTERM);
  log_.info("SIGTERM to the runtime, SIGKILL after " + std::to_string(options_.shutdown_deadline.count()) + " ms");
  const auto deadline = Clock::now() + options_.shutdown_deadline;
  while (alive_ && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  if (alive_) {
    log_.info("the runtime was still running at the shutdown deadline: SIGKILL");
    co_await kill_runtime();
  }
  signal_group(pid_, SIGKILL);  // what it started, with the sandbox
}

json::object FunctionEmulator::function_report() const {
  json::array inits;
  for (const auto& i : inits_) inits.push_back(json::object{{"ms", i.ms}, {"pid", i.pid}, {"reason", i.reason}});
  json::array invocations;
  for (const auto& i : invocations_)
    invocations.push_back(
        json::object{{"requestId", i.request_id},
                     {"event", i.event},
                     {"kind", i.kind},
                     {"attempt", i.attempt},
                     {"answer", i.answer},
                     {"errorType", i.error_type.empty() ? json::value(nullptr) : json::value(i.error_type)},
                     {"body", i.body},
                     {"durationUs", i.duration_us}});
  json::array violations;
  for (const auto& v : state_.violations) violations.emplace_back(v);
  const auto opt = [](const std::optional<std::int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); };
  return {{"path", mode_.path.string()},
          {"events", mode_.events == EventSource::kinesis ? "kinesis" : "cloudwatch"},
          {"sourceFunction", mode_.source_function},
          {"inits", std::move(inits)},
          {"invocations", std::move(invocations)},
          {"onFailure", on_failure_},
          {"violations", std::move(violations)},
          {"exitCode", opt(exit_code_)},
          {"signal", opt(signal_)},
          {"cpuUs", stats_ ? json::value(stats_->cpu_us) : json::value(nullptr)},
          {"rssKb", stats_ ? json::value(stats_->rss_kb) : json::value(nullptr)},
          {"hwmKb", opt(maxrss_kb_)}};
}

void FunctionEmulator::finish() {
  for (const auto& v : state_.violations) record_.failures.push_back("the runtime " + v);
  outcome_.exit_code = command_error_                 ? kExitInternal
                       : !record_.init_errors.empty() ? kExitInitError
                       : !record_.failures.empty()    ? kExitMisbehaved
                                                      : kExitOk;
  log_.info("done: " + std::to_string(invocations_.size()) + " invocation(s), " + std::to_string(inits_.size()) +
            " init(s), " + std::to_string(on_failure_) + " on-failure record(s), exit code " +
            std::to_string(outcome_.exit_code));
  if (!options_.report) return;
  const json::object function = function_report();
  const std::vector<Extension> no_extensions;
  const std::vector<std::unique_ptr<Subscriber>> no_subscribers;
  std::ofstream out(*options_.report, std::ios::trunc);
  ReportInput in{
      options_,      server_ ? server_->port() : std::uint16_t{0}, outcome_.sent_tokens.size(), no_extensions, record_,
      no_subscribers};
  in.function = &function;
  write_report(out, in);
  out.close();
  if (!out) {
    log_.error("cannot write the report to " + options_.report->string());
    outcome_.exit_code = kExitInternal;
  }
}

}  // namespace

Outcome run_function(const Options& options) {
  asio::io_context io;
  FunctionEmulator emulator(io, options);
  if (auto st = emulator.start(); !st) {
    std::fprintf(stderr, "[emulator] error: %s\n", st.error().message.c_str());
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
  emulator.kill_all();
  Outcome outcome = emulator.outcome();
  if (internal_error) outcome.exit_code = kExitInternal;
  return outcome;
}

}  // namespace elk::emulator
