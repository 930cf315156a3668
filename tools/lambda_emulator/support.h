// What every part of the emulator shares: the clock and its conversions, the "[emulator]" lines on stderr,
// and the broadcast that wakes every coroutine waiting for a change of state. Single-threaded: one io_context.
#pragma once

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

namespace elk::emulator {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

inline std::int64_t us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}
// Unix time in microseconds (system clock), comparable with file modification times.
inline std::int64_t now_epoch_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Waits until `t` on the executor of the calling coroutine.
inline asio::awaitable<void> sleep_until(Clock::time_point t) {
  asio::steady_timer timer(co_await asio::this_coro::executor, t);
  co_await timer.async_wait(use_tuple);
}

// Lets coroutines wait for "something changed" with a deadline; every waiter re-checks its own
// condition. A condition variable for one thread: notify() never runs a waiter inline.
class Broadcast {
 public:
  explicit Broadcast(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  void notify() {
    for (auto* t : waiters_) t->cancel();
  }
  asio::awaitable<void> wait_until(Clock::time_point deadline) {
    asio::steady_timer timer(ex_, deadline);
    waiters_.push_back(&timer);
    co_await timer.async_wait(use_tuple);
    std::erase(waiters_, &timer);
  }
  asio::awaitable<void> wait() { co_await wait_until(Clock::time_point::max()); }

 private:
  asio::any_io_executor ex_;
  std::vector<asio::steady_timer*> waiters_;
};

// The emulator's lines on stderr: info unless --quiet, errors always.
class Log {
 public:
  explicit Log(bool quiet) : quiet_(quiet) {}
  void info(const std::string& msg) const {
    if (!quiet_) std::fprintf(stderr, "[emulator] %s\n", msg.c_str());
  }
  void error(const std::string& msg) const { std::fprintf(stderr, "[emulator] error: %s\n", msg.c_str()); }

 private:
  bool quiet_;
};

// Runs `a` detached on `io`; an exception that ends it is logged ("internal: ...") and `on_failure` runs (kill
// what was started, set the exit code, stop the io_context).
template <class Awaitable, class OnFailure>
void spawn_detached(asio::io_context& io, Awaitable a, const Log& log, OnFailure on_failure) {
  asio::co_spawn(io, std::move(a), [&log, on_failure](const std::exception_ptr& ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      log.error(std::string("internal: ") + ex.what());
    }
    on_failure();
  });
}

}  // namespace elk::emulator
