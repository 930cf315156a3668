#include "delivery/dispatcher.h"

#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "../test_util.h"

namespace elk::delivery {
namespace {

constexpr std::nullopt_t none = std::nullopt;

namespace asio = boost::asio;
using destinations::SendResult;
using namespace std::chrono_literals;

// A destination that answers from a script, one result per send, then ok.
class Scripted final : public destinations::Destination {
 public:
  Scripted(std::string name, std::vector<SendResult> script, std::size_t max_batch = 0, std::string dead_letter = "",
           std::chrono::milliseconds delay = 0ms)
      : name_(std::move(name)),
        script_(std::move(script)),
        max_batch_(max_batch),
        dead_letter_(std::move(dead_letter)),
        delay_(delay) {}
  std::string_view name() const override { return name_; }
  std::size_t max_batch_bytes() const override { return max_batch_; }
  std::string dead_letter() const override { return dead_letter_; }
  asio::awaitable<SendResult> send(const buffer::Batch& batch, SteadyTime) override {
    if (delay_.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, delay_);
      co_await t.async_wait(asio::use_awaitable);
    }
    sends.push_back(batch.documents.size());
    if (calls_ < script_.size()) co_return script_[calls_++];
    for (const auto& d : batch.documents) delivered.push_back(d.json);
    co_return SendResult::ok();
  }
  std::vector<std::size_t> sends;
  std::vector<std::string> delivered;

 private:
  std::string name_;
  std::vector<SendResult> script_;
  std::size_t calls_ = 0;
  std::size_t max_batch_;
  std::string dead_letter_;
  std::chrono::milliseconds delay_;
};

buffer::Batch batch(std::initializer_list<std::string> docs) {
  buffer::Batch b;
  for (const auto& d : docs) {
    b.documents.push_back({d, EpochMs{0}, "", 0, 0});
    b.bytes += d.size();
  }
  return b;
}

struct DispatcherTest : ::testing::Test {
  asio::io_context io;
  Logger log{nullptr};
  const RetryPolicy fast{1ms, 2ms, 3};

  Dispatcher make(std::vector<std::unique_ptr<destinations::Destination>> dests,
                  std::vector<std::optional<std::size_t>> dead_letter, std::size_t regular, RetryPolicy retry,
                  const std::filesystem::path& spill_dir = {}, std::size_t max_buffer_bytes = 1 << 20) {
    destinations::Lineup lineup;
    lineup.destinations = std::move(dests);
    lineup.dead_letter = std::move(dead_letter);
    lineup.regular = regular;
    DispatcherOptions options;
    options.retry = retry;
    options.max_buffer_bytes = max_buffer_bytes;
    if (!spill_dir.empty()) options.spill.emplace(std::move(Spill::open(spill_dir, 64 << 20).value()));
    return Dispatcher(std::move(lineup), log, std::move(options));
  }
  FlushOutcome deliver(Dispatcher& d, std::vector<buffer::Batch> batches, std::chrono::milliseconds budget = 2s) {
    return test::run_sync(io, d.deliver(std::move(batches), std::chrono::steady_clock::now() + budget));
  }
};

TEST_F(DispatcherTest, RetriesARetryableFailureWithinTheFlush) {
  auto s = std::make_unique<Scripted>(
      "s", std::vector<SendResult>{SendResult::retryable("503"), SendResult::retryable("503")});
  auto* dest = s.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(s));
  auto d = make(std::move(v), {none}, 1, fast);
  const auto outcome = deliver(d, {batch({"a", "b"})});
  EXPECT_EQ(outcome.delivered, 2u);
  EXPECT_TRUE(outcome.all_delivered());
  EXPECT_EQ(dest->delivered, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(d.stats()[0].second.failed_attempts, 2u);
  EXPECT_EQ(d.pending_documents(), 0u);
}

TEST_F(DispatcherTest, KeepsWhatStillFailsAfterItsAttemptsForTheNextFlush) {
  std::vector<SendResult> script(5, SendResult::retryable("503"));
  auto s = std::make_unique<Scripted>("s", script);
  auto* dest = s.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(s));
  auto d = make(std::move(v), {none}, 1, fast);
  const auto first = deliver(d, {batch({"a"})});
  EXPECT_EQ(dest->sends.size(), 3u);  // attempts per flush
  EXPECT_EQ(d.pending_documents(), 1u);
  // No spill: what is left is at risk, and the flush says so.
  EXPECT_EQ(first.delivered, 0u);
  EXPECT_EQ(first.in_memory, 1u);
  EXPECT_FALSE(first.nothing_at_risk());
  const auto second = deliver(d, {});
  EXPECT_EQ(second.delivered, 1u);
  EXPECT_TRUE(second.all_delivered());
  EXPECT_EQ(dest->delivered, std::vector<std::string>{"a"});
  EXPECT_EQ(d.pending_documents(), 0u);
}

TEST_F(DispatcherTest, RetriesOnlyThePartsThatFailed) {
  SendResult partial{SendResult::Kind::partial, "429", std::nullopt, {1}, {}};
  auto s = std::make_unique<Scripted>("s", std::vector<SendResult>{partial});
  auto* dest = s.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(s));
  auto d = make(std::move(v), {none}, 1, fast);
  deliver(d, {batch({"a", "b", "c"})});
  EXPECT_EQ(dest->delivered, std::vector<std::string>{"b"});
  EXPECT_EQ(d.stats()[0].second.delivered, 3u);
}

TEST_F(DispatcherTest, SendsRejectedDocumentsToTheDeadLetterDestinationInTheSameFlush) {
  SendResult rejected = SendResult::ok();
  rejected.rejected = {0, 2};
  rejected.message = "mapping";
  auto main = std::make_unique<Scripted>("main", std::vector<SendResult>{rejected}, 0, "dl");
  auto dl = std::make_unique<Scripted>("dl", std::vector<SendResult>{});
  auto* dead = dl.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(main));
  v.push_back(std::move(dl));
  auto d = make(std::move(v), {1, none}, 1, fast);
  const auto outcome = deliver(d, {batch({"a", "b", "c"})});
  EXPECT_EQ(outcome.rejected, 2u);
  EXPECT_TRUE(outcome.all_delivered());
  EXPECT_EQ(dead->delivered, (std::vector<std::string>{"a", "c"}));
  const auto stats = d.stats();
  EXPECT_EQ(stats[0].second.delivered, 1u);
  EXPECT_EQ(stats[0].second.rejected, 2u);
  EXPECT_EQ(stats[0].second.dead_lettered, 2u);
}

TEST_F(DispatcherTest, DropsAPermanentFailureAndCountsIt) {
  auto s = std::make_unique<Scripted>("s", std::vector<SendResult>{SendResult::permanent("403 AccessDenied")});
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(s));
  auto d = make(std::move(v), {none}, 1, fast);
  deliver(d, {batch({"a", "b"}), batch({"c"})});
  EXPECT_EQ(d.stats()[0].second.dropped_permanent, 2u);
  EXPECT_EQ(d.stats()[0].second.delivered, 1u);
}

TEST_F(DispatcherTest, MergesQueuedBatchesUpToTheDestinationsMaximum) {
  auto s = std::make_unique<Scripted>("s", std::vector<SendResult>{}, 10);
  auto* dest = s.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(s));
  auto d = make(std::move(v), {none}, 1, fast);
  deliver(d, {batch({"aaa", "bbb"}), batch({"ccc"}), batch({"ddd", "eee"})});
  EXPECT_EQ(dest->sends, (std::vector<std::size_t>{3, 2}));  // 9 bytes, then 6
}

TEST_F(DispatcherTest, ASlowDestinationDoesNotKeepAnotherFromDelivering) {
  // The slow one never answers within the flush; the fast one still delivers everything.
  auto slow = std::make_unique<Scripted>("slow", std::vector<SendResult>{}, 0, "", 500ms);
  auto fast_dest = std::make_unique<Scripted>("fast", std::vector<SendResult>{});
  auto* f = fast_dest.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(slow));
  v.push_back(std::move(fast_dest));
  auto d = make(std::move(v), {none, none}, 2, fast);
  deliver(d, {batch({"a"}), batch({"b"})}, 100ms);
  EXPECT_EQ(f->delivered, (std::vector<std::string>{"a", "b"}));
}

// The counters' promise (dispatcher.h), for every destination.
void expect_counters_add_up(const Dispatcher& d) {
  for (const auto& [name, s] : d.stats())
    EXPECT_EQ(s.received + s.restored, s.delivered + s.dropped_permanent + s.dropped_spill_full +
                                           s.dropped_buffer_full + s.dropped_torn + s.rejected + s.pending)
        << name;
}

std::vector<std::unique_ptr<destinations::Destination>> one(std::unique_ptr<Scripted> s) {
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(s));
  return v;
}

TEST_F(DispatcherTest, SpillsWhatIsLeftAndReplaysItFirst) {
  test::TempDir dir;
  auto s = std::make_unique<Scripted>("s", std::vector<SendResult>(3, SendResult::retryable("connection refused")));
  auto* dest = s.get();
  auto d = make(one(std::move(s)), {none}, 1, fast, dir.path);
  const auto first = deliver(d, {batch({"a", "b"}), batch({"c"})});
  EXPECT_EQ(first.spilled, 3u);  // not delivered, but safe: a caller may let them go
  EXPECT_EQ(first.in_memory, 0u);
  EXPECT_TRUE(first.nothing_at_risk());
  EXPECT_FALSE(first.all_delivered());
  EXPECT_EQ(d.buffered_bytes(), 0u);  // nothing waits in memory
  EXPECT_EQ(d.stats()[0].second.spilled, 3u);
  EXPECT_EQ(d.pending_documents(), 3u);
  expect_counters_add_up(d);
  const auto second = deliver(d, {batch({"d"})});
  EXPECT_EQ(second.delivered, 4u);
  EXPECT_TRUE(second.all_delivered());
  EXPECT_EQ(dest->delivered, (std::vector<std::string>{"a", "b", "c", "d"}));
  const auto st = d.stats()[0].second;
  EXPECT_EQ(st.delivered, 4u);
  EXPECT_EQ(st.replayed, 3u);
  EXPECT_EQ(d.pending_documents(), 0u);
  EXPECT_TRUE(d.spill_store()->documents("s") == 0);
  expect_counters_add_up(d);
}

TEST_F(DispatcherTest, AnotherProcessReplaysTheSpillAndCountsItAsRestored) {
  test::TempDir dir;
  {
    auto d = make(one(std::make_unique<Scripted>("s", std::vector<SendResult>(3, SendResult::retryable("503")))),
                  {none}, 1, fast, dir.path);
    deliver(d, {batch({"a", "b"})});
    EXPECT_EQ(d.pending_documents(), 2u);
  }
  auto s = std::make_unique<Scripted>("s", std::vector<SendResult>{});
  auto* dest = s.get();
  auto d = make(one(std::move(s)), {none}, 1, fast, dir.path);
  EXPECT_EQ(d.stats()[0].second.restored, 2u);
  deliver(d, {});
  EXPECT_EQ(dest->delivered, (std::vector<std::string>{"a", "b"}));
  expect_counters_add_up(d);
}

TEST_F(DispatcherTest, APartlyDeliveredSpilledBatchLeavesOnlyItsRestInTheSpill) {
  test::TempDir dir;
  SendResult partial{SendResult::Kind::partial, "429", std::nullopt, {1}, {}};
  std::vector<SendResult> script(3, SendResult::retryable("503"));  // first flush: spilled
  script.push_back(partial);                                        // second: a, c delivered
  script.push_back(SendResult::retryable("503"));
  script.push_back(SendResult::retryable("503"));
  auto s = std::make_unique<Scripted>("s", script);
  auto* dest = s.get();
  auto d = make(one(std::move(s)), {none}, 1, fast, dir.path);
  deliver(d, {batch({"a", "b", "c"})});
  deliver(d, {});
  EXPECT_EQ(d.pending_documents(), 1u);
  EXPECT_EQ(d.stats()[0].second.delivered, 2u);
  expect_counters_add_up(d);
  deliver(d, {});
  EXPECT_EQ(dest->delivered, std::vector<std::string>{"b"});
  EXPECT_EQ(d.pending_documents(), 0u);
  expect_counters_add_up(d);
}

TEST_F(DispatcherTest, OverTheMemoryBoundTheOldestQueuedGoToTheSpill) {
  test::TempDir dir;
  auto s = std::make_unique<Scripted>("s", std::vector<SendResult>{}, 0, "", 20ms);
  auto d = make(one(std::move(s)), {none}, 1, fast, dir.path, 10);
  deliver(d, {batch({"aaaa"}), batch({"bbbb"}), batch({"cccc"}), batch({"dddd"})}, 1ms);
  EXPECT_GT(d.stats()[0].second.spilled, 0u);
  EXPECT_EQ(d.buffered_bytes(), 0u);
  expect_counters_add_up(d);
}

TEST_F(DispatcherTest, WithoutASpillTheOldestAreDroppedOverTheMemoryBoundAndCounted) {
  auto d = make(one(std::make_unique<Scripted>("s", std::vector<SendResult>(100, SendResult::retryable("503")))),
                {none}, 1, fast, {}, 10);
  deliver(d, {batch({"aaaa"}), batch({"bbbb"}), batch({"cccc"}), batch({"dddd"})});
  const auto st = d.stats()[0].second;
  EXPECT_GT(st.dropped_buffer_full, 0u);
  EXPECT_LE(d.buffered_bytes(), 10u);
  expect_counters_add_up(d);
}

TEST_F(DispatcherTest, SpillWritesEveryDestinationsCopyWithoutSending) {
  test::TempDir dir;
  auto a = std::make_unique<Scripted>("a", std::vector<SendResult>{});
  auto b = std::make_unique<Scripted>("b", std::vector<SendResult>{});
  auto* pa = a.get();
  std::vector<std::unique_ptr<destinations::Destination>> v;
  v.push_back(std::move(a));
  v.push_back(std::move(b));
  auto d = make(std::move(v), {none, none}, 2, fast, dir.path);
  d.spill({batch({"x", "y"})});
  EXPECT_TRUE(pa->delivered.empty());
  EXPECT_EQ(d.pending_documents(), 4u);
  deliver(d, {});
  EXPECT_EQ(pa->delivered, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(d.pending_documents(), 0u);
  expect_counters_add_up(d);
}

}  // namespace
}  // namespace elk::delivery
