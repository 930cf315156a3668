// The HTTP routes Lambda serves an extension: the Extensions API (register, next, init/error, exit/error),
// the Telemetry API and the Logs API (subscribe), with Lambda's answers to what it refuses. A `next` is
// answered when the lifecycle has put an event in the extension's Pending; one after SHUTDOWN never is.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <random>
#include <vector>

#include "emulator.h"
#include "extension.h"
#include "http/server.h"
#include "report.h"
#include "support.h"
#include "telemetry.h"

namespace elk::emulator {

class ExtensionsApi {
 public:
  // Registration finds its extension in `extensions` by name; posted errors and subscription requests go to
  // `record`; subscriptions and the platform.extension / platform.*Subscription events to `telemetry`.
  ExtensionsApi(const Options& options, const Log& log, Broadcast& wake, std::mt19937_64& rng,
                std::vector<Extension>& extensions, Telemetry& telemetry, RunRecord& record)
      : options_(options),
        log_(log),
        wake_(wake),
        rng_(rng),
        extensions_(extensions),
        telemetry_(telemetry),
        record_(record) {}

  ExtensionsApi(const ExtensionsApi&) = delete;
  ExtensionsApi& operator=(const ExtensionsApi&) = delete;

  // The server's handler: any request, answered as Lambda answers it.
  asio::awaitable<http::Response> handle(http::Request req);

  // Init is over: a register from now on is refused.
  void close_registration() { registration_closed_ = true; }

 private:
  std::expected<Extension*, http::Response> authenticate(const http::Request& req);
  http::Response on_register(const http::Request& req);
  asio::awaitable<http::Response> on_next(Extension& e);
  http::Response on_error(const http::Request& req, bool init);
  http::Response on_subscribe(const http::Request& req, Api api);

  const Options& options_;
  const Log& log_;
  Broadcast& wake_;
  std::mt19937_64& rng_;
  std::vector<Extension>& extensions_;
  Telemetry& telemetry_;
  RunRecord& record_;
  bool registration_closed_ = false;
};

}  // namespace elk::emulator
