// A small asynchronous HTTP/1.1 server: keep-alive connections, a body limit answered with 413,
// and one coroutine handler for every request.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.h"
#include "http/message.h"

namespace elk::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request)>;

struct ServerOptions {
  std::string address = "127.0.0.1";  // where to bind; "0.0.0.0" for every interface
  std::uint16_t port = 0;             // 0: the kernel picks a free port (see Server::port)
  std::size_t max_body_bytes = 8uz * 1024 * 1024;
  // Most connections open at once. A new one past it closes the connection idle the longest (one waiting for
  // a request), or, when every one is busy, is closed itself. Lambda delivers over one or two.
  std::size_t max_connections = 64;
  // Called (on the io thread) for each request refused before the handler saw it, e.g. 413.
  std::function<void(int status, std::string_view why)> on_refused;
};

class Server {
 public:
  // Binds and starts accepting on `io`. The error names the address and port.
  [[nodiscard]] static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io, ServerOptions options,
                                                             Handler handler);
  virtual ~Server() = default;
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  // Stops accepting; open connections end after their current exchange.
  virtual void stop() = 0;
};

}  // namespace elk::http
