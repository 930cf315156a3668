#include "http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <list>

#include "http/beast_convert.h"

namespace elk::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// A connection with no request for this long is closed; clients reconnect.
constexpr auto idle_timeout = std::chrono::seconds(60);
// After a failed accept (EMFILE, ENFILE, ENOBUFS ...) the next one waits, doubling up to the most: a
// failing accept would otherwise spin the only thread.
constexpr auto accept_backoff_first = std::chrono::milliseconds(10);
constexpr auto accept_backoff_most = std::chrono::milliseconds(1000);

// One open connection, as the accept loop sees it.
struct Connection {
  tcp::socket* socket;
  std::chrono::steady_clock::time_point idle_since;
  bool idle;                   // waiting for a request
  std::uint64_t requests = 0;  // answered on it
};

class ServerImpl final : public Server, public std::enable_shared_from_this<ServerImpl> {
 public:
  ServerImpl(asio::io_context& io, ServerOptions options, Handler handler)
      : acceptor_(io), options_(std::move(options)), handler_(std::move(handler)) {}

  Status open() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.address, ec);
    if (ec) return fail("cannot listen on '" + options_.address + "': not an IP address");
    const tcp::endpoint ep(address, options_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return fail("cannot listen on " + options_.address + ":" + std::to_string(options_.port) + ": " + ec.message());
    port_ = acceptor_.local_endpoint().port();
    return {};
  }

  void run() { asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), asio::detached); }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<ServerImpl> self) {
    asio::steady_timer pause(self->acceptor_.get_executor());
    auto backoff = accept_backoff_first;
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(use_tuple);
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) co_return;
      if (ec) {
        // Out of descriptors, most likely: make room by closing the longest-idle connection, and wait.
        self->close_longest_idle();
        pause.expires_after(backoff);
        co_await pause.async_wait(use_tuple);
        backoff = std::min(backoff * 2, accept_backoff_most);
        continue;
      }
      backoff = accept_backoff_first;
      if (self->connections_.size() >= self->options_.max_connections && !self->close_longest_idle()) {
        boost::system::error_code ignored;
        socket.close(ignored);  // every connection is busy with a request: this one waits for none
        continue;
      }
      asio::co_spawn(self->acceptor_.get_executor(), session(self, std::move(socket)), asio::detached);
    }
  }

  // Closes one connection waiting for a request — one that never sent any first (a leak, a flood: not
  // Lambda's keep-alive connection), else the one idle longest; false when none is waiting.
  bool close_longest_idle() {
    auto oldest = connections_.end();
    const auto before = [](const Connection& a, const Connection& b) {
      if ((a.requests == 0) != (b.requests == 0)) return a.requests == 0;
      return a.idle_since < b.idle_since;
    };
    for (auto it = connections_.begin(); it != connections_.end(); ++it)
      if (it->idle && (oldest == connections_.end() || before(*it, *oldest))) oldest = it;
    if (oldest == connections_.end()) return false;
    boost::system::error_code ignored;
    oldest->socket->close(ignored);  // its read ends with an error: the session ends and unregisters
    oldest->idle = false;
    return true;
  }

  static asio::awaitable<void> session(std::shared_ptr<ServerImpl> self, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    self->connections_.push_back({&stream.socket(), std::chrono::steady_clock::now(), true});
    const auto me = std::prev(self->connections_.end());
    struct Unregister {
      std::list<Connection>& list;
      std::list<Connection>::iterator it;
      ~Unregister() { list.erase(it); }
    } unregister{self->connections_, me};
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(self->options_.max_body_bytes);
      stream.expires_after(idle_timeout);
      me->idle = buffer.size() == 0;
      me->idle_since = std::chrono::steady_clock::now();
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
      (void)n;
      me->idle = false;
      if (ec == bhttp::error::body_limit) {
        if (self->options_.on_refused) self->options_.on_refused(413, "body over the limit");
        bhttp::response<bhttp::string_body> res{bhttp::status::payload_too_large, 11};
        res.set(bhttp::field::content_type, "application/json");
        res.set(bhttp::field::connection, "close");
        res.body() = R"({"errorMessage":"request body exceeds the listener's limit"})";
        res.prepare_payload();
        stream.expires_after(std::chrono::seconds(5));
        co_await bhttp::async_write(stream, res, use_tuple);
        break;  // the rest of the body is still on the wire: close rather than resynchronise
      }
      if (ec) break;
      stream.expires_never();
      auto breq = parser.release();
      Request req;
      req.method = std::string(breq.method_string());
      req.target = std::string(breq.target());
      req.headers = detail::to_headers(breq);
      req.body = std::move(breq.body());
      const bool keep_alive = breq.keep_alive();
      Response resp = co_await self->handler_(std::move(req));
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(resp.status), 11};
      detail::add_headers(res, resp.headers);
      res.body() = std::move(resp.body);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      stream.expires_after(std::chrono::seconds(30));
      auto [wec, wn] = co_await bhttp::async_write(stream, res, use_tuple);
      (void)wn;
      ++me->requests;
      if (wec || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  tcp::acceptor acceptor_;
  std::list<Connection> connections_;  // every open connection, in the order they were accepted
  ServerOptions options_;
  Handler handler_;
  std::uint16_t port_ = 0;
};

}  // namespace

Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, ServerOptions options, Handler handler) {
  auto impl = std::make_shared<ServerImpl>(io, std::move(options), std::move(handler));
  if (auto st = impl->open(); !st) return std::unexpected(st.error());
  impl->run();
  // The accept loop holds a shared_ptr too; the handle only stops it.
  struct Handle final : Server {
    std::shared_ptr<ServerImpl> impl;
    std::uint16_t port() const override { return impl->port(); }
    void stop() override { impl->stop(); }
    ~Handle() override { impl->stop(); }
  };
  auto handle = std::make_unique<Handle>();
  handle->impl = std::move(impl);
  return handle;
}

}  // namespace elk::http
