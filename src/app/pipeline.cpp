#include "app/pipeline.h"

#include <algorithm>

#include "core/types.h"
#include "destinations/registry.h"
#include "pipeline/rules.h"

namespace elk::app {

Result<std::unique_ptr<Pipeline>> Pipeline::make(const config::Config& config,
                                                 const pipeline::FunctionContext& function, const Getenv& environment,
                                                 const Logger& log, const boost::asio::any_io_executor& executor,
                                                 PipelineOptions options) {
  destinations::Context ctx{config, function, log, executor, environment};
  auto dests = destinations::make_destinations(ctx);
  if (!dests) return std::unexpected(dests.error());
  bool keep_raw = false;
  for (const auto& d : dests->destinations) keep_raw |= d->needs_raw();

  const auto max_buffer_bytes = static_cast<std::size_t>(config.integer(config::names::max_buffer_bytes));
  delivery::DispatcherOptions delivery_options;
  delivery_options.retry = {std::chrono::milliseconds(config.integer(config::names::retry_base_ms)),
                            std::chrono::milliseconds(config.integer(config::names::retry_max_ms)),
                            static_cast<int>(config.integer(config::names::retry_attempts))};
  delivery_options.max_buffer_bytes = max_buffer_bytes;
  const auto& spill_directory = config.text(config::names::spill_directory);
  if (options.spill && spill_directory != "none") {
    auto spill = delivery::Spill::open(spill_directory,
                                       static_cast<std::uint64_t>(config.integer(config::names::spill_max_bytes)));
    if (spill)
      delivery_options.spill.emplace(std::move(*spill));
    else
      log.error(spill.error().message + " (" + std::string(config::names::spill_directory) +
                "); running without a spill: undelivered records wait in memory");
  }
  delivery::Dispatcher dispatcher(std::move(*dests), log, std::move(delivery_options));
  pipeline::Enricher enricher(function, pipeline::rules_from(config), config.text(config::names::extra_fields_root),
                              keep_raw);
  buffer::Batcher batcher(
      buffer::Limits{static_cast<std::size_t>(config.integer(config::names::max_items)),
                     static_cast<std::size_t>(config.integer(config::names::max_bytes)), options.max_age},
      options.origin);
  if (const auto restored = dispatcher.pending_documents())
    log.info("found " + std::to_string(restored) + " undelivered records in the spill (" + spill_directory +
             "); they are sent first");
  return std::make_unique<Pipeline>(std::move(enricher), std::move(batcher), std::move(dispatcher), max_buffer_bytes,
                                    executor);
}

Pipeline::Pipeline(pipeline::Enricher enricher, buffer::Batcher batcher, delivery::Dispatcher dispatcher,
                   std::size_t max_buffer_bytes, const boost::asio::any_io_executor& executor)
    : enricher_(std::move(enricher)),
      batcher_(std::move(batcher)),
      dispatcher_(std::move(dispatcher)),
      max_buffer_bytes_(max_buffer_bytes),
      flush_done_(executor) {}

namespace {

void add_stats(pipeline::EnrichStats& total, const pipeline::EnrichStats& s) {
  total.filtered += s.filtered;
  total.redacted += s.redacted;
  total.truncated += s.truncated;
}

}  // namespace

void Pipeline::offer(std::span<const pipeline::Record> events, SteadyTime now) {
  offer_to(enricher_, events, now);
}

void Pipeline::offer(std::span<const pipeline::Record> events, const pipeline::SourceContext& source, SteadyTime now) {
  if (source.stream.empty()) return offer_to(enricher_, events, now);
  ++offers_;
  auto it = std::find_if(streams_.begin(), streams_.end(), [&](const Stream& s) { return s.key == source.stream; });
  if (it == streams_.end()) {
    if (streams_.size() >= max_streams) {
      it = std::min_element(streams_.begin(), streams_.end(),
                            [](const Stream& a, const Stream& b) { return a.last_offered < b.last_offered; });
      add_stats(evicted_stats_, it->enricher.stats());
      *it = Stream{source.stream, enricher_.for_source(source), offers_};
    } else {
      it = streams_.insert(streams_.end(), Stream{source.stream, enricher_.for_source(source), offers_});
    }
  }
  it->last_offered = offers_;
  offer_to(it->enricher, events, now);
}

pipeline::EnrichStats Pipeline::enrich_stats() const {
  pipeline::EnrichStats total = enricher_.stats();
  add_stats(total, evicted_stats_);
  for (const auto& s : streams_) add_stats(total, s.enricher.stats());
  return total;
}

void Pipeline::offer_to(pipeline::Enricher& enricher, std::span<const pipeline::Record> events, SteadyTime now) {
  constexpr std::size_t check_every = 256;
  std::size_t made = 0;
  for (const auto& ev : events) {
    if (auto doc = enricher.enrich(ev)) {
      batcher_.add(std::move(*doc), now);
      if (++made % check_every == 0 && batcher_.bytes() + dispatcher_.buffered_bytes() > max_buffer_bytes_)
        dispatcher_.spill(batcher_.drain());
    }
  }
  // The memory bound: past it, the batch being filled goes to the spill (sent first at the next flush).
  if (batcher_.bytes() + dispatcher_.buffered_bytes() > max_buffer_bytes_) dispatcher_.spill(batcher_.drain());
}

boost::asio::awaitable<delivery::FlushOutcome> Pipeline::flush(SteadyTime deadline) {
  while (flushing_) {
    if (std::chrono::steady_clock::now() >= deadline) {
      delivery::FlushOutcome none;
      none.in_memory = batcher_.size();  // not handed over: still at risk
      co_return none;
    }
    co_await flush_done_.wait_until(deadline);
  }
  flushing_ = true;
  // Batches drained now are sent now; what arrives meanwhile waits for the next flush.
  auto batches = batcher_.drain();
  delivery::FlushOutcome outcome;
  try {
    outcome = co_await dispatcher_.deliver(std::move(batches), deadline);
  } catch (...) {
    flushing_ = false;
    flush_done_.notify();
    throw;
  }
  flushing_ = false;
  flush_done_.notify();
  co_return outcome;
}

std::uint64_t Pipeline::dropped() const {
  std::uint64_t n = 0;
  for (const auto& [name, s] : dispatcher_.stats())
    n += s.dropped_permanent + s.dropped_spill_full + s.dropped_buffer_full + s.dropped_torn;
  return n;
}

std::uint64_t Pipeline::discard_held() {
  std::uint64_t documents = 0;
  for (const auto& batch : batcher_.drain()) documents += batch.documents.size();
  return documents + dispatcher_.discard_held();
}

void Pipeline::spill_held() {
  dispatcher_.spill(batcher_.drain());
  dispatcher_.spill_held();
}

std::string Pipeline::summary() const {
  std::string out;
  const auto es = enrich_stats();
  if (es.filtered) out += ", " + std::to_string(es.filtered) + " filtered out";
  if (es.redacted) out += ", " + std::to_string(es.redacted) + " redacted";
  if (es.truncated) out += ", " + std::to_string(es.truncated) + " truncated";
  std::uint64_t not_delivered = batcher_.size();
  for (const auto& [name, s] : dispatcher_.stats()) {
    out += "; " + name + ": delivered " + std::to_string(s.delivered);
    for (const auto& c : delivery::kDestinationCounters)
      if (!c.label.empty() && s.*c.value != 0) out += ", " + std::string(c.label) + " " + std::to_string(s.*c.value);
    not_delivered += s.pending;
  }
  if (not_delivered) {
    out += "; NOT delivered: " + std::to_string(not_delivered);
    if (const auto* spill = dispatcher_.spill_store())
      out += " (what is in the spill, " + spill->directory().string() +
             ", is sent by the next extension process if Lambda reuses this environment)";
  }
  return out;
}

boost::json::object Pipeline::summary_fields(std::uint64_t received) const {
  boost::json::object destinations;
  for (const auto& [name, s] : dispatcher_.stats()) {
    boost::json::object counters;
    for (const auto& c : delivery::kDestinationCounters) counters[c.key] = s.*c.value;
    destinations[name] = std::move(counters);
  }
  const auto es = enrich_stats();
  return boost::json::object{{"extension", boost::json::object{{"received", received},
                                                               {"filtered", es.filtered},
                                                               {"redacted", es.redacted},
                                                               {"truncated", es.truncated},
                                                               {"destinations", std::move(destinations)}}}};
}

}  // namespace elk::app
