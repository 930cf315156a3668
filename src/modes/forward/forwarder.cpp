#include "modes/forward/forwarder.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <random>

#include "config/settings.h"
#include "core/run_main.h"
#include "destinations/registry.h"
#include "modes/forward/runtime_api.h"
#include "sources/cloudwatch/payload.h"
#include "sources/cloudwatch/records.h"

namespace elk::forward {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Kept back from Lambda's deadline for answering it.
constexpr auto answer_reserve = 250ms;
// Without a deadline header: Lambda's default function timeout.
constexpr auto default_timeout = 3s;

std::uint64_t random_origin() {
  std::random_device rd;
  return (std::uint64_t{rd()} << 32) ^ rd();
}

}  // namespace

asio::awaitable<bool> Forwarder::offer(std::string_view base64_data, SteadyTime deadline, std::string& why,
                                       std::string& description, bool& undelivered) {
  undelivered = false;
  auto payload = cloudwatch::decode_payload(base64_data);
  if (!payload) {
    why = payload.error().message;
    co_return false;
  }
  if (payload->malformed_events > 0)
    log_.error(std::to_string(payload->malformed_events) + " malformed items of logEvents in the payload of " +
               std::string(payload->log_group) + " " + std::string(payload->log_stream) +
               " skipped (no string id and message, or no timestamp)");
  description = payload->type == cloudwatch::Payload::Type::control
                    ? std::string("a control message")
                    : std::to_string(payload->events.size()) + " events of " + std::string(payload->log_group) + " " +
                          std::string(payload->log_stream);
  if (payload->type == cloudwatch::Payload::Type::control || payload->events.empty()) co_return true;
  const auto records = cloudwatch::records_of(*payload);
  const auto source = cloudwatch::source_of(*payload, region_);
  constexpr std::size_t slice = 1024;
  const std::span<const pipeline::Record> all(records);
  for (std::size_t at = 0; at < all.size(); at += slice) {
    if (pipeline_.held_bytes() > pipeline_.max_buffer_bytes() / 4 && !co_await deliver(deadline, why)) {
      undelivered = true;
      co_return false;
    }
    const auto part = all.subspan(at, std::min(slice, all.size() - at));
    pipeline_.offer(part, source, Clock::now());
    events_ += part.size();
  }
  co_return true;
}

asio::awaitable<bool> Forwarder::deliver(SteadyTime deadline, std::string& why) {
  const auto outcome = co_await pipeline_.flush(deadline);
  const auto dropped = pipeline_.dropped() - dropped_before_;
  if (outcome.all_delivered() && dropped == 0) co_return true;
  const auto forgotten = pipeline_.discard_held();
  why = "not everything was delivered before the deadline (delivered " + std::to_string(outcome.delivered) +
        ", refused for good " + std::to_string(outcome.rejected) + ", lost " + std::to_string(dropped) + ", left " +
        std::to_string(forgotten) + " documents, over all destinations)" + pipeline_.summary();
  co_return false;
}

asio::awaitable<Answer> Forwarder::handle(std::string_view body, SteadyTime deadline) {
  events_ = 0;
  dropped_before_ = pipeline_.dropped();
  auto event = cloudwatch::parse_event(body);
  if (!event) co_return Answer{false, {}, std::string(invalid_event_error), event.error().message};
  std::string why, description;
  bool undelivered = false;
  if (event->type == cloudwatch::Event::Type::subscription) {
    const bool offered = co_await offer(event->data, deadline, why, description, undelivered);
    if (!offered && !undelivered)
      co_return Answer{false, {}, std::string(invalid_event_error), "the subscription event's " + why};
    if (undelivered || (events_ > 0 && !co_await deliver(deadline, why)))
      co_return Answer{false, {}, std::string(delivery_error), "of " + description + ": " + why};
    co_return Answer{true, json::serialize(json::object{{"forwarded", events_}}), {}, {}};
  }
  // Kinesis: every record that decodes is offered; when anything is left, they are all handed again (the
  // event-source mapping retries from the lowest sequence number reported).
  json::array failures;
  std::vector<std::string_view> offered;
  bool failed = false;
  for (const auto& r : event->records) {
    if (failed) {  // a flush on the way failed: the rest is handed again with it
      offered.push_back(r.sequence_number);
      continue;
    }
    if (co_await offer(r.data, deadline, why, description, undelivered)) {
      offered.push_back(r.sequence_number);
    } else if (undelivered) {
      failed = true;
      offered.push_back(r.sequence_number);
    } else {
      log_.error("Kinesis record " + r.sequence_number + " skipped: its " + why);
    }
  }
  if (failed || (events_ > 0 && !co_await deliver(deadline, why))) {
    log_.error("of a Kinesis batch of " + std::to_string(event->records.size()) + " records: " + why +
               "; reporting them as failed");
    for (const auto& s : offered) failures.push_back(json::object{{"itemIdentifier", s}});
  }
  co_return Answer{true, json::serialize(json::object{{"batchItemFailures", std::move(failures)}}), {}, {}};
}

std::string region_of(const Getenv& environment) {
  return environment("AWS_REGION").value_or(environment("AWS_DEFAULT_REGION").value_or(""));
}

Result<std::unique_ptr<app::Pipeline>> make_pipeline(const Getenv& env, const Logger& log,
                                                     const asio::any_io_executor& executor) {
  auto loaded = destinations::load_settings(env, log);
  if (!loaded) return std::unexpected(loaded.error());
  pipeline::FunctionContext self;
  self.function_name = env("AWS_LAMBDA_FUNCTION_NAME").value_or("elk-forwarder");
  self.function_version = env("AWS_LAMBDA_FUNCTION_VERSION").value_or("");
  self.region = region_of(env);
  self.initialization_type = env("AWS_LAMBDA_INITIALIZATION_TYPE").value_or("on-demand");
  app::PipelineOptions options{std::chrono::milliseconds(loaded->integer(config::names::timeout_ms)), random_origin()};
  options.spill = false;
  return app::Pipeline::make(*loaded, self, env, log, executor, options);
}

namespace {

asio::awaitable<int> serve(const ForwarderOptions& options, const Logger& log) {
  auto endpoint = http::parse_endpoint(options.runtime_api.value);
  if (!endpoint) {
    log.error("AWS_LAMBDA_RUNTIME_API='" + options.runtime_api.value + "': " + endpoint.error().message +
              "; cannot reach Lambda, exiting");
    co_return 1;
  }
  RuntimeApi api(*endpoint);
  const auto& env = options.environment;
  auto made = make_pipeline(env, log, co_await asio::this_coro::executor);
  if (!made) {
    log.error(made.error().message + "; reported to Lambda as Forwarder.ConfigInvalid, exiting");
    if (auto st = co_await api.init_error("Forwarder.ConfigInvalid", made.error().message); !st)
      log.error(st.error().message);
    co_return 1;
  }
  auto pipeline = std::move(*made);
  Forwarder forwarder(*pipeline, region_of(env), log);

  std::uint64_t failures = 0;
  for (;;) {
    auto inv = co_await api.next();
    if (!inv) {
      log.error(inv.error().message + "; calling next again");
      if (++failures >= 300) {
        log.error("the Runtime API has failed 300 times in a row; exiting");
        co_return 1;
      }
      asio::steady_timer pause(co_await asio::this_coro::executor, std::min<std::uint64_t>(failures, 10) * 20ms);
      co_await pause.async_wait(asio::use_awaitable);
      continue;
    }
    failures = 0;
    const auto steady_now = Clock::now();
    const auto lambda_deadline = inv->deadline.value > 0 ? steady_deadline(inv->deadline, now_epoch_ms(), steady_now)
                                                         : steady_now + default_timeout;
    const auto deadline = std::max(steady_now, lambda_deadline - answer_reserve);
    Answer answer;
    try {
      answer = co_await forwarder.handle(inv->event, deadline);
    } catch (const std::exception& e) {
      answer = Answer{false, {}, "Forwarder.InternalError", std::string("internal error: ") + e.what()};
      pipeline->discard_held();
    }
    Status st;
    if (answer.ok) {
      st = co_await api.respond(inv->request_id, std::move(answer.body));
    } else {
      log.error("request " + inv->request_id + ": " + answer.message + "; answered " + answer.error_type +
                " (Lambda hands the event again)");
      st = co_await api.error(inv->request_id, answer.error_type, answer.message);
    }
    if (!st) log.error(st.error().message);
  }
}

}  // namespace

int run(const ForwarderOptions& options, const Logger& log) {
  asio::io_context io(1);
  return run_main(io, serve(options, log), log);
}

}  // namespace elk::forward
