// The one delivery layer: hands batches to every destination, retries, spills what could not be
// delivered in time, replays it first. Destinations only classify their answers (destination.h).
//
// Each destination is a lane with its own queue, spill directory and counters; lanes are drained in
// parallel, so a slow or dead destination never delays another. Within a flush, a retryable failure
// is tried again after a full-jitter backoff (honouring the peer's Retry-After), never past the
// flush's deadline; a partial failure retries just the failed documents; a permanent one drops the
// batch, counted. What is still undelivered when a lane's flush ends goes to the spill (when there is
// one; else it stays queued in memory) and leaves first at the next flush, of this process or of the
// next one. Memory is bounded: queues hold at most `max_buffer_bytes`; past it the oldest are spilled
// (or, without a spill, dropped), counted.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <string_view>
#include <vector>

#include "buffer/batcher.h"
#include "core/log.h"
#include "delivery/spill.h"
#include "destinations/destination.h"
#include "destinations/registry.h"

namespace elk::delivery {

// Documents, per destination. At any moment:
//   received + restored = delivered + dropped_permanent + dropped_spill_full + dropped_buffer_full
//                         + dropped_torn + rejected + pending
// (rejected documents go on to the dead-letter destination, when there is one, and count there as received).
struct DestinationStats {
  std::uint64_t received = 0;             // handed to this destination by this process
  std::uint64_t restored = 0;             // found in the spill at start, left by an earlier process
  std::uint64_t delivered = 0;            // accepted by the destination (replayed ones included)
  std::uint64_t replayed = 0;             // of those, delivered from the spill
  std::uint64_t retried = 0;              // sent again after a failed attempt (documents; a document may count twice)
  std::uint64_t failed_attempts = 0;      // sends that did not deliver everything
  std::uint64_t spilled = 0;              // written to the spill
  std::uint64_t dropped_permanent = 0;    // the destination refused the whole batch for good (credentials, bucket)
  std::uint64_t dropped_spill_full = 0;   // the oldest spilled, deleted to make room in the spill
  std::uint64_t dropped_buffer_full = 0;  // over the memory bound with no spill to take them
  std::uint64_t dropped_torn = 0;         // lost with the torn tail of a spill file (a kill mid-write)
  std::uint64_t rejected = 0;             // refused for good one by one (e.g. mapping errors)
  std::uint64_t dead_lettered = 0;        // of those, handed to the dead-letter destination
  std::uint64_t pending = 0;              // still to deliver: in memory or in the spill
};

// The counters named once, for the reports: the extension.summary document (key) and the summary line at
// shutdown (label, when not 0; that line starts with `delivered` and leaves `received` out: no label).
struct DestinationCounter {
  std::string_view key;
  std::string_view label;
  std::uint64_t DestinationStats::*value;
};
inline constexpr DestinationCounter kDestinationCounters[] = {
    {"received", "", &DestinationStats::received},
    {"delivered", "", &DestinationStats::delivered},
    {"replayed", "of them replayed from the spill", &DestinationStats::replayed},
    {"restored", "restored from an earlier process", &DestinationStats::restored},
    {"retried", "retried", &DestinationStats::retried},
    {"failed_attempts", "failed attempts", &DestinationStats::failed_attempts},
    {"spilled", "spilled", &DestinationStats::spilled},
    {"dropped_permanent", "dropped (refused)", &DestinationStats::dropped_permanent},
    {"dropped_spill_full", "dropped (spill full)", &DestinationStats::dropped_spill_full},
    {"dropped_buffer_full", "dropped (memory full)", &DestinationStats::dropped_buffer_full},
    {"dropped_torn", "dropped (torn spill)", &DestinationStats::dropped_torn},
    {"rejected", "rejected", &DestinationStats::rejected},
    {"dead_lettered", "dead-lettered", &DestinationStats::dead_lettered},
    {"pending", "pending", &DestinationStats::pending},
};

// When a destination answers "retryable": full-jitter exponential backoff between attempts, never past
// the flush's deadline; a Retry-After hint from the peer is honoured (also only within the deadline).
struct RetryPolicy {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{2000};
  int attempts = 3;  // tries of one batch within one flush
};

// What one flush did, over every destination (documents: one sent to two destinations counts twice). What a
// caller must know before it lets records go: a function before it answers Lambda, a poller before it
// moves its checkpoint.
struct FlushOutcome {
  std::uint64_t delivered = 0;  // accepted by their destination in this flush (replays from the spill included)
  std::uint64_t rejected = 0;   // refused one by one for good in it (handed to the dead-letter destination, if any)
  std::uint64_t dropped = 0;    // lost for good in it: refused whole, spill full, memory full, torn spill
  std::uint64_t spilled = 0;    // after it, still to deliver and safe in the spill
  std::uint64_t in_memory = 0;  // after it, still to deliver and held in memory only (no spill, or it failed)

  // Everything handed over is at its destination, refused for good, or safe on disk.
  [[nodiscard]] bool nothing_at_risk() const { return dropped == 0 && in_memory == 0; }
  // Nothing is left to deliver and nothing was lost.
  [[nodiscard]] bool all_delivered() const { return dropped == 0 && spilled == 0 && in_memory == 0; }
};

struct DispatcherOptions {
  RetryPolicy retry;
  std::size_t max_buffer_bytes = 16uz * 1024 * 1024;  // documents held in memory by the queues
  std::optional<Spill> spill;                         // none: undelivered documents wait in memory
};

class Dispatcher {
 public:
  Dispatcher(destinations::Lineup lineup, const Logger& log, DispatcherOptions options);

  // Queues the batches for every destination, sends what is spilled and queued until `deadline`,
  // then spills what is left; says what became of them.
  boost::asio::awaitable<FlushOutcome> deliver(std::vector<buffer::Batch> batches, SteadyTime deadline);
  // Spills batches for every destination without sending them (the memory bound is reached while a
  // flush is running); without a spill they are queued, within the bound.
  void spill(std::vector<buffer::Batch> batches);
  // Moves whatever every lane holds in memory — its queue and the batch it is sending — to the spill, for a
  // process about to end without flushing (SIGTERM). A batch that was in flight may then be sent twice.
  void spill_held();
  // Forgets whatever every lane holds in memory (its queue, and the batch it was sending unless that is in the
  // spill), for a source that will hand those records again (a Lambda event answered with an error is
  // retried); says how many documents, over every lane.
  std::uint64_t discard_held();

  // Bytes of documents held in memory (queued or being sent; a batch shared by destinations once).
  [[nodiscard]] std::size_t buffered_bytes() const;
  [[nodiscard]] std::size_t pending_documents() const;  // in memory and spilled, every destination
  [[nodiscard]] std::vector<std::pair<std::string, DestinationStats>> stats() const;
  [[nodiscard]] const Spill* spill_store() const { return spill_ ? &*spill_ : nullptr; }

 private:
  struct Head {  // the batch being sent
    std::shared_ptr<const buffer::Batch> batch;
    std::optional<std::uint64_t> spill_id;  // read from the spill (its file stays until delivered)
    bool changed = false;                   // partly delivered since it was read from the spill
  };
  struct Lane {
    std::unique_ptr<destinations::Destination> destination;
    std::string spill_name;  // its directory in the spill
    std::deque<std::shared_ptr<const buffer::Batch>> queue;
    std::optional<Head> head;
    DestinationStats stats;
    RateLimit report{std::chrono::minutes(1)};
    std::optional<std::size_t> dead_letter;  // the lane taking this one's rejects
    bool regular = true;                     // receives every batch (false: a dead-letter lane)
  };
  boost::asio::awaitable<void> drain(Lane& lane, SteadyTime deadline);
  // Documents the lane holds in memory only: its queue, and its head unless that was read from the spill.
  [[nodiscard]] static std::uint64_t held_documents(const Lane& lane);
  [[nodiscard]] FlushOutcome outcome_since(const std::vector<std::pair<std::string, DestinationStats>>& before) const;
  // Takes the next batch to send: the oldest spilled one, else the queue's head merged up to the
  // destination's max_batch_bytes. False when there is nothing.
  bool take_head(Lane& lane);
  // Moves the head (unless it is an unchanged spilled batch, which is still on disk) and the queue to the
  // spill; without a spill, back to the queue.
  void put_aside(Lane& lane);
  void push(Lane& lane, std::shared_ptr<const buffer::Batch> batch);
  // Drops the oldest queued batches while memory is over the bound (only without a spill).
  void enforce_bound();
  bool to_spill(Lane& lane, const buffer::Batch& batch);
  // Counts the documents a destination refused for good and hands them to its dead-letter lane.
  void reject(Lane& lane, const buffer::Batch& batch, const std::vector<std::size_t>& rejected, std::string_view why);

  std::vector<Lane> lanes_;
  const Logger& log_;
  RetryPolicy retry_;
  std::size_t max_buffer_bytes_;
  std::optional<Spill> spill_;
  RateLimit spill_report_{std::chrono::minutes(1)};
  std::mt19937_64 jitter_{std::random_device{}()};
};

}  // namespace elk::delivery
