// Asynchronous HTTP/1.1 clients: `Client` for one destination origin over plain HTTP or TLS, with reused
// keep-alive connections; `send` for one-off calls to the Lambda APIs on loopback. No Beast or OpenSSL types
// here: they stay in client.cpp.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <expected>
#include <memory>
#include <string>

#include "core/result.h"
#include "core/time.h"
#include "http/message.h"
#include "http/tls.h"
#include "http/url.h"

namespace elk::http {

struct ClientError {
  enum class Kind {
    connect,  // the name did not resolve, or the TCP connection was refused or failed
    timeout,  // the deadline passed (resolve, connect, handshake, write or read)
    io,       // the connection broke while sending or receiving, or the answer was not valid HTTP
    tls,      // the TLS handshake failed: certificate not trusted, host name mismatch, protocol error
  };
  Kind kind;
  std::string message;  // names the origin ("https://bucket.s3.eu-west-1.amazonaws.com") and the cause
};

template <class T>
using ClientResult = std::expected<T, ClientError>;

// One per destination origin. Runs on one executor (one thread); `send` may be called by several coroutines at
// once, each then using its own connection. Up to `max_idle_connections` idle connections are kept for reuse.
class Client {
 public:
  static constexpr std::size_t max_idle_connections = 4;

  // For https, builds the TLS context: TLS 1.2 or later; with `tls.verify`, trusts tls.ca_file, or what
  // find_ca_certificates finds through `getenv`, and fails when there is nothing to trust or it does not load.
  // For http, `tls` and `getenv` are not used.
  [[nodiscard]] static Result<std::unique_ptr<Client>> make(boost::asio::any_io_executor executor, Url origin,
                                                            const TlsOptions& tls, const Getenv& getenv);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads the whole answer (body up to 64 MB; an answer of any status is a value).
  //  - The target is sent as given (origin-form: "/path?query", already percent-encoded).
  //  - Headers are sent as given, in order, repeated names kept. A Host header on the request is sent as it is;
  //    without one, Host is origin.host_header(). Content-Length is set from the body (any given Content-Length
  //    or Transfer-Encoding is dropped). Nothing else is added, so a request signed before send stays valid.
  //  - `deadline` bounds resolve, connect, TLS handshake, write and read together.
  //  - A reused connection the peer closed while idle is retried once on a fresh connection, when nothing of
  //    the answer was read.
  // The connection is kept for reuse when both sides allow keep-alive and the answer was read to its end.
  // The answer's body is read up to `max_answer_bytes` (what the protocol can need: a bulk answer's items, an
  // S3 error document); past it, or past the deadline, reading stops and the send fails (Kind::io / timeout).
  static constexpr std::size_t default_max_answer_bytes = 1024uz * 1024;
  [[nodiscard]] boost::asio::awaitable<ClientResult<Response>> send(
      Request request, SteadyTime deadline, std::size_t max_answer_bytes = default_max_answer_bytes);

  [[nodiscard]] const Url& origin() const;
  // Where the trusted CA certificates came from ("" for http, or without verification).
  [[nodiscard]] const std::string& ca_source() const;
  // Connections now idle in the pool.
  [[nodiscard]] std::size_t idle_connections() const;

 private:
  struct Impl;
  explicit Client(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with sends in flight, so a Client may be destroyed during one
};

// Sends one request on a new plain-HTTP connection and reads the whole response. `timeout` bounds the
// whole exchange; zero means none (the Extensions API's event/next must not time out: the process may be
// frozen inside the call). Host ("host:port", unless the request has one) and Content-Length are set here; the
// connection is closed after.
[[nodiscard]] boost::asio::awaitable<ClientResult<Response>> send(
    const Endpoint& endpoint, Request request, std::chrono::milliseconds timeout,
    std::size_t max_answer_bytes = Client::default_max_answer_bytes);

}  // namespace elk::http
