// The one interface every destination implements. A destination encodes a batch, sends it, and
// classifies the answer; it never sleeps or retries — the delivery layer alone does that.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "buffer/batcher.h"
#include "config/settings.h"
#include "core/log.h"
#include "core/result.h"
#include "core/time.h"
#include "pipeline/enrich.h"

namespace elk::destinations {

struct SendResult {
  enum class Kind {
    ok,         // all delivered
    retryable,  // nothing (known to be) delivered; the same batch may succeed later
    permanent,  // will not succeed until something is fixed (credentials, bucket, mapping)
    partial,    // some documents delivered; `failed` lists the ones to retry, `rejected` the ones refused for good
  };
  Kind kind = Kind::ok;
  std::string message;                                   // for anything but ok: what failed, and why
  std::optional<std::chrono::milliseconds> retry_after;  // a hint from the peer, when it gave one
  std::vector<std::size_t> failed;                       // partial: indexes into the batch, to retry
  std::vector<std::size_t> rejected;  // ok or partial: indexes refused for good (e.g. mapping errors)

  static SendResult ok() { return {}; }
  static SendResult retryable(std::string why, std::optional<std::chrono::milliseconds> after = std::nullopt) {
    return {Kind::retryable, std::move(why), after, {}, {}};
  }
  static SendResult permanent(std::string why) { return {Kind::permanent, std::move(why), std::nullopt, {}, {}}; }
};

class Destination {
 public:
  virtual ~Destination() = default;
  [[nodiscard]] virtual std::string_view name() const = 0;
  // Delivers one batch before `deadline`, or says why not.
  [[nodiscard]] virtual boost::asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime deadline) = 0;
  // Whether documents must carry the raw telemetry record (Document::raw).
  [[nodiscard]] virtual bool needs_raw() const { return false; }
  // The largest batch this destination takes at once; queued batches are merged up to it, so that,
  // e.g., one flush becomes one S3 object. 0: batches as the batcher cut them.
  [[nodiscard]] virtual std::size_t max_batch_bytes() const { return 0; }
  // The destination that takes the documents this one rejects for good ("" = none): e.g. documents
  // Elasticsearch refused with a mapping error go to S3 rather than being lost.
  [[nodiscard]] virtual std::string dead_letter() const { return ""; }
};

// What a destination's factory may use.
struct Context {
  const config::Config& config;
  const pipeline::FunctionContext& function;
  const Logger& log;
  boost::asio::any_io_executor executor;  // where network destinations run their connections
  Getenv getenv;                          // AWS credentials, region, endpoints, CA paths
  // This instance takes another destination's rejects (EXTENSION_LOG_DESTINATION_*_DEAD_LETTER): the names
  // it writes say so, so that they never meet a regular instance's (same bucket, same directory).
  bool dead_letter = false;
};

// The part of an object's or a file's name that makes it unique and the same on every retry and replay:
// "<origin as 16 hex digits>-<sequence as 10+ digits>" of its first document or, for documents with the
// source's stable ids (Document::id: a CloudWatch Logs payload handed again after an error), 26 hex digits of
// the hash of its first and last ids; "-rejected" for a dead-letter instance's.
[[nodiscard]] std::string batch_unique(const pipeline::Document& first, const pipeline::Document& last,
                                       bool dead_letter);

// A destination kind: its name (as written in EXTENSION_LOG_DESTINATIONS), its settings rows and its
// factory. Each destination's file defines one.
struct DestinationType {
  std::string_view name;
  std::span<const config::Setting> settings;
  Result<std::unique_ptr<Destination>> (*make)(const Context& context);
};

}  // namespace elk::destinations
