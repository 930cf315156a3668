#include "fakes/logstash.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <stdexcept>

#include "http/server.h"

namespace elk::fakes {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

struct Decoded {
  std::vector<json::object> events;
  std::vector<std::string> failures;
};

// What LogStash::Event.new does with @timestamp: a value that is not an ISO 8601 string moves to _@timestamp and
// the event is tagged _timestampparsefailure.
json::object make_event(json::object fields) {
  const auto it = fields.find("@timestamp");
  if (it == fields.end()) return fields;
  const json::value ts = it->value();
  if (ts.is_string() && is_strict_date_optional_time(ts.as_string())) return fields;
  fields.erase(it);
  fields["_@timestamp"] = ts;
  json::value& tags = fields["tags"];
  if (tags.is_array()) {
    tags.as_array().push_back("_timestampparsefailure");
  } else if (tags.is_string()) {
    tags = json::array{tags, "_timestampparsefailure"};
  } else {
    tags = json::array{"_timestampparsefailure"};
  }
  return fields;
}

// LogStash::Event.from_json, with the json codecs' fallback to a _jsonparsefailure event.
void from_json(std::string_view text, Decoded& out) {
  if (is_blank(text)) return;
  auto failure = [&] {
    out.events.push_back(json::object{{"message", text}, {"tags", json::array{"_jsonparsefailure"}}});
    out.failures.emplace_back(text);
  };
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return failure();
  if (v.is_object()) {
    out.events.push_back(make_event(std::move(v.as_object())));
    return;
  }
  if (v.is_array()) {
    for (const auto& e : v.as_array())
      if (!e.is_object()) return failure();
    for (auto& e : v.as_array()) out.events.push_back(make_event(std::move(e.as_object())));
    return;
  }
  failure();
}

void json_lines(std::string_view text, Decoded& out) {
  std::size_t start = 0;
  while (start < text.size()) {
    const auto nl = text.find('\n', start);
    from_json(text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start), out);
    if (nl == std::string_view::npos) break;  // the codec's flush decodes the unterminated rest too
    start = nl + 1;
  }
}

}  // namespace

// --- FakeLogstashHttp -------------------------------------------------------------------------------------------

struct FakeLogstashHttp::Impl {
  explicit Impl(LogstashHttpOptions o) : options(std::move(o)) {}

  http::Response process(const http::Request& req, RecordedRequest& rec) {
    std::optional<HttpFault> fault = server->fault_now();
    if (!fault) {
      std::lock_guard lock(mu);
      if (fail_remaining > 0) {
        --fail_remaining;
        fault = fail_fault;
      }
    }
    if (fault) {
      rec.refusal = "injected fault " + std::to_string(fault->status);
      http::Response r;
      r.status = fault->status;
      r.body = fault->body.value_or("");
      r.headers = fault->headers;
      return r;
    }
    if (!options.user.empty() && !options.password.empty()) {
      const auto authz = req.header("authorization");
      if (!authz) {
        rec.refusal = "auth: no Authorization header";
        http::Response r;
        r.status = 401;
        r.headers.push_back({"WWW-Authenticate", "Basic realm=\"Logstash HTTP Input\""});
        return r;
      }
      if (*authz != "Basic " + base64_encode(options.user + ":" + options.password)) {
        rec.refusal = "auth: wrong credentials";
        http::Response r;
        r.status = 401;
        return r;
      }
    }
    auto decoded = decode_content(req.header("content-encoding"), req.body, options.max_content_length);
    if (!decoded) {
      rec.refusal = decoded.error().message;
      if (decoded.error().message.find("exceeds") != std::string::npos) {
        http::Response r;
        r.status = 413;
        return r;
      }
      return http::make_response(400, decoded.error().message, "text/plain");
    }
    rec.body = std::move(*decoded);
    const std::string text = repair_utf8(rec.body);

    const auto ct = req.header("content-type");
    const std::string mime = ct ? std::string(trim(ct->substr(0, ct->find(';')))) : "";
    std::string codec = "plain";
    if (mime == "application/json" && options.json_codec) codec = "json";
    if (mime == "application/x-ndjson" && options.json_lines_codec) codec = "json_lines";
    Decoded out;
    if (codec == "json") {
      from_json(text, out);
    } else if (codec == "json_lines") {
      json_lines(text, out);
    } else {
      out.events.push_back(json::object{{"message", text}});
    }
    {
      std::lock_guard lock(mu);
      for (auto& e : out.events) events.push_back(std::move(e));
      for (auto& f : out.failures) failures.push_back(std::move(f));
      codecs.push_back(codec);
    }
    if (options.response_code == 204) {
      http::Response r;
      r.status = 204;
      return r;
    }
    return http::make_response(options.response_code, "ok", "text/plain");
  }

  asio::awaitable<http::Response> handle(http::Request req) {
    RecordedRequest rec{req.method, req.target, req.headers, req.body, req.body, 0, "", ""};
    http::Response resp = process(req, rec);
    std::chrono::milliseconds wait{0};
    {
      std::lock_guard lock(mu);
      rec.status = resp.status;
      rec.response_body = resp.body;
      requests.push_back(std::move(rec));
      wait = delay;
    }
    cv.notify_all();
    if (wait.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, wait);
      co_await timer.async_wait(use_tuple);
    }
    co_return resp;
  }

  LogstashHttpOptions options;
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  int fail_remaining = 0;
  HttpFault fail_fault;
  std::chrono::milliseconds delay{0};
  std::vector<RecordedRequest> requests;
  std::vector<json::object> events;
  std::vector<std::string> failures;
  std::vector<std::string> codecs;
  std::size_t refused = 0;
  std::uint16_t port = 0;
  // Last: stopped and destroyed first.
  IoThread io;
  std::unique_ptr<FaultableServer> server;
};

FakeLogstashHttp::FakeLogstashHttp(LogstashHttpOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  Impl* impl = impl_.get();
  http::ServerOptions so;
  so.address = "127.0.0.1";
  so.port = 0;
  so.max_body_bytes = impl->options.max_content_length;
  so.on_refused = [impl](int, std::string_view) {
    std::lock_guard lock(impl->mu);
    ++impl->refused;
  };
  auto server = FaultableServer::start(impl->io.io(), std::move(so),
                                       [impl](http::Request r) { return impl->handle(std::move(r)); });
  if (!server) throw std::runtime_error("FakeLogstashHttp: " + server.error().message);
  impl->server = std::move(*server);
  impl->port = impl->server->port();
  impl->io.start();
}

FakeLogstashHttp::~FakeLogstashHttp() {
  impl_->io.run_on_io([this] { impl_->server.reset(); });
  impl_->io.stop();
}

std::uint16_t FakeLogstashHttp::port() const {
  return impl_->port;
}
std::string FakeLogstashHttp::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->port);
}
void FakeLogstashHttp::fail_next_requests(int n, HttpFault fault) {
  std::lock_guard lock(impl_->mu);
  impl_->fail_remaining = n;
  impl_->fail_fault = std::move(fault);
}
void FakeLogstashHttp::fail_while(std::function<bool()> predicate, HttpFault fault) {
  impl_->server->fail_while(std::move(predicate), std::move(fault));
}
void FakeLogstashHttp::refuse_connections_while(std::function<bool()> predicate) {
  impl_->server->refuse_connections_while(std::move(predicate));
}
void FakeLogstashHttp::set_response_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(impl_->mu);
  impl_->delay = delay;
}
void FakeLogstashHttp::clear_faults() {
  impl_->server->clear_faults();
  std::lock_guard lock(impl_->mu);
  impl_->fail_remaining = 0;
  impl_->delay = std::chrono::milliseconds(0);
}
std::vector<RecordedRequest> FakeLogstashHttp::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}
std::vector<json::object> FakeLogstashHttp::events() const {
  std::lock_guard lock(impl_->mu);
  return impl_->events;
}
std::size_t FakeLogstashHttp::event_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->events.size();
}
std::vector<std::string> FakeLogstashHttp::parse_failures() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failures;
}
std::vector<std::string> FakeLogstashHttp::codecs() const {
  std::lock_guard lock(impl_->mu);
  return impl_->codecs;
}
std::size_t FakeLogstashHttp::refused_by_server() const {
  std::lock_guard lock(impl_->mu);
  return impl_->refused;
}
bool FakeLogstashHttp::wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return wait_for(impl_->cv, lock, timeout, [&] { return impl_->events.size() >= n; });
}
bool FakeLogstashHttp::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return wait_for(impl_->cv, lock, timeout, [&] { return impl_->requests.size() >= n; });
}
void FakeLogstashHttp::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->requests.clear();
  impl_->events.clear();
  impl_->failures.clear();
  impl_->codecs.clear();
  impl_->refused = 0;
}

// --- FakeLogstashTcp --------------------------------------------------------------------------------------------

struct FakeLogstashTcp::Impl {
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor->async_accept(use_tuple);
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      if (ec) continue;
      {
        std::lock_guard lock(mu);
        ++connections;
      }
      asio::co_spawn(acceptor->get_executor(), session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    std::string buffer;
    std::vector<char> chunk(16384);
    std::size_t lines = 0;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), use_tuple);
      buffer.append(chunk.data(), n);
      std::size_t start = 0;
      bool close_now = false;
      while (!close_now) {
        const auto nl = buffer.find('\n', start);
        if (nl == std::string::npos) break;
        Decoded out;
        from_json(repair_utf8(std::string_view(buffer).substr(start, nl - start)), out);
        start = nl + 1;
        ++lines;
        {
          std::lock_guard lock(mu);
          for (auto& e : out.events) events.push_back(std::move(e));
          for (auto& f : out.failures) failures.push_back(std::move(f));
          if (close_every && close_k > 0 && lines >= close_k) {
            close_now = true;
          } else if (!close_every && close_remaining > 0 && --close_remaining == 0) {
            close_now = true;
          }
        }
        cv.notify_all();
      }
      buffer.erase(0, start);
      if (close_now) {
        boost::system::error_code ignored;
        socket.set_option(tcp::socket::linger(true, 0), ignored);  // a crash or a restart: reset, not a close
        socket.close(ignored);
        {
          std::lock_guard lock(mu);
          discarded += buffer.size();
          ++fault_closed;
          ++closed;
        }
        cv.notify_all();
        co_return;
      }
      if (ec) {
        {
          std::lock_guard lock(mu);
          if (!is_blank(buffer)) partials.push_back(buffer);
          ++closed;
        }
        cv.notify_all();
        co_return;
      }
    }
  }

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::size_t close_k = 0;
  bool close_every = false;
  std::size_t close_remaining = 0;
  std::vector<json::object> events;
  std::vector<std::string> failures;
  std::vector<std::string> partials;
  std::size_t connections = 0;
  std::size_t closed = 0;
  std::size_t fault_closed = 0;
  std::size_t discarded = 0;
  std::uint16_t port = 0;
  // Last: stopped and destroyed first (the acceptor before its io_context).
  IoThread io;
  std::optional<tcp::acceptor> acceptor;
};

FakeLogstashTcp::FakeLogstashTcp() : impl_(std::make_unique<Impl>()) {
  Impl* impl = impl_.get();
  impl->acceptor.emplace(impl->io.io(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  impl->port = impl->acceptor->local_endpoint().port();
  asio::co_spawn(impl->io.io(), impl->accept_loop(), asio::detached);
  impl->io.start();
}

FakeLogstashTcp::~FakeLogstashTcp() {
  impl_->io.run_on_io([this] {
    boost::system::error_code ignored;
    impl_->acceptor->close(ignored);
  });
  impl_->io.stop();
}

std::uint16_t FakeLogstashTcp::port() const {
  return impl_->port;
}
std::string FakeLogstashTcp::host_port() const {
  return "127.0.0.1:" + std::to_string(impl_->port);
}
void FakeLogstashTcp::close_after_lines(std::size_t k, bool every_connection) {
  std::lock_guard lock(impl_->mu);
  impl_->close_every = every_connection;
  impl_->close_k = every_connection ? k : 0;
  impl_->close_remaining = every_connection ? 0 : k;
}
void FakeLogstashTcp::clear_faults() {
  std::lock_guard lock(impl_->mu);
  impl_->close_every = false;
  impl_->close_k = 0;
  impl_->close_remaining = 0;
}
std::vector<json::object> FakeLogstashTcp::events() const {
  std::lock_guard lock(impl_->mu);
  return impl_->events;
}
std::size_t FakeLogstashTcp::event_count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->events.size();
}
std::vector<std::string> FakeLogstashTcp::parse_failures() const {
  std::lock_guard lock(impl_->mu);
  return impl_->failures;
}
std::vector<std::string> FakeLogstashTcp::partial_lines() const {
  std::lock_guard lock(impl_->mu);
  return impl_->partials;
}
std::size_t FakeLogstashTcp::connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->connections;
}
std::size_t FakeLogstashTcp::closed_by_fault() const {
  std::lock_guard lock(impl_->mu);
  return impl_->fault_closed;
}
std::size_t FakeLogstashTcp::discarded_bytes() const {
  std::lock_guard lock(impl_->mu);
  return impl_->discarded;
}
bool FakeLogstashTcp::wait_for_events(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return wait_for(impl_->cv, lock, timeout, [&] { return impl_->events.size() >= n; });
}
bool FakeLogstashTcp::wait_for_closed_connections(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return wait_for(impl_->cv, lock, timeout, [&] { return impl_->closed >= n; });
}
void FakeLogstashTcp::clear() {
  std::lock_guard lock(impl_->mu);
  impl_->events.clear();
  impl_->failures.clear();
  impl_->partials.clear();
  impl_->connections = 0;
  impl_->closed = 0;
  impl_->fault_closed = 0;
  impl_->discarded = 0;
}

}  // namespace elk::fakes
