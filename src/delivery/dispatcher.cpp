#include "delivery/dispatcher.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/signal.h"

namespace elk::delivery {

Dispatcher::Dispatcher(destinations::Lineup lineup, const Logger& log, std::size_t max_queued_bytes,
                       RetryPolicy retry)
    : log_(log), max_queued_bytes_(max_queued_bytes), retry_(retry) {
  for (std::size_t i = 0; i < lineup.destinations.size(); ++i) {
    Lane lane;
    lane.destination = std::move(lineup.destinations[i]);
    lane.dead_letter = lineup.dead_letter[i];
    lane.regular = i < lineup.regular;
    lanes_.push_back(std::move(lane));
  }
}

void Dispatcher::reject(Lane& lane, const buffer::Batch& batch, const std::vector<std::size_t>& rejected,
                        std::string_view why) {
  if (rejected.empty()) return;
  auto dead = std::make_shared<buffer::Batch>();
  for (auto i : rejected)
    if (i < batch.documents.size()) {
      dead->bytes += batch.documents[i].json.size();
      dead->documents.push_back(batch.documents[i]);
    }
  lane.stats.rejected += dead->documents.size();
  std::string where = "dropped";
  if (lane.dead_letter >= 0) {
    lane.stats.dead_lettered += dead->documents.size();
    where = "sent to " + std::string(lanes_[static_cast<std::size_t>(lane.dead_letter)].destination->name()) +
            " (dead letter)";
    push(lanes_[static_cast<std::size_t>(lane.dead_letter)], std::move(dead));
  }
  if (lane.report.allow(std::chrono::steady_clock::now()))
    log_.error("destination " + std::string(lane.destination->name()) + " rejected " + std::to_string(rejected.size()) +
               " records for good (" + std::string(why) + "); " + where + "; " + std::to_string(lane.stats.rejected) +
               " so far, reported at most once a minute");
}

void Dispatcher::push(Lane& lane, std::shared_ptr<const buffer::Batch> batch) {
  lane.queued_bytes += batch->bytes;
  lane.queue.push_back(std::move(batch));
  std::uint64_t dropped = 0;
  while (lane.queued_bytes > max_queued_bytes_ && lane.queue.size() > 1) {
    lane.queued_bytes -= lane.queue.front()->bytes;
    dropped += lane.queue.front()->documents.size();
    lane.queue.pop_front();
  }
  if (dropped > 0) {
    lane.stats.dropped_overflow += dropped;
    log_.error("destination " + std::string(lane.destination->name()) + ": queue over " +
               std::to_string(max_queued_bytes_) + " bytes; dropped the " + std::to_string(dropped) +
               " oldest records (" + std::to_string(lane.stats.dropped_overflow) + " so far)");
  }
}

boost::asio::awaitable<void> Dispatcher::deliver(std::vector<buffer::Batch> batches, SteadyTime deadline) {
  for (auto& b : batches) {
    auto shared = std::make_shared<const buffer::Batch>(std::move(b));
    for (auto& lane : lanes_)
      if (lane.regular) push(lane, shared);
  }
  // Every destination at its own pace: a slow one does not hold up the others. Dead-letter lanes
  // after: they take what the others rejected in this very flush.
  for (const bool regular : {true, false}) {
    auto executor = co_await boost::asio::this_coro::executor;
    Signal all_done(executor);
    std::size_t running = 0;
    std::exception_ptr failure;
    for (auto& lane : lanes_) {
      if (lane.regular != regular) continue;
      ++running;
      boost::asio::co_spawn(executor, drain(lane, deadline), [&](std::exception_ptr e) {
        if (e && !failure) failure = e;
        if (--running == 0) all_done.notify();
      });
    }
    while (running > 0) co_await all_done.wait_until(SteadyTime::max());
    if (failure) std::rethrow_exception(failure);
  }
}

boost::asio::awaitable<void> Dispatcher::drain(Lane& lane, SteadyTime deadline) {
  using Kind = destinations::SendResult::Kind;
  int attempt = 0;  // failed tries of the batch at the head of the queue, in this flush
  while (!lane.queue.empty() && std::chrono::steady_clock::now() < deadline) {
    merge_head(lane);
    const auto batch = lane.queue.front();
    const auto result = co_await lane.destination->send(*batch, deadline);
    const std::string dest(lane.destination->name());
    switch (result.kind) {
      case Kind::ok:
        attempt = 0;
        lane.stats.delivered += batch->documents.size() - result.rejected.size();
        lane.queued_bytes -= batch->bytes;
        lane.queue.pop_front();
        reject(lane, *batch, result.rejected, result.message);
        continue;
      case Kind::permanent:
        attempt = 0;
        ++lane.stats.failed_attempts;
        lane.stats.dropped_permanent += batch->documents.size();
        lane.queued_bytes -= batch->bytes;
        lane.queue.pop_front();
        if (lane.report.allow(std::chrono::steady_clock::now()))
          log_.error("destination " + dest + " refused " + std::to_string(batch->documents.size()) +
                     " records for good: " + result.message + "; dropped (" +
                     std::to_string(lane.stats.dropped_permanent) + " so far; reported at most once a minute)");
        continue;
      case Kind::partial: {
        ++lane.stats.failed_attempts;
        auto rest = std::make_shared<buffer::Batch>();
        for (auto i : result.failed)
          if (i < batch->documents.size()) {
            rest->bytes += batch->documents[i].json.size();
            rest->documents.push_back(batch->documents[i]);
          }
        lane.stats.delivered += batch->documents.size() - rest->documents.size() - result.rejected.size();
        lane.queued_bytes -= batch->bytes - rest->bytes;
        lane.queue.front() = std::move(rest);
        reject(lane, *batch, result.rejected, result.message);
        break;
      }
      case Kind::retryable:
        ++lane.stats.failed_attempts;
        break;
    }
    // Full jitter: a random wait up to base * 2^attempt (at most cap), or what the peer asked for.
    ++attempt;
    const std::chrono::milliseconds ceiling =
        std::min<std::chrono::milliseconds>(retry_.cap, retry_.base * (std::int64_t{1} << std::min(attempt, 20)));
    auto wait = std::chrono::milliseconds(
        std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(ceiling.count(), 0))(jitter_));
    if (result.retry_after) wait = *result.retry_after;
    if (attempt < retry_.attempts && std::chrono::steady_clock::now() + wait < deadline) {
      boost::asio::steady_timer pause(co_await boost::asio::this_coro::executor, wait);
      co_await pause.async_wait(boost::asio::use_awaitable);
      continue;
    }
    if (lane.report.allow(std::chrono::steady_clock::now()))
      log_.warn("destination " + dest + ": " + result.message + "; " + std::to_string(lane_documents(lane)) +
                " records kept for the next flush (reported at most once a minute)");
    co_return;  // try again at the next flush
  }
}

void Dispatcher::merge_head(Lane& lane) {
  const auto limit = lane.destination->max_batch_bytes();
  if (limit == 0 || lane.queue.size() < 2) return;
  std::size_t bytes = lane.queue.front()->bytes, n = 1;
  while (n < lane.queue.size() && bytes + lane.queue[n]->bytes <= limit) bytes += lane.queue[n++]->bytes;
  if (n == 1) return;
  auto merged = std::make_shared<buffer::Batch>();
  for (std::size_t i = 0; i < n; ++i) {
    merged->bytes += lane.queue[i]->bytes;
    merged->documents.insert(merged->documents.end(), lane.queue[i]->documents.begin(), lane.queue[i]->documents.end());
  }
  lane.queue.erase(lane.queue.begin(), lane.queue.begin() + static_cast<std::ptrdiff_t>(n));
  lane.queue.push_front(std::move(merged));
}

std::size_t Dispatcher::lane_documents(const Lane& lane) {
  std::size_t n = 0;
  for (const auto& b : lane.queue) n += b->documents.size();
  return n;
}

std::size_t Dispatcher::queued_documents() const {
  std::size_t n = 0;
  for (const auto& lane : lanes_) n += lane_documents(lane);
  return n;
}

std::vector<std::pair<std::string, DestinationStats>> Dispatcher::stats() const {
  std::vector<std::pair<std::string, DestinationStats>> out;
  for (const auto& lane : lanes_) out.emplace_back(std::string(lane.destination->name()), lane.stats);
  return out;
}

}  // namespace elk::delivery
