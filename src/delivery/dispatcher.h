// Hands batches to every destination and keeps what a destination could not take yet.
// Each destination has its own queue and counters. A retryable failure leaves the batch at the
// head of that destination's queue, to go first at the next flush; a permanent failure drops it,
// counted. The queue is bounded in bytes; past the bound the oldest batches are dropped, counted.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <vector>

#include "buffer/batcher.h"
#include "core/log.h"
#include "destinations/destination.h"
#include "destinations/registry.h"

namespace elk::delivery {

struct DestinationStats {
  std::uint64_t delivered = 0;          // documents
  std::uint64_t failed_attempts = 0;    // sends that did not deliver everything
  std::uint64_t dropped_permanent = 0;  // documents dropped on a permanent failure
  std::uint64_t dropped_overflow = 0;   // documents dropped because the queue was full
  std::uint64_t rejected = 0;           // documents the destination refused for good (e.g. mapping errors)
  std::uint64_t dead_lettered = 0;      // of those, handed to the dead-letter destination
};

// When a destination answers "retryable": full-jitter exponential backoff between attempts, never past
// the flush's deadline; a Retry-After hint from the peer is honoured (also only within the deadline).
struct RetryPolicy {
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{2000};
  int attempts = 3;  // tries of one batch within one flush
};

class Dispatcher {
 public:
  Dispatcher(destinations::Lineup lineup, const Logger& log, std::size_t max_queued_bytes, RetryPolicy retry = {});

  // Queues the batches for every destination and sends what is queued, until `deadline`.
  boost::asio::awaitable<void> deliver(std::vector<buffer::Batch> batches, SteadyTime deadline);

  [[nodiscard]] std::size_t queued_documents() const;
  [[nodiscard]] std::vector<std::pair<std::string, DestinationStats>> stats() const;

 private:
  struct Lane {
    std::unique_ptr<destinations::Destination> destination;
    std::deque<std::shared_ptr<const buffer::Batch>> queue;
    std::size_t queued_bytes = 0;
    DestinationStats stats;
    RateLimit report{std::chrono::minutes(1)};
    int dead_letter = -1;  // lane taking this one's rejects
    bool regular = true;   // receives every batch (false: a dead-letter lane)
  };
  boost::asio::awaitable<void> drain(Lane& lane, SteadyTime deadline);
  void push(Lane& lane, std::shared_ptr<const buffer::Batch> batch);
  // Merges the batches at the head of the queue up to the destination's max_batch_bytes.
  static void merge_head(Lane& lane);
  static std::size_t lane_documents(const Lane& lane);
  // Counts the documents a destination refused for good and hands them to its dead-letter lane.
  void reject(Lane& lane, const buffer::Batch& batch, const std::vector<std::size_t>& rejected, std::string_view why);

  std::vector<Lane> lanes_;
  const Logger& log_;
  std::size_t max_queued_bytes_;
  RetryPolicy retry_;
  std::mt19937_64 jitter_{std::random_device{}()};
};

}  // namespace elk::delivery
