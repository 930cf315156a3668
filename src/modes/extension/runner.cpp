#include "modes/extension/runner.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <csignal>
#include <random>

#include "app/pipeline.h"
#include "core/run_main.h"
#include "core/signal.h"
#include "destinations/registry.h"
#include "http/server.h"
#include "modes/extension/extensions_api.h"
#include "modes/extension/flush_policy.h"
#include "modes/extension/invocations.h"
#include "modes/extension/shutdown_budget.h"
#include "pipeline/enrich.h"
#include "pipeline/platform_event.h"
#include "sources/telemetry/receiver.h"
#include "sources/telemetry/subscription.h"

namespace elk::extension {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::uint64_t random_origin() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

// Steady-clock time of a Unix-ms deadline.
SteadyTime steady_of(EpochMs deadline) {
  return steady_deadline(deadline, now_epoch_ms(), Clock::now());
}

class Runner {
 public:
  Runner(const RunnerOptions& options, const Logger& log, asio::io_context& io)
      : options_(options),
        log_(log),
        io_(io),
        telemetry_arrived_(io.get_executor()),
        batch_waiting_(io.get_executor()) {}

  asio::awaitable<int> run();
  // Set when SIGTERM or SIGINT ended the process (what was in memory went to the spill).
  [[nodiscard]] bool ended_by_signal() const { return ended_by_signal_; }

 private:
  asio::awaitable<void> watch_signals();
  struct SandboxLookup;
  void start_sandbox_lookup();
  asio::awaitable<std::string> sandbox_address();
  std::shared_ptr<SandboxLookup> sandbox_lookup_;
  asio::awaitable<Status> init(const ExtensionId& id);
  asio::awaitable<void> on_invoke(const LifecycleEvent& event);
  asio::awaitable<void> on_shutdown(const LifecycleEvent& event);
  asio::awaitable<void> batch_flusher();
  void on_events(std::vector<pipeline::Record>&& events);
  void on_platform_event(const pipeline::PlatformEvent& event, EpochMs time);
  [[nodiscard]] std::string summary() const;
  [[nodiscard]] std::chrono::milliseconds max_wait() const {
    return std::chrono::milliseconds(config_.integer(config::names::flush_max_wait_ms));
  }

  const RunnerOptions& options_;
  const Logger& log_;
  asio::io_context& io_;
  std::optional<ExtensionsApi> api_;

  config::Config config_;
  config::Schedule schedule_;
  pipeline::FunctionContext function_;
  std::unique_ptr<app::Pipeline> pipeline_;
  std::optional<telemetry::Receiver> receiver_;
  std::unique_ptr<http::Server> server_;

  Signal telemetry_arrived_;  // wakes on_invoke / on_shutdown waits
  Signal batch_waiting_;      // wakes batch_flusher
  bool stopping_ = false;
  bool ended_by_signal_ = false;

  std::optional<AutoFlush> auto_flush_;  // EXTENSION_LOG_FLUSH=auto
  Invocations invocations_;
  SteadyTime last_event_at_{};
  std::uint64_t received_ = 0;
};

asio::awaitable<int> Runner::run() {
  auto endpoint = http::parse_endpoint(options_.runtime_api.value);
  if (!endpoint) {
    log_.error("AWS_LAMBDA_RUNTIME_API='" + options_.runtime_api.value + "': " + endpoint.error().message +
               "; cannot reach Lambda, exiting");
    co_return 1;
  }
  api_.emplace(*endpoint);
  start_sandbox_lookup();  // meanwhile: for the listener (init)
  auto reg = co_await api_->register_extension(options_.extension_name);
  if (!reg) {
    log_.error(reg.error().message + "; exiting");
    co_return 1;
  }
  function_.function_name = reg->function_name;
  function_.function_version = reg->function_version;
  function_.account_id = reg->account_id;

  Status st;
  std::string error_type = "Extension.ConfigInvalid";
  try {
    st = co_await init(reg->id);
  } catch (const std::exception& e) {
    st = fail(std::string("internal error at init: ") + e.what());
    error_type = "Extension.InitError";
  }
  if (!st) {
    log_.error(st.error().message + "; reported to Lambda as " + error_type + ", exiting");
    auto reported = co_await api_->init_error(reg->id, error_type, st.error().message);
    if (!reported) log_.error(reported.error().message);
    co_return 1;
  }

  asio::co_spawn(io_, batch_flusher(), asio::detached);
  asio::co_spawn(io_, watch_signals(), asio::detached);
  std::string last_failure;
  std::uint64_t failures = 0;
  for (;;) {
    auto event = co_await api_->next(reg->id);
    if (!event) {
      // Keep calling next rather than crash the sandbox; say why once per distinct reason.
      if (event.error().message != last_failure) log_.error(event.error().message + "; calling next again");
      last_failure = event.error().message;
      if (++failures >= 300) {  // about a minute of failures: Lambda is gone
        log_.error("the Extensions API has failed 300 times in a row; exiting");
        co_return 1;
      }
      asio::steady_timer pause(io_, std::min<std::uint64_t>(failures, 10) * 20ms);
      co_await pause.async_wait(asio::use_awaitable);
      continue;
    }
    failures = 0;
    try {
      if (event->kind == LifecycleEvent::Kind::shutdown) {
        co_await on_shutdown(*event);
        co_return 0;
      }
      co_await on_invoke(*event);
    } catch (const std::exception& e) {
      if (last_failure != e.what()) log_.error(std::string("internal error: ") + e.what() + "; calling next again");
      last_failure = e.what();
    }
  }
}

// Lambda ends an extension with SHUTDOWN, then SIGKILL; a SIGTERM comes from elsewhere (the Runtime Interface
// Emulator, `docker stop`, an operator). There is no deadline to flush against: what is in memory goes to the
// spill, where the next process in this environment (same /tmp) finds it, and the process ends at once.
asio::awaitable<void> Runner::watch_signals() {
  asio::signal_set signals(io_, SIGTERM, SIGINT);
  auto [ec, number] = co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  const bool in_memory = pipeline_->holds_documents();
  const bool can_spill = config_.text(config::names::spill_directory) != "none";
  pipeline_->spill_held();
  log_.warn(std::string(number == SIGTERM ? "SIGTERM" : "SIGINT") + ": " +
            (!in_memory  ? std::string("nothing was waiting in memory")
             : can_spill ? "what was waiting in memory went to the spill, for the next process"
                         : "what was waiting in memory is lost (EXTENSION_LOG_SPILL_DIRECTORY=none)") +
            "; exiting: " + summary());
  ended_by_signal_ = true;
  if (server_) server_->stop();
  io_.stop();
}

// Where the listener goes: the IPv4 address sandbox.localdomain has (in Lambda, from /etc/hosts), looked up in
// the background from before registration (a miss asks DNS: a few ms) and awaited for at most 300 ms when the
// listener starts; else loopback.
struct Runner::SandboxLookup {
  explicit SandboxLookup(asio::io_context& io) : resolver(io), wake(io) {}
  asio::ip::tcp::resolver resolver;
  asio::steady_timer wake;
  bool done = false;
  std::string address;
};

void Runner::start_sandbox_lookup() {
  auto lookup = std::make_shared<SandboxLookup>(io_);
  lookup->wake.expires_at(SteadyTime::max());
  lookup->resolver.async_resolve("sandbox.localdomain", "",
                                 [lookup](boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
                                   if (!ec)
                                     for (const auto& r : results)
                                       if (r.endpoint().address().is_v4()) {
                                         lookup->address = r.endpoint().address().to_string();
                                         break;
                                       }
                                   lookup->done = true;
                                   lookup->wake.cancel();
                                 });
  sandbox_lookup_ = std::move(lookup);
}

asio::awaitable<std::string> Runner::sandbox_address() {
  auto lookup = sandbox_lookup_;
  if (!lookup) co_return std::string("127.0.0.1");
  if (!lookup->done) {
    lookup->wake.expires_after(300ms);
    co_await lookup->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return lookup->done && !lookup->address.empty() ? lookup->address : std::string("127.0.0.1");
}

asio::awaitable<Status> Runner::init(const ExtensionId& id) {
  const auto& env = options_.environment;
  auto loaded = destinations::load_settings(env, log_);
  if (!loaded) co_return std::unexpected(loaded.error());
  config_ = std::move(*loaded);
  if (function_.function_name.empty()) function_.function_name = env("AWS_LAMBDA_FUNCTION_NAME").value_or("");
  if (function_.function_version.empty()) function_.function_version = env("AWS_LAMBDA_FUNCTION_VERSION").value_or("");
  function_.region = env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or(""));
  function_.initialization_type = env("AWS_LAMBDA_INITIALIZATION_TYPE").value_or("on-demand");

  schedule_ = config::parse_schedule(config_.text(config::names::flush)).value_or(config::Schedule{});
  // A batch is due when full, or when its oldest record is TIMEOUT_MS old (periodic: the period).
  const auto max_age =
      schedule_.periodic() ? schedule_.interval : std::chrono::milliseconds(config_.integer(config::names::timeout_ms));
  if (schedule_.mode == config::FlushMode::automatic) auto_flush_.emplace(max_age);
  auto made = app::Pipeline::make(config_, function_, env, log_, io_.get_executor(), {max_age, random_origin()});
  if (!made) co_return std::unexpected(made.error());
  pipeline_ = std::move(*made);
  pipeline_->enricher().on_platform_events(
      [this](const pipeline::PlatformEvent& e, EpochMs time) { on_platform_event(e, time); });

  receiver_.emplace([this](std::vector<pipeline::Record>&& events) { on_events(std::move(events)); }, log_);
  http::ServerOptions server_options;
  // Lambda delivers to sandbox.localdomain: listen on the address that name has here (as AWS's samples and
  // the OpenTelemetry, New Relic and Elastic extensions do), else on loopback — never on every interface:
  // the listener has no authentication, and under an emulator or Docker the network could inject records.
  server_options.address = co_await sandbox_address();
  server_options.port = static_cast<std::uint16_t>(config_.integer(config::names::listener_port));
  server_options.max_body_bytes = telemetry::Receiver::body_limit(telemetry::kLambdaMaxBytes);
  server_options.on_refused = [this](int status, std::string_view why) {
    receiver_->refused(status, why, Clock::now());
  };
  const auto handler = [this](http::Request req) -> asio::awaitable<http::Response> {
    co_return receiver_->handle(req, now_epoch_ms(), Clock::now());
  };
  auto server = http::Server::start(io_, server_options, handler);
  if (!server && server_options.address != "127.0.0.1") {
    log_.warn("cannot listen on " + server_options.address + " (sandbox.localdomain): " + server.error().message +
              "; listening on 127.0.0.1");
    server_options.address = "127.0.0.1";
    server = http::Server::start(io_, server_options, handler);
  }
  if (!server) co_return fail(std::string(config::names::listener_port) + ": " + server.error().message);
  server_ = std::move(*server);

  // Lambda's buffer is not ours: it only decides how soon Lambda hands records over.
  const telemetry::Buffering buffering{telemetry::kLambdaMaxItems, telemetry::kLambdaMaxBytes,
                                       config_.integer(config::names::telemetry_timeout_ms)};
  const auto types = config_.list(config::names::types);
  auto request = telemetry::subscription_request(telemetry::Api::telemetry, types, buffering, server_->port());
  auto answer = co_await api_->subscribe(id, request.path, request.body);
  if (answer && telemetry::should_fall_back(answer->status)) {
    log_.info("the Telemetry API answered " + std::to_string(answer->status) + "; using the Logs API instead");
    request = telemetry::subscription_request(telemetry::Api::logs, types, buffering, server_->port());
    answer = co_await api_->subscribe(id, request.path, request.body);
  }
  if (!answer) co_return fail(answer.error().message);
  if (answer->status == 202)
    log_.warn("Lambda accepted the subscription but will not deliver telemetry here (" + answer->body.substr(0, 200) +
              ")");
  else if (answer->status != 200)
    co_return fail("the subscription at " + request.path + " was refused with HTTP " + std::to_string(answer->status) +
                   ": " + answer->body.substr(0, 300));
  co_return Status{};
}

void Runner::on_events(std::vector<pipeline::Record>&& events) {
  const auto now = Clock::now();
  const bool was_empty = pipeline_->batched() == 0;
  pipeline_->offer(events, now);  // on_platform_event sees the invocations' ends
  received_ += events.size();
  last_event_at_ = now;
  telemetry_arrived_.notify();
  if (was_empty || pipeline_->due(now)) batch_waiting_.notify();
}

// The invocations' ends, from the one platform-event model (record or text line): when the runtime finished
// (the flush policy waits for it) and when the report came (SHUTDOWN waits for the last one).
void Runner::on_platform_event(const pipeline::PlatformEvent& e, EpochMs time) {
  using Type = pipeline::PlatformEvent::Type;
  if (e.type == Type::report) invocations_.on_report(e.request_id);
  if (e.type != Type::runtime_done) return;
  const auto& invocation = invocations_.on_runtime_done(e.request_id, time);
  if (auto_flush_ && invocation.invoked) auto_flush_->on_runtime_done(*invocation.invoked, time);
}

asio::awaitable<void> Runner::batch_flusher() {
  // Periodic: also what waits in the spill goes every period, when nothing new arrives.
  auto next_period = Clock::now() + schedule_.interval;
  while (!stopping_) {
    const auto now = Clock::now();
    const bool period_over = schedule_.periodic() && now >= next_period;
    if (period_over) next_period = now + schedule_.interval;
    if (!pipeline_->flushing() && (pipeline_->due(now) || (period_over && pipeline_->pending_documents() > 0))) {
      co_await pipeline_->flush(now + max_wait());
      continue;
    }
    auto at = pipeline_->due_at();
    if (at && *at <= now) at = now + 10ms;  // due, but a flush is running
    auto wake = at.value_or(now + 1h);
    if (schedule_.periodic()) wake = std::min(wake, next_period);
    co_await batch_waiting_.wait_until(wake);
  }
}

asio::awaitable<void> Runner::on_invoke(const LifecycleEvent& event) {
  const auto now = now_epoch_ms();
  invocations_.on_invoke(event.request_id.value, now);
  pipeline_->enricher().on_invoke(event.invoked_function_arn);
  if (schedule_.periodic()) co_return;  // the records leave in the background
  // auto: a frequent invocation's records leave in the background too, on the batch timer.
  if (auto_flush_ && !auto_flush_->on_invoke(now)) co_return;
  // Wait for this invocation's runtimeDone, so that its lines leave within it.
  const auto invocation_deadline = steady_of(event.deadline);
  const auto wait_until =
      std::min(Clock::now() + std::chrono::milliseconds(config_.integer(config::names::runtime_done_wait_ms)),
               invocation_deadline);
  while (!invocations_.runtime_done(event.request_id.value) && Clock::now() < wait_until)
    co_await telemetry_arrived_.wait_until(wait_until);
  co_await pipeline_->flush(std::min(Clock::now() + max_wait(), invocation_deadline));
}

asio::awaitable<void> Runner::on_shutdown(const LifecycleEvent& event) {
  const auto budget = ShutdownBudget::of(steady_of(event.deadline));
  const auto quiet = std::chrono::milliseconds(config_.integer(config::names::shutdown_quiet_ms));
  // Late telemetry: the last invocation's report comes after we called next.
  const std::string& last = invocations_.latest();
  for (;;) {
    const bool report_in = last.empty() || invocations_.reported(last);
    const auto wake = budget.keep_taking_until(Clock::now(), report_in, last_event_at_, quiet);
    if (!wake) break;
    co_await telemetry_arrived_.wait_until(*wake);
  }
  stopping_ = true;
  batch_waiting_.notify();
  std::string reason = event.shutdown_reason;
  std::transform(reason.begin(), reason.end(), reason.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto now = now_epoch_ms();
  const auto sequence_now = Clock::now();
  if (reason == "timeout" || reason == "failure") {
    // Say why the logs end: the function timed out or failed, and Lambda is resetting the environment.
    boost::json::object fields{{"shutdown_reason", reason}};
    const std::string message = "Lambda is shutting the execution environment down after a " + reason +
                                (last.empty() ? std::string() : " of request " + last) +
                                "; the function's logs of that invocation end here";
    pipeline_->add(pipeline_->enricher().extension_document("extension.shutdown", "error", message, last, fields, now),
                   sequence_now);
  }
  // The counters so far, with the final flush: where the logs go, the user sees what the extension did.
  pipeline_->add(pipeline_->enricher().extension_document("extension.summary", "info", "elk-extension: " + summary(),
                                                          "", pipeline_->summary_fields(received_), now),
                 sequence_now);
  co_await pipeline_->flush(budget.flush_deadline);
  const bool report_missing = !last.empty() && !invocations_.reported(last);
  log_.info("shutdown (" + (reason.empty() ? std::string("unknown") : reason) + "): " + summary() +
            (report_missing ? "; the last invocation's report had not arrived" : ""));
  if (server_) server_->stop();
}

std::string Runner::summary() const {
  const auto& rs = receiver_->stats();
  std::string out = "received " + std::to_string(received_) + " records";
  if (rs.bad_bodies) out += ", " + std::to_string(rs.bad_bodies) + " unparseable deliveries";
  if (rs.refused) out += ", " + std::to_string(rs.refused) + " refused deliveries";
  if (rs.skipped_items) out += ", " + std::to_string(rs.skipped_items) + " malformed items";
  if (rs.repaired_items) out += ", " + std::to_string(rs.repaired_items) + " repaired";
  out += pipeline_->summary();
  return out;
}

}  // namespace

int run(const RunnerOptions& options, const Logger& log) {
  asio::io_context io(1);
  Runner runner(options, log, io);
  const int exit_code = run_main(io, runner.run(), log);
  return runner.ended_by_signal() ? 0 : exit_code;
}

}  // namespace elk::extension
