// The Lambda Runtime API (2018-06-01) a custom runtime's bootstrap calls: next (held until the lifecycle
// offers an event), the invocation's response or error, init/error, with Lambda's answers to a request id it
// does not know. The lifecycle (function_mode.cpp) offers events and reads the answers from RuntimeState.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/types.h"
#include "extension.h"
#include "http/server.h"
#include "script.h"
#include "support.h"

namespace elk::emulator {

// An event waiting for the runtime's next `next`.
struct Offer {
  RequestId request_id;
  std::string body;
  EpochMs deadline;  // Lambda-Runtime-Deadline-Ms
  Trace trace;
};

// How the runtime answered the invocation in flight.
struct Answer {
  std::string kind;        // "response" | "error"
  std::string error_type;  // Lambda-Runtime-Function-Error-Type of an error
  std::string body;
  Clock::time_point at;
};

struct RuntimeState {
  int generation = 0;                              // the runtime process: each start (a new init) takes the next one
  std::optional<Clock::time_point> first_next_at;  // of this generation: its init is over
  std::optional<Offer> offer;                      // not yet taken
  std::optional<RequestId> in_flight;              // taken, not answered
  std::optional<Clock::time_point> handed_at;
  std::optional<Answer> answer;  // of the last invocation handed out
  std::set<std::string> done;    // request ids answered, timed out or lost in a crash
  std::optional<ErrorReport> init_error;
  std::vector<std::string> violations;  // protocol violations: each makes the run exit 3
};

class RuntimeApi {
 public:
  RuntimeApi(const FunctionSetup& function, const Log& log, Broadcast& wake, RuntimeState& state)
      : function_(function), log_(log), wake_(wake), state_(state) {}

  RuntimeApi(const RuntimeApi&) = delete;
  RuntimeApi& operator=(const RuntimeApi&) = delete;

  // The server's handler: any request, answered as Lambda answers it.
  asio::awaitable<http::Response> handle(http::Request req);

 private:
  asio::awaitable<http::Response> on_next();
  http::Response on_answer(const http::Request& req, const std::string& id, bool error);
  http::Response on_init_error(const http::Request& req);
  void violation(std::string what);

  const FunctionSetup& function_;
  const Log& log_;
  Broadcast& wake_;
  RuntimeState& state_;
};

}  // namespace elk::emulator
