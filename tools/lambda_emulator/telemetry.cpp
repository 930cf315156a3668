#include "telemetry.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/time.h"
#include "http/client.h"

namespace elk::emulator {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr auto kFirstBackoff = 100ms;  // telemetry delivery retries: 100 ms doubling to 1 s
constexpr auto kMaxBackoff = 1s;

}  // namespace

const Item* find_item(const Subscriber& s, std::size_t global) {
  const auto it = std::lower_bound(s.items.begin(), s.items.end(), global,
                                   [](const Item& item, std::size_t g) { return item.global < g; });
  return it != s.items.end() && it->global == global ? &*it : nullptr;
}

std::size_t Telemetry::emit(std::string type, json::value record) {
  events_.push_back(Event{now_epoch_ms(), std::move(type), std::move(record)});
  const std::size_t g = events_.size() - 1;
  for (auto& s : subscribers_) offer(*s, g);
  // The record is kept for the subscriptions still to come. Once every extension has called next there
  // can be none, and a burst of function lines is not held twice.
  if (std::none_of(extensions_.begin(), extensions_.end(),
                   [](const Extension& e) { return e.alive() && !e.first_next_at; }))
    events_[g].record = nullptr;
  wake_.notify();
  return g;
}

void Telemetry::offer(Subscriber& s, std::size_t g) {
  auto envelope = view(events_[g], s.sub);
  if (!envelope) return;
  Item item{json::serialize(*envelope), g, Clock::now(), std::nullopt};
  if (damaged_lines_) {
    if (const auto at = item.text.find(kBadByteMark); at != std::string::npos)
      item.text.replace(at, kBadByteMark.size(), "\xFF");
    if (const auto at = item.text.find(kLoneSurrogateMark); at != std::string::npos)
      item.text.replace(at, kLoneSurrogateMark.size(), "\\ud83d");
  }
  s.buffered_bytes += item.text.size();
  s.items.push_back(std::move(item));
}

Subscriber& Telemetry::subscribe(Subscriber* existing, std::string extension, Subscription sub) {
  if (existing) {
    Subscriber& s = *existing;
    const std::size_t from = s.sent == 0 ? 0 : s.items[s.sent - 1].global + 1;
    s.items.resize(s.sent);
    s.buffered_bytes = 0;
    s.sub = std::move(sub);
    for (std::size_t g = from; g < events_.size(); ++g) offer(s, g);
    return s;
  }
  subscribers_.push_back(std::make_unique<Subscriber>(Subscriber{std::move(extension), std::move(sub), {}, 0, 0}));
  Subscriber& s = *subscribers_.back();
  for (std::size_t g = 0; g < events_.size(); ++g) offer(s, g);
  spawn_(deliver(s));
  return s;
}

void Telemetry::stop() {
  stopping_ = true;
  wake_.notify();
}

asio::awaitable<void> Telemetry::deliver(Subscriber& s) {
  bool failing = false;
  while (!stopping_) {
    if (s.sent == s.items.size()) {
      co_await wake_.wait();
      continue;
    }
    // Lambda delivers when the buffer is full or timeoutMs after its first event, never earlier.
    const bool full = s.items.size() - s.sent >= s.sub.max_items || s.buffered_bytes >= s.sub.max_bytes;
    const auto due = s.items[s.sent].queued + s.sub.timeout;
    if (!full && Clock::now() < due) {
      co_await wake_.wait_until(due);
      continue;
    }
    const std::size_t first = s.sent;
    std::size_t end = first, bytes = 0;
    while (end < s.items.size() && end - first < s.sub.max_items &&
           (end == first || bytes + s.items[end].text.size() <= s.sub.max_bytes))
      bytes += s.items[end++].text.size();
    http::Request req;
    req.method = s.sub.method;
    req.target = s.sub.target;
    req.headers.push_back({"Content-Type", "application/json"});
    req.body.reserve(bytes + (end - first) + 2);
    req.body += '[';
    for (std::size_t k = first; k < end; ++k) {
      if (k > first) req.body += ',';
      req.body += s.items[k].text;
    }
    req.body += ']';
    s.sent = end;
    s.buffered_bytes -= bytes;
    const http::Endpoint endpoint{"127.0.0.1", s.sub.port};

    // Retried with backoff until acknowledged, keeping order; a frozen listener just makes it wait.
    for (auto backoff = std::chrono::milliseconds(kFirstBackoff);;
         backoff = std::min(backoff * 2, std::chrono::milliseconds(kMaxBackoff))) {
      auto res = co_await http::send(endpoint, req, std::chrono::milliseconds(0));
      if (res && res->status < 400) break;
      if (!failing) {
        log_.info("delivery to " + s.extension + " failed (" +
                  (res ? "status " + std::to_string(res->status) : res.error().message) + "); retrying");
        failing = true;
      }
      if (stopping_) co_return;
      co_await sleep_until(Clock::now() + backoff);
      if (stopping_) co_return;
    }
    if (failing) log_.info("delivery to " + s.extension + " works again");
    failing = false;
    const EpochMs at = now_epoch_ms();
    for (std::size_t k = first; k < end && k < s.items.size(); ++k) s.items[k].acked_at = at;
    wake_.notify();
  }
}

}  // namespace elk::emulator
