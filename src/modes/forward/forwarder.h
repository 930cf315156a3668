// The forwarder: the process is a Lambda function (`bootstrap` of a provided.al2023 function, or
// `elk-extension forward`) fed CloudWatch Logs subscription events, or Kinesis batches of them. Settings ->
// pipeline, then the Runtime API loop: each event is decoded, its records offered with their source (group,
// stream, function), flushed within the invocation's deadline, and answered — a response when nothing is left
// to deliver (documents refused for good went to the dead letter), an error otherwise, so that Lambda hands the
// event again (asynchronous invocations: two retries, then the on-failure destination). Nothing is spilled: the
// event is the copy that is kept.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "app/pipeline.h"
#include "core/log.h"
#include "core/time.h"
#include "core/types.h"

namespace elk::forward {

struct ForwarderOptions {
  RuntimeApiAddress runtime_api;
  Getenv environment;
};

// Runs until the process is killed (Lambda freezes and ends it); non-zero on a failure at init.
[[nodiscard]] int run(const ForwarderOptions& options, const Logger& log);

// Where the forwarder runs: AWS_REGION, else AWS_DEFAULT_REGION ("" when neither is set). CloudWatch Logs'
// payloads do not say their Region: the documents take this one.
[[nodiscard]] std::string region_of(const Getenv& environment);

// The forwarder's pipeline from the settings in `environment` (the extension's, without the spill); an error
// lists every bad setting.
[[nodiscard]] Result<std::unique_ptr<app::Pipeline>> make_pipeline(const Getenv& environment, const Logger& log,
                                                                   const boost::asio::any_io_executor& executor);

// What one event comes to: the response body, or the error Lambda is told of.
struct Answer {
  bool ok = true;
  std::string body;        // ok: the response
  std::string error_type;  // not ok: Lambda-Runtime-Function-Error-Type
  std::string message;     // not ok: errorMessage
};

inline constexpr std::string_view invalid_event_error = "Forwarder.InvalidEvent";
inline constexpr std::string_view delivery_error = "Forwarder.DeliveryFailed";

class Forwarder {
 public:
  // `region`: where the function runs (the payloads' Region; CloudWatch Logs does not say).
  Forwarder(app::Pipeline& pipeline, std::string region, const Logger& log)
      : pipeline_(pipeline), region_(std::move(region)), log_(log) {}

  // Decodes, offers and delivers one event until `deadline`. A subscription event that cannot be decoded is an
  // error (retried, then kept by the on-failure destination); in a Kinesis batch such a record is skipped with
  // an error logged (reporting it would hold the shard back for good), and the batch's answer lists the
  // records to hand again.
  boost::asio::awaitable<Answer> handle(std::string_view event, SteadyTime deadline);

 private:
  // Decodes one payload and offers its records, flushing first whenever a quarter of the memory bound is held (so
  // that a large payload is never cut by the bound, which without a spill would drop documents); false when it
  // cannot be decoded (`why` says why: invalid_event_error) or a flush on the way did not deliver everything
  // (`why` and `undelivered`).
  boost::asio::awaitable<bool> offer(std::string_view base64_data, SteadyTime deadline, std::string& why,
                                     std::string& description, bool& undelivered);
  // Flushes; on anything left, forgets it (the event will be handed again) and says what in `why`.
  boost::asio::awaitable<bool> deliver(SteadyTime deadline, std::string& why);

  app::Pipeline& pipeline_;
  std::string region_;
  const Logger& log_;
  std::uint64_t events_ = 0;          // log events offered in this invocation
  std::uint64_t dropped_before_ = 0;  // the pipeline's drops when it began
};

}  // namespace elk::forward
