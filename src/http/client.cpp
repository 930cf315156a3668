// The HTTP client: Beast over a TCP or TLS stream. All of the project's client-side Beast and OpenSSL code is in
// this file (it is slow to compile).
#include "http/client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <cerrno>
#include <optional>
#include <variant>
#include <vector>

#include "http/tls_context.h"

namespace elk::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;
using Kind = ClientError::Kind;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t max_response_header = 64 * 1024;
// An idle connection older than this is closed rather than reused: servers and load balancers drop idle
// connections after some seconds, and a frozen Lambda sandbox can sit idle for minutes.
constexpr auto max_idle_age = std::chrono::seconds(30);
constexpr SteadyTime no_deadline = SteadyTime::max();

void arm(beast::tcp_stream& s, SteadyTime deadline) {
  if (deadline == no_deadline)
    s.expires_never();
  else
    s.expires_at(deadline);
}

struct Connection {
  explicit Connection(beast::tcp_stream s) : stream(std::in_place_type<beast::tcp_stream>, std::move(s)) {}
  Connection(beast::tcp_stream s, ssl::context& ctx) : stream(std::in_place_type<TlsStream>, std::move(s), ctx) {}

  beast::tcp_stream& tcp() {
    if (auto* plain = std::get_if<beast::tcp_stream>(&stream)) return *plain;
    return beast::get_lowest_layer(std::get<TlsStream>(stream));
  }

  std::variant<beast::tcp_stream, TlsStream> stream;
  beast::flat_buffer buffer;
  SteadyTime idle_since{};
};

// True when an idle connection can still be used: the peer has neither closed it nor sent anything (a TLS
// close_notify, a stray answer). Looks without reading.
bool still_open(beast::tcp_stream& s) {
  auto& socket = s.socket();
  if (!socket.is_open()) return false;
  char c = 0;
  const auto n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// What the request must not carry to be sent as it is: these would make a different request on the wire.
std::optional<std::string> malformed(const Request& r) {
  auto bad = [](std::string_view s, bool space_ok) {
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (u == 0x7f || (u < 0x20 && !(space_ok && c == '\t')) || (!space_ok && c == ' ')) return true;
    }
    return false;
  };
  if (r.method.empty() || bad(r.method, false)) return "the method '" + r.method + "' is not an HTTP token";
  if (r.target.empty() || bad(r.target, false)) return "the target contains a space or a control character";
  for (const auto& h : r.headers) {
    if (h.name.empty() || bad(h.name, false) || h.name.find(':') != std::string::npos)
      return "the header name '" + h.name + "' is not an HTTP token";
    if (bad(h.value, true)) return "the value of header " + h.name + " contains a control character";
  }
  return std::nullopt;
}

BeastRequest to_beast(Request request, const Url& origin) {
  BeastRequest req;
  req.version(11);
  req.method_string(request.method);
  req.target(request.target);
  const bool has_host = request.header("Host").has_value();
  if (!has_host) req.insert(bhttp::field::host, origin.host_header());
  for (const auto& h : request.headers) {
    if (iequals(h.name, "Content-Length") || iequals(h.name, "Transfer-Encoding")) continue;
    req.insert(h.name, h.value);
  }
  const auto verb = req.method();
  if (!request.body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put || verb == bhttp::verb::patch)
    req.content_length(request.body.size());
  req.body() = std::move(request.body);
  return req;
}

Response from_beast(BeastResponse& res) {
  Response out;
  out.status = static_cast<int>(res.result_int());
  out.headers.reserve(static_cast<std::size_t>(std::distance(res.begin(), res.end())));
  for (const auto& f : res) out.headers.push_back({std::string(f.name_string()), std::string(f.value())});
  out.body = std::move(res.body());
  return out;
}

struct Exchange {
  error_code ec;
  bool sent = false;      // the request went out whole (otherwise ec is the write's)
  bool got_some = false;  // some of the answer was read
  bool reusable = false;  // the connection may carry another request
  BeastResponse response;
};

template <class Stream>
asio::awaitable<Exchange> exchange(Stream& stream, beast::flat_buffer& buffer, const BeastRequest& req,
                                   std::uint64_t max_response_body, SteadyTime deadline) {
  Exchange out;
  auto [wec, wn] = co_await bhttp::async_write(stream, req, use_tuple);
  (void)wn;
  if (wec) {
    out.ec = wec;
    co_return out;
  }
  out.sent = true;
  for (;;) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(max_response_body);
    parser.header_limit(max_response_header);
    if (req.method() == bhttp::verb::head) parser.skip(true);
    // Piece by piece, with the deadline checked between pieces: the stream's own timer cannot stop an answer
    // that always has more bytes ready (an endless chunked body), as each read completes before it fires.
    error_code rec;
    while (!parser.is_done()) {
      std::tie(rec, std::ignore) = co_await bhttp::async_read_some(stream, buffer, parser, use_tuple);
      if (!rec && deadline != no_deadline && std::chrono::steady_clock::now() >= deadline) rec = beast::error::timeout;
      if (rec) break;
    }
    out.got_some = out.got_some || parser.got_some() || buffer.size() > 0;
    if (rec) {
      out.ec = rec;
      co_return out;
    }
    auto res = parser.release();
    const auto status = res.result_int();
    if (status >= 100 && status < 200 && status != 101) continue;  // interim: 100 Continue, 103 Early Hints
    out.reusable = req.keep_alive() && res.keep_alive() && !res.need_eof() && buffer.size() == 0;
    out.response = std::move(res);
    co_return out;
  }
}

// Resolves with the deadline. The system resolver cannot be interrupted, so on timeout the lookup is abandoned:
// its completion finds the shared state alone.
struct Lookup {
  explicit Lookup(const asio::any_io_executor& ex) : resolver(ex), wake(ex) {}
  tcp::resolver resolver;
  asio::steady_timer wake;
  bool done = false;
  error_code ec;
  std::vector<tcp::endpoint> endpoints;
};

asio::awaitable<std::pair<error_code, std::vector<tcp::endpoint>>> resolve(const asio::any_io_executor& ex,
                                                                           const std::string& host, std::uint16_t port,
                                                                           SteadyTime deadline) {
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec) co_return std::pair{error_code{}, std::vector{tcp::endpoint(address, port)}};

  auto lookup = std::make_shared<Lookup>(ex);
  if (deadline != no_deadline)
    lookup->wake.expires_at(deadline);
  else
    lookup->wake.expires_at(asio::steady_timer::time_point::max());
  lookup->resolver.async_resolve(host, std::to_string(port),
                                 [lookup](const error_code& rec, const tcp::resolver::results_type& results) {
                                   lookup->done = true;
                                   lookup->ec = rec;
                                   for (const auto& entry : results) lookup->endpoints.push_back(entry.endpoint());
                                   lookup->wake.cancel();
                                 });
  co_await lookup->wake.async_wait(use_tuple);
  if (!lookup->done) {
    lookup->resolver.cancel();
    co_return std::pair{error_code(beast::error::timeout), std::vector<tcp::endpoint>{}};
  }
  co_return std::pair{lookup->ec, std::move(lookup->endpoints)};
}

}  // namespace

struct Client::Impl {
  Impl(asio::any_io_executor ex, Url url) : executor(std::move(ex)), origin(std::move(url)), name(origin.origin()) {}

  static asio::awaitable<ClientResult<Response>> send(std::shared_ptr<Impl> self, Request request, SteadyTime deadline,
                                                      std::size_t max_response_body);
  asio::awaitable<ClientResult<std::unique_ptr<Connection>>> connect(SteadyTime deadline);
  asio::awaitable<std::optional<ClientError>> handshake(TlsStream& stream, SteadyTime deadline) const;

  std::unique_ptr<Connection> take_idle() {
    const auto now = std::chrono::steady_clock::now();
    while (!idle.empty()) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (now - c->idle_since <= max_idle_age && still_open(c->tcp())) return c;
    }
    return nullptr;
  }

  void give_back(std::unique_ptr<Connection> c) {
    c->tcp().expires_never();
    c->idle_since = std::chrono::steady_clock::now();
    if (idle.size() >= max_idle_connections) idle.erase(idle.begin());  // the oldest
    idle.push_back(std::move(c));
  }

  // "cannot <action> <origin>: <cause>", or "timed out <doing> <origin>".
  ClientError error(Kind kind, std::string_view action, std::string_view doing, const error_code& ec) const {
    if (ec == beast::error::timeout) return {Kind::timeout, "timed out " + std::string(doing) + " " + name};
    return {kind, "cannot " + std::string(action) + " " + name + ": " + ec.message()};
  }

  asio::any_io_executor executor;
  Url origin;
  std::string name;                 // origin.origin(), for messages
  std::optional<ssl::context> tls;  // https only
  bool verify = false;
  std::string ca_source;
  std::vector<std::unique_ptr<Connection>> idle;  // most recently used last
};

asio::awaitable<ClientResult<std::unique_ptr<Connection>>> Client::Impl::connect(SteadyTime deadline) {
  auto [rec, endpoints] = co_await resolve(executor, origin.host, origin.port, deadline);
  if (rec == beast::error::timeout)
    co_return std::unexpected(ClientError{Kind::timeout, "timed out resolving " + origin.host + " for " + name});
  if (rec)
    co_return std::unexpected(
        ClientError{Kind::connect, "cannot resolve " + origin.host + " for " + name + ": " + rec.message()});

  beast::tcp_stream stream(executor);
  arm(stream, deadline);
  auto [cec, ep] = co_await stream.async_connect(endpoints, use_tuple);
  (void)ep;
  if (cec) co_return std::unexpected(error(Kind::connect, "connect to", "connecting to", cec));
  error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);

  if (!tls) co_return std::make_unique<Connection>(std::move(stream));
  auto conn = std::make_unique<Connection>(std::move(stream), *tls);
  if (auto failed = co_await handshake(std::get<TlsStream>(conn->stream), deadline))
    co_return std::unexpected(std::move(*failed));
  co_return conn;
}

asio::awaitable<std::optional<ClientError>> Client::Impl::handshake(TlsStream& stream, SteadyTime deadline) const {
  SSL* ssl = stream.native_handle();
  auto fail_tls = [&](std::string why) {
    return ClientError{Kind::tls, "TLS handshake with " + name + " failed: " + std::move(why)};
  };
  error_code ec;
  (void)asio::ip::make_address(origin.host, ec);
  const bool is_ip = !ec;
  // SNI carries names only (RFC 6066), and the certificate must be for the name or address we connect to.
  if (!is_ip && SSL_set_tlsext_host_name(ssl, origin.host.c_str()) != 1) co_return fail_tls("cannot set SNI");
  if (verify) {
    int ok = 0;
    if (is_ip) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), origin.host.c_str());
    } else {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(ssl, origin.host.c_str());
    }
    if (ok != 1) co_return fail_tls("cannot set the host name to verify");
  }
  arm(beast::get_lowest_layer(stream), deadline);
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
  if (!hec) co_return std::nullopt;
  if (hec == beast::error::timeout) co_return ClientError{Kind::timeout, "timed out in the TLS handshake with " + name};
  std::string why = hec.message();
  if (const long result = SSL_get_verify_result(ssl); verify && result != X509_V_OK)
    why = std::string("certificate not accepted: ") + X509_verify_cert_error_string(result);
  if (verify) why += " (trusted CA certificates: " + ca_source + ")";
  co_return fail_tls(std::move(why));
}

asio::awaitable<ClientResult<Response>> Client::Impl::send(std::shared_ptr<Impl> self, Request request,
                                                           SteadyTime deadline, std::size_t max_response_body) {
  if (auto why = malformed(request))
    co_return std::unexpected(ClientError{Kind::io, "refusing to send to " + self->name + ": " + *why});
  if (deadline != no_deadline && std::chrono::steady_clock::now() >= deadline)
    co_return std::unexpected(ClientError{Kind::timeout, "the deadline passed before sending to " + self->name});
  const BeastRequest req = to_beast(std::move(request), self->origin);

  for (int attempt = 0;; ++attempt) {
    auto conn = attempt == 0 ? self->take_idle() : nullptr;
    const bool reused = conn != nullptr;
    if (!conn) {
      auto made = co_await self->connect(deadline);
      if (!made) co_return std::unexpected(std::move(made.error()));
      conn = std::move(*made);
    }
    arm(conn->tcp(), deadline);
    Exchange ex;
    if (auto* plain = std::get_if<beast::tcp_stream>(&conn->stream))
      ex = co_await exchange(*plain, conn->buffer, req, max_response_body, deadline);
    else
      ex = co_await exchange(std::get<TlsStream>(conn->stream), conn->buffer, req, max_response_body, deadline);

    if (!ex.ec) {
      Response out = from_beast(ex.response);
      if (ex.reusable) self->give_back(std::move(conn));
      co_return out;
    }
    // The peer closed the connection while it was idle (the request met a reset or an end of stream). The
    // other idle connections are older: drop them too, and retry once on a new connection.
    if (reused && attempt == 0 && !ex.got_some && ex.ec != beast::error::timeout) {
      self->idle.clear();
      continue;
    }
    if (ex.ec == bhttp::error::body_limit)
      co_return std::unexpected(ClientError{Kind::io, "the answer from " + self->name + " is larger than " +
                                                          std::to_string(max_response_body) +
                                                          " bytes, more than this request can need; not read further"});
    if (ex.ec == bhttp::error::header_limit)
      co_return std::unexpected(ClientError{Kind::io, "the answer from " + self->name + " has headers over " +
                                                          std::to_string(max_response_header >> 10) + " KB"});
    if (!ex.sent) co_return std::unexpected(self->error(Kind::io, "send to", "sending to", ex.ec));
    co_return std::unexpected(self->error(Kind::io, "read the answer from", "waiting for the answer from", ex.ec));
  }
}

Result<TlsContext> make_tls_client_context(const TlsOptions& tls, const Getenv& getenv, std::string_view name_view) {
  const std::string name(name_view);
  TlsContext out{ssl::context(ssl::context::tls_client), ""};
  ssl::context& ctx = out.context;
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1)
    return fail("cannot set up TLS for " + name + ": TLS 1.2 is not available");
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
  // A peer that closes without close_notify ends the stream (answers are length-delimited; an answer that
  // ends at the close is still checked by the parser).
  SSL_CTX_set_options(native, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
  error_code ec;
  if (tls.verify) {
    auto cas = find_ca_certificates(tls.ca_file, getenv);
    if (!cas) return fail("cannot verify TLS certificates for " + name + ": " + cas.error().message);
    for (const auto& file : cas->files) {
      ctx.load_verify_file(file, ec);
      if (ec)
        return fail("cannot load CA certificates from '" + file + "' for " + name + ": " + ec.message() +
                    " (a PEM file of certificates is expected)");
    }
    for (const auto& dir : cas->dirs) {
      ctx.add_verify_path(dir, ec);
      if (ec) return fail("cannot use the CA directory '" + dir + "' for " + name + ": " + ec.message());
    }
    ctx.set_verify_mode(ssl::verify_peer, ec);
    out.ca_source = cas->source;
  } else {
    ctx.set_verify_mode(ssl::verify_none, ec);
  }
  if (ec) return fail("cannot set up TLS for " + name + ": " + ec.message());
  return out;
}

Client::Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::make(asio::any_io_executor executor, Url origin, const TlsOptions& tls,
                                             const Getenv& getenv) {
  auto impl = std::make_shared<Impl>(std::move(executor), std::move(origin));
  if (impl->origin.tls()) {
    auto tls_context = make_tls_client_context(tls, getenv, impl->name);
    if (!tls_context) return std::unexpected(tls_context.error());
    impl->ca_source = tls_context->ca_source;
    impl->verify = tls.verify;
    impl->tls.emplace(std::move(tls_context->context));
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

asio::awaitable<ClientResult<Response>> Client::send(Request request, SteadyTime deadline,
                                                     std::size_t max_answer_bytes) {
  return Impl::send(impl_, std::move(request), deadline, max_answer_bytes);
}

const Url& Client::origin() const {
  return impl_->origin;
}
const std::string& Client::ca_source() const {
  return impl_->ca_source;
}
std::size_t Client::idle_connections() const {
  return impl_->idle.size();
}

asio::awaitable<ClientResult<Response>> send(const Endpoint& endpoint, Request request,
                                             std::chrono::milliseconds timeout, std::size_t max_answer_bytes) {
  const auto deadline = timeout.count() > 0 ? std::chrono::steady_clock::now() + timeout : no_deadline;
  auto executor = co_await asio::this_coro::executor;
  auto client =
      Client::make(std::move(executor), Url{"http", endpoint.host, endpoint.port, ""}, TlsOptions{}, Getenv{});
  if (!client) co_return std::unexpected(ClientError{Kind::connect, client.error().message});
  co_return co_await (*client)->send(std::move(request), deadline, max_answer_bytes);
}

}  // namespace elk::http
