#include "delivery/dispatcher.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/signal.h"

namespace elk::delivery {
namespace {

std::shared_ptr<buffer::Batch> subset(const buffer::Batch& batch, const std::vector<std::size_t>& indexes) {
  auto out = std::make_shared<buffer::Batch>();
  for (auto i : indexes)
    if (i < batch.documents.size()) {
      out->bytes += batch.documents[i].bytes();
      out->documents.push_back(batch.documents[i]);
    }
  return out;
}

}  // namespace

Dispatcher::Dispatcher(destinations::Lineup lineup, const Logger& log, DispatcherOptions options)
    : log_(log), retry_(options.retry), max_buffer_bytes_(options.max_buffer_bytes), spill_(std::move(options.spill)) {
  for (std::size_t i = 0; i < lineup.destinations.size(); ++i) {
    Lane lane;
    lane.destination = std::move(lineup.destinations[i]);
    lane.dead_letter = lineup.dead_letter[i];
    lane.regular = i < lineup.regular;
    lane.spill_name = std::string(lane.destination->name());
    lanes_.push_back(std::move(lane));
  }
  // A dead-letter lane's spill is its own: "<dead letter>.dead-letter-of.<destination>".
  for (auto& lane : lanes_)
    if (lane.dead_letter) {
      auto& dl = lanes_[*lane.dead_letter];
      dl.spill_name = dl.spill_name + ".dead-letter-of." + lane.spill_name;
    }
}

void Dispatcher::reject(Lane& lane, const buffer::Batch& batch, const std::vector<std::size_t>& rejected,
                        std::string_view why) {
  if (rejected.empty()) return;
  auto dead = subset(batch, rejected);
  lane.stats.rejected += dead->documents.size();
  std::string where = "dropped";
  if (lane.dead_letter) {
    lane.stats.dead_lettered += dead->documents.size();
    auto& dl = lanes_[*lane.dead_letter];
    where = "sent to " + std::string(dl.destination->name()) + " (dead letter)";
    dl.stats.received += dead->documents.size();
    push(dl, std::move(dead));
  }
  if (lane.report.allow(std::chrono::steady_clock::now()))
    log_.error("destination " + std::string(lane.destination->name()) + " rejected " + std::to_string(rejected.size()) +
               " records for good (" + std::string(why) + "); " + where + "; " + std::to_string(lane.stats.rejected) +
               " so far, reported at most once a minute");
}

void Dispatcher::push(Lane& lane, std::shared_ptr<const buffer::Batch> batch) {
  lane.queue.push_back(std::move(batch));
  enforce_bound();
}

void Dispatcher::enforce_bound() {
  // The oldest queued batches go to the spill (or, when it cannot take them, are dropped) until memory is
  // within the bound. Batches being sent stay.
  for (auto& lane : lanes_) {
    std::uint64_t dropped = 0;
    while (!lane.queue.empty() && buffered_bytes() > max_buffer_bytes_) {
      auto oldest = std::move(lane.queue.front());
      lane.queue.pop_front();
      if (!to_spill(lane, *oldest)) dropped += oldest->documents.size();
    }
    if (dropped == 0) continue;
    lane.stats.dropped_buffer_full += dropped;
    if (lane.report.allow(std::chrono::steady_clock::now()))
      log_.error("destination " + std::string(lane.destination->name()) + ": over EXTENSION_LOG_MAX_BUFFER_BYTES (" +
                 std::to_string(max_buffer_bytes_) + " bytes) and the spill cannot take more; dropped the " +
                 std::to_string(dropped) + " oldest records (" + std::to_string(lane.stats.dropped_buffer_full) +
                 " so far; reported at most once a minute)");
  }
}

bool Dispatcher::to_spill(Lane& lane, const buffer::Batch& batch) {
  if (!spill_) return false;
  auto st = spill_->append(lane.spill_name, batch);
  if (st) return true;
  if (spill_report_.allow(std::chrono::steady_clock::now()))
    log_.error("cannot spill " + std::to_string(batch.documents.size()) + " records of " +
               std::string(lane.destination->name()) + ": " + st.error().message + " (reported at most once a minute)");
  return false;
}

void Dispatcher::spill(std::vector<buffer::Batch> batches) {
  for (auto& b : batches) {
    auto shared = std::make_shared<const buffer::Batch>(std::move(b));
    for (auto& lane : lanes_) {
      if (!lane.regular) continue;
      lane.stats.received += shared->documents.size();
      if (!to_spill(lane, *shared)) push(lane, shared);
    }
  }
}

void Dispatcher::spill_held() {
  for (auto& lane : lanes_) put_aside(lane);
}

std::uint64_t Dispatcher::discard_held() {
  std::uint64_t documents = 0;
  for (auto& lane : lanes_) {
    documents += held_documents(lane);
    lane.queue.clear();
    if (lane.head && !lane.head->spill_id) lane.head.reset();
  }
  return documents;
}

boost::asio::awaitable<FlushOutcome> Dispatcher::deliver(std::vector<buffer::Batch> batches, SteadyTime deadline) {
  const auto before = stats();
  for (auto& b : batches) {
    auto shared = std::make_shared<const buffer::Batch>(std::move(b));
    for (auto& lane : lanes_)
      if (lane.regular) {
        lane.stats.received += shared->documents.size();
        push(lane, shared);
      }
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
  co_return outcome_since(before);
}

FlushOutcome Dispatcher::outcome_since(const std::vector<std::pair<std::string, DestinationStats>>& before) const {
  FlushOutcome out;
  const auto after = stats();
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const auto& a = after[i].second;
    const auto& b = before[i].second;
    out.delivered += a.delivered - b.delivered;
    out.rejected += a.rejected - b.rejected;
    out.dropped += (a.dropped_permanent + a.dropped_spill_full + a.dropped_buffer_full + a.dropped_torn) -
                   (b.dropped_permanent + b.dropped_spill_full + b.dropped_buffer_full + b.dropped_torn);
    const auto held = held_documents(lanes_[i]);
    out.in_memory += held;
    out.spilled += a.pending - held;
  }
  return out;
}

bool Dispatcher::take_head(Lane& lane) {
  if (lane.head) return true;
  if (spill_)
    if (auto entry = spill_->front(lane.spill_name)) {
      lane.head = Head{std::make_shared<const buffer::Batch>(std::move(entry->batch)), entry->id, false};
      return true;
    }
  if (lane.queue.empty()) return false;
  // Merge queued batches up to the destination's largest batch: e.g. one flush becomes one S3 object. The
  // head then stays as it is until it is delivered, so that a retry sends the very same batch.
  const auto limit = lane.destination->max_batch_bytes();
  std::size_t bytes = lane.queue.front()->bytes, n = 1;
  if (limit > 0)
    while (n < lane.queue.size() && bytes + lane.queue[n]->bytes <= limit) bytes += lane.queue[n++]->bytes;
  if (n == 1) {
    lane.head = Head{lane.queue.front(), std::nullopt, false};
  } else {
    auto merged = std::make_shared<buffer::Batch>();
    for (std::size_t i = 0; i < n; ++i) {
      merged->bytes += lane.queue[i]->bytes;
      merged->documents.insert(merged->documents.end(), lane.queue[i]->documents.begin(),
                               lane.queue[i]->documents.end());
    }
    lane.head = Head{std::move(merged), std::nullopt, false};
  }
  lane.queue.erase(lane.queue.begin(), lane.queue.begin() + static_cast<std::ptrdiff_t>(n));
  return true;
}

void Dispatcher::put_aside(Lane& lane) {
  std::deque<std::shared_ptr<const buffer::Batch>> rest;
  if (lane.head) {
    auto head = std::move(*lane.head);
    lane.head.reset();
    if (head.spill_id && !head.changed) {
      spill_->release(lane.spill_name, *head.spill_id);  // still on disk, as it was
    } else if (head.spill_id) {
      // Partly delivered: the rest replaces the file (should that fail, the file stays and is sent again whole,
      // which deterministic ids and keys make harmless).
      if (to_spill(lane, *head.batch))
        spill_->remove(lane.spill_name, *head.spill_id);
      else
        spill_->release(lane.spill_name, *head.spill_id);
    } else {
      rest.push_back(std::move(head.batch));
    }
  }
  for (auto& b : lane.queue) rest.push_back(std::move(b));
  lane.queue.clear();
  if (rest.empty()) return;
  if (spill_) {
    // The attempted head keeps its own file (its retry must be the same batch); the rest is merged into
    // files of about one destination batch, so that replaying one never holds much in memory.
    const auto limit = lane.destination->max_batch_bytes();
    const std::size_t file_bytes = limit ? std::min<std::size_t>(limit, 8 << 20) : std::size_t{1} << 20;
    std::deque<std::shared_ptr<const buffer::Batch>> files;
    files.push_back(std::move(rest.front()));
    rest.pop_front();
    std::shared_ptr<buffer::Batch> merged;
    for (const auto& b : rest) {
      if (!merged || merged->bytes + b->bytes > file_bytes) {
        if (merged) files.push_back(std::move(merged));
        merged = std::make_shared<buffer::Batch>();
      }
      merged->bytes += b->bytes;
      merged->documents.insert(merged->documents.end(), b->documents.begin(), b->documents.end());
    }
    if (merged) files.push_back(std::move(merged));
    for (auto& f : files)
      if (!to_spill(lane, *f)) lane.queue.push_back(std::move(f));
  } else {
    lane.queue = std::move(rest);
  }
  enforce_bound();
}

boost::asio::awaitable<void> Dispatcher::drain(Lane& lane, SteadyTime deadline) {
  using Kind = destinations::SendResult::Kind;
  const std::string dest(lane.destination->name());
  int attempt = 0;  // failed tries of the head, in this flush
  while (std::chrono::steady_clock::now() < deadline && take_head(lane)) {
    auto& head = *lane.head;
    const auto batch = head.batch;
    if (attempt > 0) lane.stats.retried += batch->documents.size();
    const auto result = co_await lane.destination->send(*batch, deadline);
    // Done with the head: delivered (but for `rejected`), or refused for good.
    const auto done = [&](std::uint64_t delivered) {
      lane.stats.delivered += delivered;
      if (head.spill_id) {
        lane.stats.replayed += delivered;
        spill_->remove(lane.spill_name, *head.spill_id);
      }
      lane.head.reset();
      attempt = 0;
    };
    switch (result.kind) {
      case Kind::ok:
        reject(lane, *batch, result.rejected, result.message);
        done(batch->documents.size() - result.rejected.size());
        continue;
      case Kind::permanent:
        ++lane.stats.failed_attempts;
        lane.stats.dropped_permanent += batch->documents.size();
        if (lane.report.allow(std::chrono::steady_clock::now()))
          log_.error("destination " + dest + " refused " + std::to_string(batch->documents.size()) +
                     " records for good: " + result.message + "; dropped (" +
                     std::to_string(lane.stats.dropped_permanent) + " so far; reported at most once a minute)");
        done(0);
        continue;
      case Kind::partial: {
        ++lane.stats.failed_attempts;
        auto rest = subset(*batch, result.failed);
        const auto delivered = batch->documents.size() - rest->documents.size() - result.rejected.size();
        lane.stats.delivered += delivered;
        if (head.spill_id) lane.stats.replayed += delivered;
        reject(lane, *batch, result.rejected, result.message);
        if (rest->documents.empty()) {
          done(0);
          continue;
        }
        head.batch = std::move(rest);
        head.changed = true;
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
      log_.warn("destination " + dest + ": " + result.message + "; records kept for the next flush" +
                (spill_ ? " in the spill" : "") + " (reported at most once a minute)");
    break;  // try again at the next flush
  }
  put_aside(lane);
}

std::size_t Dispatcher::buffered_bytes() const {
  std::vector<const buffer::Batch*> seen;
  std::size_t bytes = 0;
  const auto count = [&](const buffer::Batch* b) {
    if (std::find(seen.begin(), seen.end(), b) != seen.end()) return;
    seen.push_back(b);
    bytes += b->bytes;
  };
  for (const auto& lane : lanes_) {
    if (lane.head) count(lane.head->batch.get());
    for (const auto& b : lane.queue) count(b.get());
  }
  return bytes;
}

std::size_t Dispatcher::pending_documents() const {
  std::size_t n = 0;
  for (const auto& [name, s] : stats()) n += s.pending;
  return n;
}

std::uint64_t Dispatcher::held_documents(const Lane& lane) {
  std::uint64_t n = 0;
  if (lane.head && !lane.head->spill_id) n += lane.head->batch->documents.size();  // a spilled head is on disk
  for (const auto& b : lane.queue) n += b->documents.size();
  return n;
}

std::vector<std::pair<std::string, DestinationStats>> Dispatcher::stats() const {
  std::vector<std::pair<std::string, DestinationStats>> out;
  for (const auto& lane : lanes_) {
    auto s = lane.stats;
    s.pending = held_documents(lane);
    if (spill_) {
      const auto c = spill_->counters(lane.spill_name);
      s.restored = c.restored;
      s.spilled = c.spilled;
      s.dropped_spill_full = c.dropped_full;
      s.dropped_torn = c.torn_documents;
      s.pending += spill_->documents(lane.spill_name);
    }
    out.emplace_back(std::string(lane.destination->name()), s);
  }
  return out;
}

}  // namespace elk::delivery
