#include "emulator.h"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "core/time.h"
#include "http/client.h"
#include "http/server.h"

extern char** environ;  // NOLINT: POSIX, read only (passed on to the extensions)

namespace elk::emulator {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Protocol constants, named once.
constexpr std::string_view kRegisterPath = "/2020-01-01/extension/register";
constexpr std::string_view kNextPath = "/2020-01-01/extension/event/next";
constexpr std::string_view kInitErrorPath = "/2020-01-01/extension/init/error";
constexpr std::string_view kExitErrorPath = "/2020-01-01/extension/exit/error";
constexpr std::string_view kTelemetryPath = "/2022-07-01/telemetry";
constexpr std::string_view kLogsPath = "/2020-08-15/logs";
constexpr std::string_view kNameHeader = "Lambda-Extension-Name";
constexpr std::string_view kIdHeader = "Lambda-Extension-Identifier";
constexpr std::string_view kEventIdHeader = "Lambda-Extension-Event-Identifier";
constexpr std::string_view kFeatureHeader = "Lambda-Extension-Accept-Feature";
constexpr std::string_view kErrorTypeHeader = "Lambda-Extension-Function-Error-Type";

constexpr auto kInitLimit = 10s;       // Lambda's limit for the whole init phase
constexpr auto kReapEvery = 5ms;       // waitpid(WNOHANG) polling
constexpr auto kFirstBackoff = 100ms;  // telemetry delivery retries: 100 ms doubling to 1 s
constexpr auto kMaxBackoff = 1s;
constexpr auto kReapAfterKill = 2s;        // how long a SIGKILLed process may take to be reaped
constexpr auto kCommandPollEvery = 1ms;    // waitpid(WNOHANG) polling of a --before-invocation command
constexpr int kFunctionBaseMemoryMb = 40;  // the emulated function's own footprint, for maxMemoryUsedMB

std::int64_t us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::microseconds>(b - a).count();
}
// Unix time in microseconds (system clock), comparable with file modification times.
std::int64_t now_epoch_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
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

struct ProcStats {
  std::int64_t cpu_us = 0;
  std::int64_t rss_kb = 0;
  std::int64_t hwm_kb = 0;
};

// utime+stime from /proc/<pid>/stat, VmRSS/VmHWM from /proc/<pid>/status.
std::optional<ProcStats> read_proc(pid_t pid) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(close + 1));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  if (f.size() < 13) return std::nullopt;  // f[0] is field 3 (state); utime is field 14, stime 15
  ProcStats p;
  const long ticks = sysconf(_SC_CLK_TCK);
  p.cpu_us = (std::atoll(f[11].c_str()) + std::atoll(f[12].c_str())) * 1'000'000 / (ticks > 0 ? ticks : 100);
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) p.rss_kb = std::atoll(line.c_str() + 6);
    if (line.starts_with("VmHWM:")) p.hwm_kb = std::atoll(line.c_str() + 6);
  }
  return p;
}

http::Response error_response(int status, std::string_view type, std::string_view message) {
  return http::make_response(status, json::serialize(json::object{{"errorMessage", message}, {"errorType", type}}));
}

json::value optional_json(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

// What a child of the emulator starts with: stdin, stdout and stderr, none of the emulator's sockets (as Lambda
// starts an extension).
class StdioOnly {
 public:
  StdioOnly() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawn_file_actions_addclosefrom_np(&actions_, 3);
  }
  ~StdioOnly() { posix_spawn_file_actions_destroy(&actions_); }
  StdioOnly(const StdioOnly&) = delete;
  StdioOnly& operator=(const StdioOnly&) = delete;
  [[nodiscard]] const posix_spawn_file_actions_t* get() const { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

// Runs `/bin/sh -c command` to completion, with the emulator's environment and output. Its exit is polled,
// so that the APIs are still served meanwhile. The error says how it failed.
asio::awaitable<Status> run_shell(std::string command) {
  std::string sh = "/bin/sh", dash_c = "-c";
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
  pid_t pid = -1;
  if (const int rc = ::posix_spawn(&pid, sh.c_str(), StdioOnly().get(), nullptr, argv, environ); rc != 0)
    co_return fail("cannot start /bin/sh: " + std::string(std::strerror(rc)));
  asio::steady_timer timer(co_await asio::this_coro::executor);
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) co_return fail(std::string("waitpid failed: ") + std::strerror(errno));
    timer.expires_after(kCommandPollEvery);
    co_await timer.async_wait(use_tuple);
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) co_return Status{};
  co_return fail(WIFEXITED(status) ? "exited with code " + std::to_string(WEXITSTATUS(status))
                                   : "died on signal " + std::to_string(WTERMSIG(status)));
}

// One event as one subscriber gets it, and whether Lambda saw it acknowledged.
struct Item {
  std::string text;    // the serialized envelope {time,type,record}; its size counts against maxBytes
  std::size_t global;  // index in Emulator::events_
  Clock::time_point queued;
  std::optional<EpochMs> acked_at;
};

struct Subscriber {
  std::string extension;
  Subscription sub;
  std::vector<Item> items;         // every event in this subscriber's view, in order
  std::size_t sent = 0;            // items[0, sent) are delivered or in flight
  std::size_t buffered_bytes = 0;  // of items[sent, end)
};

// The subscriber's item of event `global`, if it got that event (items are in the order of events_).
const Item* find_item(const Subscriber& s, std::size_t global) {
  const auto it = std::lower_bound(s.items.begin(), s.items.end(), global,
                                   [](const Item& item, std::size_t g) { return item.global < g; });
  return it != s.items.end() && it->global == global ? &*it : nullptr;
}

// An event waiting for the extension's next `next`.
struct Pending {
  std::string body;
  bool shutdown = false;
  int invocation = 0;
};

struct Extension {
  std::string name;
  std::filesystem::path path;
  pid_t pid = -1;
  Clock::time_point spawned;

  std::string id;  // Lambda-Extension-Identifier; empty until registered
  std::vector<std::string> events;
  std::optional<Clock::time_point> registered_at, first_next_at;
  Subscriber* subscriber = nullptr;

  std::optional<Pending> pending;
  bool busy = false;  // took an event and has not called next since
  bool shutdown_taken = false;
  bool shutdown_sent = false;
  int invocation = 0;                                 // the last INVOKE it took
  std::map<int, Clock::time_point> post_invoke_next;  // invocation -> its first next after that INVOKE
  bool init_error = false;

  bool stopped = false;
  bool exited = false;
  bool exited_early = false;  // before it was sent SHUTDOWN, on its own
  bool killed = false;
  bool planned_kill = false;                    // killed by --kill-at-invocation
  std::optional<bool> called_next_before_kill;  // ... after it had called next for that invocation
  Clock::time_point exited_at;
  std::optional<std::int64_t> exit_code, signal;
  std::optional<ProcStats> stats;                // at SHUTDOWN, or just before the planned kill
  std::optional<std::int64_t> reaped_maxrss_kb;  // the kernel's peak RSS of the process, when it was reaped

  [[nodiscard]] bool wants(std::string_view event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }
  [[nodiscard]] bool alive() const { return pid > 0 && !exited; }
};

struct Invocation {
  RequestId request_id;
  std::size_t runtime_done_event = 0;  // index in events_ of platform.runtimeDone
  std::size_t end_event = 0;           // ... and platform.end (the Logs API without runtimeDone)
  std::int64_t invoked_us = 0;         // when INVOKE was handed to the extensions (Unix us)
  Clock::time_point runtime_done_at;   // when the runtime finished: platform.runtimeDone emitted, not delivered
  bool in_time = true;
  std::string status;
  double duration_ms = 0;
};

struct ErrorReport {
  std::string extension;
  std::string error_type;
  std::string body;
};

class Emulator {
 public:
  Emulator(asio::io_context& io, const Options& options)
      : io_(io),
        options_(options),
        log_(options.quiet),
        wake_(io.get_executor()),
        signals_(io, SIGINT, SIGTERM),
        rng_(std::random_device{}()) {}

  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  Status start() {
    std::error_code ec;
    if (!std::filesystem::is_directory(options_.extensions_dir, ec))
      return fail("--extensions-dir " + options_.extensions_dir.string() + " is not a directory");
    for (const auto& entry : std::filesystem::directory_iterator(options_.extensions_dir, ec)) {
      std::error_code type_ec;
      if (!entry.is_regular_file(type_ec) || access(entry.path().c_str(), X_OK) != 0) continue;
      Extension e;
      e.name = entry.path().filename().string();
      e.path = entry.path();
      extensions_.push_back(std::move(e));
    }
    if (ec) return fail("cannot list " + options_.extensions_dir.string() + ": " + ec.message());
    std::sort(extensions_.begin(), extensions_.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    if (extensions_.empty()) log_.info("no executable in " + options_.extensions_dir.string() + "; running without");
    if (extensions_.size() > 10)
      log_.error("Lambda allows 10 extensions; starting all " + std::to_string(extensions_.size()) + " anyway");

    http::ServerOptions server_options;
    server_options.port = options_.port;
    server_options.max_body_bytes = 8 * 1024 * 1024;
    server_options.max_connections = 1024;  // every extension's next, register, logs ... at once
    auto server = http::Server::start(io_, std::move(server_options),
                                      [this](http::Request r) { return handle(std::move(r)); });
    if (!server) return fail(server.error().message);
    server_ = std::move(*server);
    log_.info("Extensions API on 127.0.0.1:" + std::to_string(server_->port()) +
              (options_.telemetry_api ? "" : " (Telemetry API off: Logs API only)"));

    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log_.error("signal " + std::to_string(sig) + ": killing the extensions and stopping");
      kill_all();
      outcome_.exit_code = kExitInternal;
      io_.stop();
    });
    spawn_detached(reap());
    return {};
  }

  asio::awaitable<void> lifecycle();

  // After an internal error: leave no process behind.
  void kill_all() {
    if (finished_) return;  // shutdown() has done it
    for (auto& e : extensions_) {
      if (e.pid <= 0) continue;
      signal_group(e, SIGKILL);  // what it started too, even when it has exited itself
      if (e.exited) continue;
      int status = 0;
      ::waitpid(e.pid, &status, 0);
      e.exited = true;
    }
  }

  [[nodiscard]] Outcome outcome() const { return outcome_; }

 private:
  template <class Awaitable>
  void spawn_detached(Awaitable a) {
    asio::co_spawn(io_, std::move(a), [this](std::exception_ptr ep) {
      if (!ep) return;
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& ex) {
        log_.error(std::string("internal: ") + ex.what());
      }
      kill_all();
      outcome_.exit_code = kExitInternal;
      io_.stop();
    });
  }

  asio::awaitable<void> sleep_until(Clock::time_point t) {
    asio::steady_timer timer(io_, t);
    co_await timer.async_wait(use_tuple);
  }

  // ---- events ----

  std::size_t emit(std::string type, json::value record) {
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

  void offer(Subscriber& s, std::size_t g) {
    auto envelope = view(events_[g], s.sub);
    if (!envelope) return;
    Item item{json::serialize(*envelope), g, Clock::now(), std::nullopt};
    if (options_.function.damaged_lines) {
      if (const auto at = item.text.find(kBadByteMark); at != std::string::npos)
        item.text.replace(at, kBadByteMark.size(), "\xFF");
      if (const auto at = item.text.find(kLoneSurrogateMark); at != std::string::npos)
        item.text.replace(at, kLoneSurrogateMark.size(), "\\ud83d");
    }
    s.buffered_bytes += item.text.size();
    s.items.push_back(std::move(item));
  }

  // ---- the API server ----

  asio::awaitable<http::Response> handle(http::Request req) {
    std::string_view path = req.target;
    path = path.substr(0, path.find('?'));
    try {
      if (path == kRegisterPath) co_return req.method == "POST" ? on_register(req) : not_allowed(req);
      if (path == kNextPath) {
        if (req.method != "GET") co_return not_allowed(req);
        auto e = authenticate(req);
        if (!e) co_return e.error();
        co_return co_await on_next(**e);
      }
      if (path == kInitErrorPath || path == kExitErrorPath)
        co_return req.method == "POST" ? on_error(req, path == kInitErrorPath) : not_allowed(req);
      if (path == kTelemetryPath) {
        if (!options_.telemetry_api)
          co_return error_response(404, "Telemetry.NotSupported", "the Telemetry API is off (--telemetry-api off)");
        co_return req.method == "PUT" ? on_subscribe(req, Api::telemetry) : not_allowed(req);
      }
      if (path == kLogsPath) co_return req.method == "PUT" ? on_subscribe(req, Api::logs) : not_allowed(req);
      co_return error_response(404, "NotFound", "no such API: " + req.method + " " + req.target);
    } catch (const std::exception& ex) {
      log_.error("internal error answering " + req.method + " " + req.target + ": " + ex.what());
    }
    co_return error_response(500, "ServiceException", "internal error in the emulator");
  }

  static http::Response not_allowed(const http::Request& req) {
    return error_response(405, "MethodNotAllowed", req.method + " is not allowed on " + req.target);
  }

  std::expected<Extension*, http::Response> authenticate(const http::Request& req) {
    const auto id = req.header(kIdHeader);
    if (!id || id->empty())
      return std::unexpected(
          error_response(403, "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier header"));
    for (auto& e : extensions_)
      if (!e.id.empty() && e.id == *id) return &e;
    return std::unexpected(
        error_response(403, "Extension.UnknownExtensionIdentifier", "Unknown extension " + std::string(*id)));
  }

  http::Response on_register(const http::Request& req) {
    const std::string name(req.header(kNameHeader).value_or(""));
    if (name.empty()) return error_response(403, "Extension.InvalidExtensionName", "Empty extension name");
    boost::system::error_code ec;
    const json::value body = json::parse(req.body, ec);
    if (ec || !body.is_object())
      return error_response(403, "InvalidRequestFormat",
                            "the body must be a JSON object such as {\"events\":[\"INVOKE\",\"SHUTDOWN\"]}");
    const auto& o = body.get_object();
    if (const auto* keys = o.if_contains("configurationKeys"); keys && keys->is_array() && !keys->get_array().empty())
      return error_response(403, "InvalidRequestFormat",
                            "configurationKeys are deprecated; use environment variables instead");
    std::vector<std::string> events;
    if (const auto* ev = o.if_contains("events"); ev && !ev->is_null()) {
      if (!ev->is_array()) return error_response(403, "InvalidRequestFormat", "events must be an array");
      for (const auto& v : ev->get_array()) {
        if (!v.is_string() || (v.get_string() != "INVOKE" && v.get_string() != "SHUTDOWN"))
          return error_response(403, "Extension.InvalidEventType",
                                json::serialize(v) + ": external extensions may register for INVOKE and SHUTDOWN");
        if (std::find(events.begin(), events.end(), v.get_string()) == events.end())
          events.emplace_back(v.get_string());
      }
    }
    auto it = std::find_if(extensions_.begin(), extensions_.end(), [&](const auto& e) { return e.name == name; });
    if (it == extensions_.end())
      return error_response(403, "Extension.InvalidExtensionName",
                            "no executable named '" + name + "' in " + options_.extensions_dir.string() +
                                " (Lambda-Extension-Name must be the file name)");
    Extension& e = *it;
    if (init_done_) return error_response(403, "Extension.RegistrationClosed", "Extension registration closed already");
    if (!e.id.empty())
      return error_response(403, "Extension.InvalidExtensionState", "Extension " + name + " is already registered");
    e.id = make_uuid(rng_);
    e.events = std::move(events);
    e.registered_at = Clock::now();
    wake_.notify();
    log_.info(name + " registered after " + std::to_string(us_between(e.spawned, *e.registered_at)) + " us");

    json::object answer{{"functionName", options_.function.function_name},
                        {"functionVersion", kFunctionVersion},
                        {"handler", "index.handler"}};
    std::string_view features = req.header(kFeatureHeader).value_or("");
    while (!features.empty()) {
      auto item = features.substr(0, features.find(','));
      features.remove_prefix(std::min(features.size(), item.size() + 1));
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item == "accountId") answer["accountId"] = kAccountId;
    }
    auto resp = http::make_response(200, json::serialize(answer));
    resp.headers.push_back({std::string(kIdHeader), e.id});
    return resp;
  }

  asio::awaitable<http::Response> on_next(Extension& e) {
    const auto now = Clock::now();
    if (!e.first_next_at) {
      e.first_next_at = now;  // Ready: its init is over and its subscriptions are closed
      emit("platform.extension", extension_record(e.name, e.events));
      log_.info(e.name + " ready after " + std::to_string(us_between(e.spawned, now)) + " us");
    }
    if (e.busy) {
      e.busy = false;
      if (e.invocation > 0) e.post_invoke_next.try_emplace(e.invocation, now);
    }
    wake_.notify();
    if (e.shutdown_taken) {
      for (;;) co_await wake_.wait();  // a next after SHUTDOWN is never answered
    }
    while (!e.pending) co_await wake_.wait();
    Pending p = std::move(*e.pending);
    e.pending.reset();
    e.busy = true;
    if (p.shutdown)
      e.shutdown_taken = true;
    else
      e.invocation = p.invocation;
    auto resp = http::make_response(200, std::move(p.body));
    resp.headers.push_back({std::string(kEventIdHeader), make_uuid(rng_)});
    co_return resp;
  }

  http::Response on_error(const http::Request& req, bool init) {
    auto e = authenticate(req);
    if (!e) return e.error();
    const auto type = req.header(kErrorTypeHeader);
    if (!type || type->empty())
      return error_response(403, "Extension.MissingHeader", std::string(kErrorTypeHeader) + " not found");
    Extension& ext = **e;
    if (init && ext.first_next_at)
      return error_response(403, "Extension.InvalidExtensionState",
                            "Extension " + ext.name + " is past init (it called next); use exit/error");
    (init ? init_errors_ : exit_errors_).push_back({ext.name, std::string(*type), req.body});
    if (init) ext.init_error = true;
    log_.error(ext.name + " posted " + (init ? "init" : "exit") + "/error " + std::string(*type) +
               (req.body.empty() ? "" : ": " + req.body));
    wake_.notify();
    return http::make_response(202, R"({"status":"OK"})");
  }

  http::Response on_subscribe(const http::Request& req, Api api) {
    auto found = authenticate(req);
    if (!found) return found.error();
    Extension& e = **found;
    const std::string prefix = api == Api::telemetry ? "Telemetry" : "Logs";
    const std::string validation = api == Api::telemetry ? "ValidationError" : "Logs.ValidationError";
    if (e.first_next_at)
      return error_response(403, prefix + ".SubscriptionClosed",
                            prefix + " API is no longer accepting subscriptions: " + e.name + " already called next");
    auto parsed = parse_subscription(api, req.body);
    if (!parsed) {
      log_.info(e.name + ": " + prefix + " subscription refused (400): " + parsed.error().message);
      return error_response(400, validation, parsed.error().message);
    }
    if (e.subscriber && e.subscriber->sub.api != api)
      return error_response(400, validation,
                            e.name + " already subscribed to the " + std::string(api_name(e.subscriber->sub.api)) +
                                " API; subscribing to both fails");
    boost::system::error_code ec;
    subscription_log_.push_back(
        json::object{{"extension", e.name}, {"api", api_name(api)}, {"body", json::parse(req.body, ec)}});

    if (e.subscriber) {
      // Subscribing again replaces the settings; what is delivered or in flight stays as it was.
      Subscriber& s = *e.subscriber;
      const std::size_t from = s.sent == 0 ? 0 : s.items[s.sent - 1].global + 1;
      s.items.resize(s.sent);
      s.buffered_bytes = 0;
      s.sub = std::move(*parsed);
      for (std::size_t g = from; g < events_.size(); ++g) offer(s, g);
    } else {
      // A new subscriber receives everything since the environment started, initStart included.
      subscribers_.push_back(std::make_unique<Subscriber>(Subscriber{e.name, std::move(*parsed), {}, 0, 0}));
      e.subscriber = subscribers_.back().get();
      for (std::size_t g = 0; g < events_.size(); ++g) offer(*e.subscriber, g);
      spawn_detached(deliver(*e.subscriber));
    }
    const Subscription& s = e.subscriber->sub;
    emit(api == Api::telemetry ? "platform.telemetrySubscription" : "platform.logsSubscription",
         subscription_record(e.name, s.types));
    log_.info(e.name + " subscribed to the " + std::string(api_name(api)) + " API, delivery to 127.0.0.1:" +
              std::to_string(s.port) + s.target + ", buffering " + std::to_string(s.max_items) + " items / " +
              std::to_string(s.max_bytes) + " bytes / " + std::to_string(s.timeout.count()) + " ms");
    return http::make_response(200, "\"OK\"");
  }

  // ---- telemetry delivery: one coroutine per subscriber ----

  asio::awaitable<void> deliver(Subscriber& s) {
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

  // ---- processes ----

  void spawn(Extension& e) {
    std::vector<std::string> env;
    const auto keep = [](std::string_view entry) {
      for (std::string_view key : {"AWS_LAMBDA_RUNTIME_API=", "AWS_LAMBDA_FUNCTION_NAME=",
                                   "AWS_LAMBDA_FUNCTION_VERSION=", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=",
                                   "AWS_LAMBDA_INITIALIZATION_TYPE=", "AWS_LAMBDA_LOG_FORMAT=", "AWS_REGION="})
        if (entry.starts_with(key)) return false;
      return true;
    };
    for (char** p = environ; p && *p; ++p)
      if (keep(*p)) env.emplace_back(*p);
    env.push_back("AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + std::to_string(server_->port()));
    env.push_back("AWS_LAMBDA_FUNCTION_NAME=" + options_.function.function_name);
    env.push_back("AWS_LAMBDA_FUNCTION_VERSION=" + std::string(kFunctionVersion));
    env.push_back("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + std::to_string(options_.function.memory_mb));
    env.push_back("AWS_REGION=" + options_.function.region);
    env.push_back("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand");
    env.push_back(std::string("AWS_LAMBDA_LOG_FORMAT=") +
                  (options_.function.log_format == LogFormat::json ? "JSON" : "Text"));
    std::vector<char*> envp;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string arg0 = e.path.string();
    char* argv[] = {arg0.data(), nullptr};

    // Its own process group, so that freezing and killing reach the processes it starts too.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    e.spawned = Clock::now();
    const int rc = ::posix_spawn(&e.pid, arg0.c_str(), StdioOnly().get(), &attr, argv, envp.data());
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      e.pid = -1;
      e.exited = true;
      e.exited_early = true;
      e.exited_at = Clock::now();
      init_errors_.push_back({e.name, "Extension.LaunchError", "cannot start " + arg0 + ": " + std::strerror(rc)});
      log_.error("cannot start " + arg0 + ": " + std::strerror(rc));
      return;
    }
    log_.info("started " + e.name + " (pid " + std::to_string(e.pid) + ")");
  }

  asio::awaitable<void> reap() {
    asio::steady_timer timer(io_);
    for (;;) {
      for (auto& e : extensions_) {
        if (!e.alive()) continue;
        int status = 0;
        rusage usage{};
        const pid_t r = ::wait4(e.pid, &status, WNOHANG, &usage);
        if (r == 0 || (r < 0 && errno == EINTR)) continue;
        e.exited = true;
        e.exited_at = Clock::now();
        e.exited_early = !e.shutdown_sent && !e.planned_kill;
        if (r > 0) e.reaped_maxrss_kb = usage.ru_maxrss;  // KiB: its VmHWM at exit (a reaped child's if larger)
        if (r > 0 && WIFEXITED(status)) e.exit_code = WEXITSTATUS(status);
        if (r > 0 && WIFSIGNALED(status)) e.signal = WTERMSIG(status);
        log_.info(e.name + " exited" + (e.exit_code ? " with code " + std::to_string(*e.exit_code) : "") +
                  (e.signal ? " on signal " + std::to_string(*e.signal) : "") +
                  (e.exited_early ? " before it was sent SHUTDOWN" : ""));
        wake_.notify();
      }
      timer.expires_after(kReapEvery);
      co_await timer.async_wait(use_tuple);
    }
  }

  // Signals go to the extension's process group: Lambda freezes and kills everything in the sandbox.
  static void signal_group(const Extension& e, int sig) {
    if (e.pid > 0) ::kill(-e.pid, sig);
  }
  void freeze() {
    for (auto& e : extensions_) {
      if (!e.alive() || e.stopped) continue;
      signal_group(e, SIGSTOP);
      e.stopped = true;
    }
  }
  void thaw() {
    for (auto& e : extensions_) {
      if (e.stopped) signal_group(e, SIGCONT);
      e.stopped = false;
    }
  }

  int memory_used_mb() const {
    std::int64_t kb = 0;
    for (const auto& e : extensions_)
      if (e.alive())
        if (auto p = read_proc(e.pid)) kb += p->rss_kb;
    return static_cast<int>(std::min<std::int64_t>(options_.function.memory_mb, kFunctionBaseMemoryMb + kb / 1024));
  }

  // ---- the scripted lifetime ----

  asio::awaitable<bool> init_phase();
  asio::awaitable<Status> before_invocation(int i);
  asio::awaitable<bool> invoke(int i);
  asio::awaitable<void> kill_for_reset(int i, const Invocation& inv, Clock::time_point deadline);
  asio::awaitable<void> shutdown(const std::string& reason);
  asio::awaitable<void> end_of_sandbox();
  void finish();
  json::object report() const;
  void write_report(std::ostream& out) const;

  asio::io_context& io_;
  const Options& options_;
  Log log_;
  Broadcast wake_;  // notified on every change of state; waiters re-check
  asio::signal_set signals_;
  std::mt19937_64 rng_;
  std::unique_ptr<http::Server> server_;

  std::vector<Extension> extensions_;
  std::vector<std::unique_ptr<Subscriber>> subscribers_;
  std::vector<Event> events_;  // everything the platform generated, in order
  std::vector<Invocation> invocations_;
  std::map<std::pair<int, int>, std::int64_t> emitted_us_;  // function line -> when the runtime wrote it (Unix us)
  std::vector<ErrorReport> init_errors_, exit_errors_;
  json::array subscription_log_;
  std::vector<std::string> failures_;           // why the run did not go to plan
  std::optional<std::string> command_error_;    // a --before-invocation command failed
  int killed_at_ = 0;                           // the invocation of the planned kill
  std::optional<std::string> shutdown_reason_;  // of the SHUTDOWN sent, if one was
  Clock::time_point init_start_;
  std::optional<double> init_duration_ms_;
  bool init_done_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  Outcome outcome_;
};

asio::awaitable<void> Emulator::lifecycle() {
  std::string reason = options_.shutdown_reason;
  if (co_await init_phase()) {
    for (int i = 1; i <= options_.invocations; ++i) {
      if (i > 1 && options_.idle.count() > 0) co_await sleep_until(Clock::now() + options_.idle);
      if (auto st = co_await before_invocation(i); !st) {
        command_error_ = st.error().message;
        failures_.push_back(*command_error_);
        log_.error(*command_error_ + "; no further invocation");
        break;
      }
      const bool in_time = co_await invoke(i);
      if (killed_at_ > 0) break;  // the sandbox is gone
      if (!in_time) {
        reason = "timeout";  // Lambda resets the environment after a timed-out invocation
        break;
      }
      if (std::any_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return e.exited_early; })) {
        reason = "failure";  // ... and after a crash
        break;
      }
    }
  } else {
    reason = "failure";
  }
  if (killed_at_ > 0)
    co_await end_of_sandbox();
  else
    co_await shutdown(reason);
  finish();
  io_.stop();
}

asio::awaitable<Status> Emulator::before_invocation(int i) {
  for (const auto& [n, command] : options_.before_invocation) {
    if (n != i) continue;
    log_.info("before invocation " + std::to_string(i) + ": " + command);
    if (auto st = co_await run_shell(command); !st)
      co_return fail("--before-invocation " + std::to_string(i) + " command '" + command + "' " + st.error().message);
  }
  co_return Status{};
}

asio::awaitable<bool> Emulator::init_phase() {
  init_start_ = Clock::now();
  emit("platform.initStart", init_start_record(options_.function));
  for (auto& e : extensions_) spawn(e);

  const auto deadline = init_start_ + kInitLimit;
  const auto resolved = [](const Extension& e) { return e.first_next_at || e.init_error || e.exited; };
  while (!std::all_of(extensions_.begin(), extensions_.end(), resolved) && Clock::now() < deadline)
    co_await wake_.wait_until(deadline);
  init_done_ = true;

  std::string error_type;
  for (auto& e : extensions_) {
    if (e.init_error) {
      error_type = "Extension.InitError";
    } else if (e.exited && !e.first_next_at) {
      if (e.pid > 0)  // (a launch error is already recorded)
        init_errors_.push_back({e.name, "Extension.Crash",
                                "exited during init" +
                                    (e.exit_code ? " with code " + std::to_string(*e.exit_code) : "") +
                                    (e.signal ? " on signal " + std::to_string(*e.signal) : "")});
      error_type = "Extension.Crash";
    } else if (!e.first_next_at) {
      failures_.push_back(e.name + " did not call next within Lambda's 10 s init limit");
      log_.error(failures_.back());
      if (error_type.empty()) error_type = "Sandbox.Timeout";
    }
  }
  const bool ok = error_type.empty();
  if (ok) emit("function", init_function_record(options_.function, now_epoch_ms()));
  const std::string status = ok ? "success" : error_type == "Sandbox.Timeout" ? "timeout" : "error";
  emit("platform.initRuntimeDone", init_runtime_done_record(status, error_type));
  init_duration_ms_ = ms_between(init_start_, Clock::now());
  emit("platform.initReport", init_report_record(status, error_type, *init_duration_ms_));
  if (!ok) log_.error("init failed (" + error_type + "): no invocation");
  co_return ok;
}

asio::awaitable<bool> Emulator::invoke(int i) {
  thaw();
  Invocation inv;
  inv.request_id = RequestId{make_uuid(rng_)};
  const Trace trace = make_trace(rng_, now_epoch_ms());
  const auto start = Clock::now();
  const EpochMs start_ms = now_epoch_ms();
  const auto deadline = start + options_.function_timeout;

  const json::object event{{"eventType", "INVOKE"},
                           {"deadlineMs", start_ms.value + options_.function_timeout.count()},
                           {"requestId", inv.request_id.value},
                           {"invokedFunctionArn", function_arn(options_.function)},
                           {"tracing", json::object{{"type", "X-Amzn-Trace-Id"}, {"value", trace.value}}}};
  std::vector<Extension*> invoked;
  for (auto& e : extensions_) {
    if (!e.alive() || !e.wants("INVOKE")) continue;
    e.pending = Pending{json::serialize(event), false, i};
    invoked.push_back(&e);
  }
  inv.invoked_us = now_epoch_us();
  wake_.notify();
  emit("platform.start", start_record(inv.request_id, trace));

  // The handler runs for --invoke-ms and logs its lines spread over that time. A line that is late already
  // (a burst) only lets the deliveries run first, without a timer: a timer costs two system calls.
  const int lines = options_.lines;
  for (int j = 1; j <= lines; ++j) {
    const auto at = start + std::chrono::microseconds(options_.invoke) * (j - 1) / lines;
    if (Clock::now() < at)
      co_await sleep_until(at);
    else
      co_await asio::post(io_, asio::use_awaitable);
    emit("function", function_record(options_.function, inv.request_id, i, j, now_epoch_ms()));
    outcome_.sent_tokens.insert({i, j});
    emitted_us_[{i, j}] = now_epoch_us();
  }
  co_await sleep_until(start + options_.invoke);
  const auto runtime_done = Clock::now();
  inv.runtime_done_at = runtime_done;
  inv.runtime_done_event =
      emit("platform.runtimeDone",
           runtime_done_record(RuntimeDone{inv.request_id, trace, start_ms, ms_between(start, runtime_done), 53}));
  inv.end_event = emit("platform.end", end_record(inv.request_id));
  if (i == options_.kill_at_invocation) {
    co_await kill_for_reset(i, inv, deadline);
    inv.in_time = false;
    inv.status = "killed";
    inv.duration_ms = ms_between(start, Clock::now());
    invocations_.push_back(std::move(inv));
    co_return false;
  }

  // The invocation ends when every extension has called next again, within the function timeout.
  const auto all_next = [&] {
    return std::all_of(invoked.begin(), invoked.end(),
                       [&](const Extension* e) { return e->exited || e->post_invoke_next.contains(i); });
  };
  while (!all_next() && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  inv.in_time = all_next();
  const auto end = Clock::now();
  inv.duration_ms = ms_between(start, end);
  inv.status = inv.in_time ? "success" : "timeout";
  if (!inv.in_time) {
    for (const auto* e : invoked)
      if (!e->exited && !e->post_invoke_next.contains(i))
        failures_.push_back(e->name + " did not call next within the function timeout (" +
                            std::to_string(options_.function_timeout.count()) + " ms) of invocation " +
                            std::to_string(i));
    log_.error("invocation " + std::to_string(i) + " timed out waiting for the extensions");
  }

  Report r;
  r.request_id = inv.request_id;
  r.trace = trace;
  r.status = inv.status;
  r.duration_ms = inv.duration_ms;
  r.memory_mb = options_.function.memory_mb;
  r.max_memory_used_mb = memory_used_mb();
  if (i == 1) r.init_duration_ms = init_duration_ms_;
  r.extension_overhead_start = EpochMs{start_ms.value + static_cast<std::int64_t>(ms_between(start, runtime_done))};
  r.extension_overhead_ms = ms_between(runtime_done, end);
  emit("platform.report", report_record(r));
  if (inv.in_time) freeze();
  log_.info("invocation " + std::to_string(i) + " " + inv.request_id.value + ": " + inv.status + " in " +
            std::to_string(static_cast<std::int64_t>(inv.duration_ms)) + " ms");
  invocations_.push_back(std::move(inv));
  co_return invocations_.back().in_time;
}

asio::awaitable<void> Emulator::kill_for_reset(int i, const Invocation& inv, Clock::time_point deadline) {
  // Delivered: every telemetry listener answered the delivery that carries runtimeDone (platform.end for a
  // Logs API subscriber of schema 2020-08-15, which has no runtimeDone).
  const auto delivered = [&] {
    for (const auto& e : extensions_) {
      if (!e.alive() || !e.subscriber) continue;
      const Item* carrier = find_item(*e.subscriber, inv.runtime_done_event);
      if (!carrier) carrier = find_item(*e.subscriber, inv.end_event);
      if (carrier && !carrier->acked_at) return false;
    }
    return true;
  };
  while (!delivered() && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  if (!delivered())
    log_.error("invocation " + std::to_string(i) + "'s runtimeDone was not delivered within the function timeout");
  if (options_.kill_delay.count() > 0) co_await sleep_until(Clock::now() + options_.kill_delay);
  for (auto& e : extensions_) {
    if (!e.alive()) continue;
    e.stats = read_proc(e.pid);
    e.called_next_before_kill = e.post_invoke_next.contains(i);
    signal_group(e, options_.kill_signal);
    e.killed = true;
    e.planned_kill = true;
    log_.info(e.name + (options_.kill_signal == SIGTERM ? " sent SIGTERM" : " killed") + " during invocation " +
              std::to_string(i) + " (--kill-at-invocation), " +
              (*e.called_next_before_kill ? "after" : "before") + " it called next");
  }
  killed_at_ = i;
}

asio::awaitable<void> Emulator::shutdown(const std::string& reason) {
  shutdown_reason_ = reason;
  thaw();
  for (auto& e : extensions_)
    if (e.alive()) e.stats = read_proc(e.pid);
  const auto deadline = Clock::now() + options_.shutdown_deadline;
  const json::object event{{"eventType", "SHUTDOWN"},
                           {"shutdownReason", reason},
                           {"deadlineMs", now_epoch_ms().value + options_.shutdown_deadline.count()}};
  for (auto& e : extensions_) {
    if (!e.alive()) continue;
    e.shutdown_sent = true;
    if (!e.id.empty() && e.wants("SHUTDOWN")) {
      e.pending = Pending{json::serialize(event), true, 0};
    } else {
      // Not registered, or not for SHUTDOWN: nothing to wait for.
      signal_group(e, SIGKILL);
      e.killed = true;
      log_.info(e.name + " killed: " + (e.id.empty() ? "never registered" : "not registered for SHUTDOWN"));
    }
  }
  wake_.notify();
  log_.info("SHUTDOWN (" + reason + "), deadline " + std::to_string(options_.shutdown_deadline.count()) + " ms");

  const auto all_exited = [&] {
    return std::none_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return e.alive(); });
  };
  while (!all_exited() && Clock::now() < deadline) co_await wake_.wait_until(deadline);
  for (auto& e : extensions_) {
    if (!e.alive()) continue;
    signal_group(e, SIGKILL);
    e.killed = true;
    failures_.push_back(e.name + " was still running at the shutdown deadline and was killed");
    log_.error(failures_.back());
  }
  co_await end_of_sandbox();
}

asio::awaitable<void> Emulator::end_of_sandbox() {
  const auto all_exited = [&] {
    return std::none_of(extensions_.begin(), extensions_.end(), [](const auto& e) { return e.alive(); });
  };
  const auto reap_limit = Clock::now() + kReapAfterKill;
  while (!all_exited() && Clock::now() < reap_limit) co_await wake_.wait_until(reap_limit);
  for (const auto& e : extensions_) signal_group(e, SIGKILL);  // the sandbox is gone, with what they left
  stopping_ = true;
  wake_.notify();

  // Whatever was still buffered or in flight is not delivered: the environment is gone.
  for (auto& e : extensions_) {
    if (e.exited_early && e.first_next_at) failures_.push_back(e.name + " exited before it was sent SHUTDOWN");
    if (e.exited && !e.killed && e.exit_code && *e.exit_code != 0 && !e.init_error)
      failures_.push_back(e.name + " exited with code " + std::to_string(*e.exit_code));
    if (e.exited && !e.killed && e.signal) failures_.push_back(e.name + " died on signal " + std::to_string(*e.signal));
  }
  for (const auto& x : exit_errors_) failures_.push_back(x.extension + " posted exit/error " + x.error_type);
}

json::object Emulator::report() const {
  std::optional<Arrivals> arrived;
  std::string arrivals_error;
  if (options_.arrivals_dir) {
    if (auto a = read_arrivals(*options_.arrivals_dir))
      arrived = std::move(*a);
    else
      arrivals_error = a.error().message;
  }

  json::array invocations;
  for (std::size_t n = 0; n < invocations_.size(); ++n) {
    const auto& inv = invocations_[n];
    const int i = static_cast<int>(n) + 1;
    // Added as Lambda bills it: the runtime's end (runtimeDone emitted, before the Telemetry API's buffering)
    // -> the extension's next call; 0 for an extension that called next before the runtime finished.
    std::optional<std::int64_t> worst;
    json::object per_extension;
    for (const auto& e : extensions_) {
      if (!e.wants("INVOKE")) continue;
      std::optional<std::int64_t> added;
      if (const auto next = e.post_invoke_next.find(i); next != e.post_invoke_next.end())
        added = std::max<std::int64_t>(us_between(inv.runtime_done_at, next->second), 0);
      per_extension[e.name] = optional_json(added);
      if (added) worst = std::max(worst.value_or(0), *added);
    }
    json::object o{{"requestId", inv.request_id.value},
                   {"status", inv.status},
                   {"durationMs", inv.duration_ms},
                   {"addedLatencyUs", optional_json(worst)},
                   {"addedLatencyUsByExtension", std::move(per_extension)},
                   {"extensionsCalledNextInTime", inv.in_time}};
    if (arrived) {
      // The share of this invocation's lines that had arrived when the next INVOKE was handed out.
      json::value share = nullptr;
      if (n + 1 < invocations_.size() && options_.lines > 0) {
        const std::int64_t next_invoke = invocations_[n + 1].invoked_us;
        int before = 0;
        for (int j = 1; j <= options_.lines; ++j)
          if (const auto it = arrived->find({i, j}); it != arrived->end() &&
                                                     *std::min_element(it->second.begin(), it->second.end()) <
                                                         next_invoke)
            ++before;
        share = static_cast<double>(before) / options_.lines;
      }
      o["linesBeforeNextInvoke"] = std::move(share);
    }
    invocations.push_back(std::move(o));
  }

  // Freshness of every function line: written by the runtime -> arrived at the destination.
  json::value arrivals = nullptr;
  if (arrived) {
    std::vector<std::int64_t> fresh_us;
    std::size_t missing = 0, doubled = 0;
    for (const auto& [token, emitted] : emitted_us_) {
      const auto it = arrived->find(token);
      if (it == arrived->end()) {
        ++missing;
        continue;
      }
      if (it->second.size() > 1) ++doubled;
      fresh_us.push_back(std::max<std::int64_t>(*std::min_element(it->second.begin(), it->second.end()) - emitted, 0));
    }
    std::sort(fresh_us.begin(), fresh_us.end());
    const auto pct = [&](double p) -> json::value {
      if (fresh_us.empty()) return nullptr;
      return static_cast<double>(fresh_us[static_cast<std::size_t>(static_cast<double>(fresh_us.size() - 1) * p)]) /
             1000.0;
    };
    arrivals = json::object{{"linesSent", emitted_us_.size()},
                            {"linesArrived", fresh_us.size()},
                            {"missing", missing},
                            {"doubled", doubled},
                            {"freshnessMs", json::object{{"p50", pct(0.5)}, {"p99", pct(0.99)}, {"max", pct(1.0)}}}};
  } else if (!arrivals_error.empty()) {
    arrivals = json::object{{"error", arrivals_error}};
  }

  json::array extensions;
  for (const auto& e : extensions_) {
    const auto since_spawn = [&](const std::optional<Clock::time_point>& t) {
      return t ? json::value(us_between(e.spawned, *t)) : json::value(nullptr);
    };
    json::array registered_events;
    for (const auto& ev : e.events) registered_events.emplace_back(ev);
    // The peak is the largest figure seen: the kernel's RSS counters are approximate (per-CPU batches), so its
    // figure at exit may come out a little below a sample taken earlier.
    std::optional<std::int64_t> hwm_kb = e.reaped_maxrss_kb;
    if (e.stats) hwm_kb = std::max({hwm_kb.value_or(0), e.stats->hwm_kb, e.stats->rss_kb});
    extensions.push_back(
        json::object{{"name", e.name},
                     {"pid", e.pid},
                     {"events", std::move(registered_events)},
                     {"registerUs", since_spawn(e.registered_at)},
                     {"initUs", since_spawn(e.first_next_at)},
                     {"exitCode", optional_json(e.exit_code)},
                     {"signal", optional_json(e.signal)},
                     {"exitedBeforeDeadline", e.exited && !e.killed && e.shutdown_sent && !e.exited_early},
                     {"exitedEarly", e.exited_early},
                     {"killed", e.killed},
                     {"plannedKill", e.planned_kill},
                     {"calledNextBeforeKill",
                      e.called_next_before_kill ? json::value(*e.called_next_before_kill) : json::value(nullptr)},
                     {"cpuUs", e.stats ? json::value(e.stats->cpu_us) : json::value(nullptr)},
                     {"rssKb", e.stats ? json::value(e.stats->rss_kb) : json::value(nullptr)},
                     {"hwmKb", optional_json(hwm_kb)}});
  }

  const auto errors = [](const std::vector<ErrorReport>& list) {
    json::array a;
    for (const auto& x : list)
      a.push_back(json::object{{"extension", x.extension}, {"errorType", x.error_type}, {"body", x.body}});
    return a;
  };
  json::array failures;
  for (const auto& f : failures_) failures.emplace_back(f);

  return json::object{{"functionName", options_.function.function_name},
                      {"port", server_ ? server_->port() : 0},
                      {"initDurationMs", init_duration_ms_ ? json::value(*init_duration_ms_) : json::value(nullptr)},
                      {"functionLinesSent", outcome_.sent_tokens.size()},
                      {"invocations", std::move(invocations)},
                      {"arrivals", std::move(arrivals)},
                      {"killedAtInvocation", killed_at_ > 0 ? json::value(killed_at_) : json::value(nullptr)},
                      {"shutdownReason", shutdown_reason_ ? json::value(*shutdown_reason_) : json::value(nullptr)},
                      {"subscriptions", subscription_log_},
                      {"extensions", std::move(extensions)},
                      {"initErrors", errors(init_errors_)},
                      {"exitErrors", errors(exit_errors_)},
                      {"failures", std::move(failures)},
                      {"ok", init_errors_.empty() && failures_.empty()}};
}

// report(), then "events": every event as each subscriber got it, written from its serialized text (a tree of
// them would hold a 100 MB burst of lines once more).
void Emulator::write_report(std::ostream& out) const {
  const std::string head = json::serialize(report());
  out.write(head.data(), static_cast<std::streamsize>(head.size() - 1));  // without its closing brace
  out << ",\"events\":[";
  bool first = true;
  for (const auto& s : subscribers_) {
    const std::string subscriber = json::serialize(json::value(s->extension));
    for (const auto& item : s->items) {
      out << (first ? "" : ",");
      first = false;
      if (options_.function.damaged_lines && item.text.find(kLoneSurrogateMark) == std::string::npos) {
        // The report stays valid JSON: a damaged line as function_record made it, with its marks.
        std::string text = item.text;
        if (const auto at = text.find('\xFF'); at != std::string::npos) text.replace(at, 1, kBadByteMark);
        if (const auto at = text.find("\\ud83d"); at != std::string::npos) text.replace(at, 6, kLoneSurrogateMark);
        out.write(text.data(), static_cast<std::streamsize>(text.size() - 1));
      } else {
        out.write(item.text.data(), static_cast<std::streamsize>(item.text.size() - 1));  // {time,type,record
      }
      out << ",\"subscriber\":" << subscriber << ",\"delivered\":" << (item.acked_at ? "true" : "false")
          << ",\"deliveredAt\":" << (item.acked_at ? "\"" + format_iso8601_ms(*item.acked_at) + "\"" : "null") << '}';
    }
  }
  out << "]}\n";
}

void Emulator::finish() {
  finished_ = true;
  outcome_.exit_code = command_error_          ? kExitInternal
                       : !init_errors_.empty() ? kExitInitError
                       : !failures_.empty()    ? kExitMisbehaved
                                               : kExitOk;
  std::size_t delivered = 0, total = 0;
  for (const auto& s : subscribers_)
    for (const auto& item : s->items) {
      ++total;
      if (item.acked_at) ++delivered;
    }
  log_.info("done: " + std::to_string(invocations_.size()) + " invocation(s), " + std::to_string(delivered) + " of " +
            std::to_string(total) + " event deliveries acknowledged, exit code " + std::to_string(outcome_.exit_code));
  if (!options_.report) return;
  std::ofstream out(*options_.report, std::ios::trunc);
  write_report(out);
  out.close();
  if (!out) {
    log_.error("cannot write the report to " + options_.report->string());
    outcome_.exit_code = kExitInternal;
  }
}

}  // namespace

Outcome run(const Options& options) {
  asio::io_context io;
  Emulator emulator(io, options);
  if (auto st = emulator.start(); !st) {
    std::fprintf(stderr, "[emulator] error: %s\n", st.error().message.c_str());
    emulator.kill_all();
    return Outcome{kExitInternal, {}};
  }
  bool internal_error = false;
  asio::co_spawn(io, emulator.lifecycle(), [&](std::exception_ptr ep) {
    if (!ep) return;
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "[emulator] error: internal: %s\n", ex.what());
    }
    internal_error = true;
    io.stop();
  });
  io.run();
  emulator.kill_all();  // only after an internal error or a signal is anything left
  Outcome outcome = emulator.outcome();
  if (internal_error) outcome.exit_code = kExitInternal;
  return outcome;
}

}  // namespace elk::emulator
