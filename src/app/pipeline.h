// The record path, built once from the validated settings, whatever the input (the extension's Telemetry
// listener today; CloudWatch Logs next): events offered are enriched and batched, within the memory bound;
// a flush hands the batches to the delivery layer and says what became of them. Inputs and their
// lifecycle policy (when to flush, how long to wait) live in their own modules; this is the one place where
// enricher, batcher, delivery and destinations are put together.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "buffer/batcher.h"
#include "config/settings.h"
#include "core/log.h"
#include "core/result.h"
#include "core/signal.h"
#include "core/time.h"
#include "delivery/dispatcher.h"
#include "pipeline/enrich.h"
#include "pipeline/record.h"

namespace elk::app {

struct PipelineOptions {
  std::chrono::milliseconds max_age;  // the oldest a batch grows before it is due
  // This environment's id: in document ids and object keys, so that what a later process replays from the
  // spill keeps the names it was first sent under.
  std::uint64_t origin = 0;
  // Whether undelivered documents may go to EXTENSION_LOG_SPILL_DIRECTORY. Off for a source that keeps its
  // records until told they are delivered (a Lambda event, retried after an error): a spilled copy sent
  // later would double them.
  bool spill = true;
};

class Pipeline {
 public:
  // Destinations (EXTENSION_LOG_DESTINATIONS), delivery (retries, spill, memory bound), enricher (rules,
  // extra fields) and batcher; an error names what is wrong.
  [[nodiscard]] static Result<std::unique_ptr<Pipeline>> make(const config::Config& config,
                                                              const pipeline::FunctionContext& function,
                                                              const Getenv& environment, const Logger& log,
                                                              const boost::asio::any_io_executor& executor,
                                                              PipelineOptions options);

  // Enriches and batches the events of one delivery, in order. Past the memory bound (checked every 256
  // documents: a delivery's documents are several times its body), what is batched goes to the spill.
  // Without a source: the process's own function's records (the extension's), enricher().
  void offer(std::span<const pipeline::Record> events, SteadyTime now);
  // Records of another source (a CloudWatch Logs stream): enriched with that source's function and with the
  // invocation state of its stream, kept for the most recently offered max_streams streams.
  void offer(std::span<const pipeline::Record> events, const pipeline::SourceContext& source, SteadyTime now);
  // A document of the extension's own (the summary, a shutdown notice), batched as any other.
  void add(pipeline::Document document, SteadyTime now) { batcher_.add(std::move(document), now); }

  // Sends what is batched (and what waits in the spill) until `deadline`; spills what is left. One flush
  // at a time: a second waits for the first (until `deadline`; then it does nothing and says so).
  boost::asio::awaitable<delivery::FlushOutcome> flush(SteadyTime deadline);
  // For a process about to end without a flush (SIGTERM): everything in memory goes to the spill.
  void spill_held();
  // For a source that will hand its records again: forgets what is batched and held in memory, and says how
  // many documents that was (one batched once, one queued once for each destination holding it).
  std::uint64_t discard_held();

  [[nodiscard]] bool flushing() const { return flushing_; }
  // Whether any document waits in memory (batched, queued or being sent).
  [[nodiscard]] bool holds_documents() const { return batcher_.size() > 0 || dispatcher_.buffered_bytes() > 0; }
  [[nodiscard]] bool due(SteadyTime now) const { return batcher_.due(now); }
  [[nodiscard]] std::optional<SteadyTime> due_at() const { return batcher_.due_at(); }
  [[nodiscard]] std::size_t batched() const { return batcher_.size(); }
  // Bytes of documents held in memory (batched, queued, being sent), and the bound on them
  // (EXTENSION_LOG_MAX_BUFFER_BYTES).
  [[nodiscard]] std::size_t held_bytes() const { return batcher_.bytes() + dispatcher_.buffered_bytes(); }
  [[nodiscard]] std::size_t max_buffer_bytes() const { return max_buffer_bytes_; }
  // Documents lost for good so far, over every destination (refused whole, over the memory bound without a
  // spill, spill full, torn).
  [[nodiscard]] std::uint64_t dropped() const;
  [[nodiscard]] std::size_t pending_documents() const { return dispatcher_.pending_documents(); }
  [[nodiscard]] pipeline::Enricher& enricher() { return enricher_; }
  [[nodiscard]] std::size_t streams() const { return streams_.size(); }
  static constexpr std::size_t max_streams = 1024;

  // The counters of the enricher and of every destination, for the summary line ("; s3: delivered 12, ...")
  // and for the extension.summary document (`received`: what the input took in).
  [[nodiscard]] std::string summary() const;
  [[nodiscard]] boost::json::object summary_fields(std::uint64_t received) const;

  Pipeline(pipeline::Enricher enricher, buffer::Batcher batcher, delivery::Dispatcher dispatcher,
           std::size_t max_buffer_bytes, const boost::asio::any_io_executor& executor);

 private:
  void offer_to(pipeline::Enricher& enricher, std::span<const pipeline::Record> events, SteadyTime now);
  [[nodiscard]] pipeline::EnrichStats enrich_stats() const;

  struct Stream {
    std::string key;  // SourceContext::stream
    pipeline::Enricher enricher;
    std::uint64_t last_offered;
  };

  pipeline::Enricher enricher_;
  std::vector<Stream> streams_;  // other sources' streams, at most max_streams (the least recent goes)
  std::uint64_t offers_ = 0;
  pipeline::EnrichStats evicted_stats_;  // of streams that went
  buffer::Batcher batcher_;
  delivery::Dispatcher dispatcher_;
  std::size_t max_buffer_bytes_;
  bool flushing_ = false;
  Signal flush_done_;  // wakes a flush waiting for another to finish
};

}  // namespace elk::app
