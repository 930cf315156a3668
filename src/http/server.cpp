#include "http/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

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
      return fail("cannot listen on " + options_.address + ":" + std::to_string(options_.port) + ": " +
                  ec.message());
    port_ = acceptor_.local_endpoint().port();
    return {};
  }

  void run() {
    asio::co_spawn(acceptor_.get_executor(), accept_loop(shared_from_this()), asio::detached);
  }

  std::uint16_t port() const override { return port_; }

  void stop() override {
    boost::system::error_code ec;
    acceptor_.close(ec);
  }

 private:
  static asio::awaitable<void> accept_loop(std::shared_ptr<ServerImpl> self) {
    for (;;) {
      auto [ec, socket] = co_await self->acceptor_.async_accept(use_tuple);
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) co_return;
      if (ec) continue;  // e.g. EMFILE; the next accept may succeed
      asio::co_spawn(self->acceptor_.get_executor(), session(self, std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> session(std::shared_ptr<ServerImpl> self, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(self->options_.max_body_bytes);
      stream.expires_after(idle_timeout);
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
      (void)n;
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
      if (wec || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  tcp::acceptor acceptor_;
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
