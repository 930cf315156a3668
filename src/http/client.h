// A small asynchronous HTTP/1.1 client for plain-HTTP peers on loopback (the Lambda APIs).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>

#include "core/result.h"
#include "http/message.h"

namespace elk::http {

struct ClientError {
  enum class Kind { connect, timeout, io };
  Kind kind;
  std::string message;
};

template <class T>
using ClientResult = std::expected<T, ClientError>;

// Sends one request on a new connection and reads the whole response. `timeout` bounds the
// whole exchange; zero means none (the Extensions API's event/next must not time out: the
// process may be frozen inside the call). Host and Content-Length are set here.
[[nodiscard]] boost::asio::awaitable<ClientResult<Response>> send(const Endpoint& endpoint, Request request,
                                                                  std::chrono::milliseconds timeout);

}  // namespace elk::http
