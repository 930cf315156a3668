#include "runtime_api.h"

#include <boost/json.hpp>
#include <exception>
#include <string_view>

namespace elk::emulator {
namespace {

namespace json = boost::json;

// Protocol constants, named once.
constexpr std::string_view kNextPath = "/2018-06-01/runtime/invocation/next";
constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";
constexpr std::string_view kInitErrorPath = "/2018-06-01/runtime/init/error";
constexpr std::string_view kRequestIdHeader = "Lambda-Runtime-Aws-Request-Id";
constexpr std::string_view kDeadlineHeader = "Lambda-Runtime-Deadline-Ms";
constexpr std::string_view kArnHeader = "Lambda-Runtime-Invoked-Function-Arn";
constexpr std::string_view kTraceHeader = "Lambda-Runtime-Trace-Id";
constexpr std::string_view kErrorTypeHeader = "Lambda-Runtime-Function-Error-Type";

http::Response error_response(int status, std::string_view type, std::string_view message) {
  return http::make_response(status, json::serialize(json::object{{"errorMessage", message}, {"errorType", type}}));
}

http::Response accepted() {
  return http::make_response(202, R"({"status":"OK"})");
}

}  // namespace

asio::awaitable<http::Response> RuntimeApi::handle(http::Request req) {
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  try {
    if (path == kNextPath) {
      if (req.method != "GET") co_return error_response(405, "MethodNotAllowed", "next is a GET");
      co_return co_await on_next();
    }
    if (path == kInitErrorPath) {
      if (req.method != "POST") co_return error_response(405, "MethodNotAllowed", "init/error is a POST");
      co_return on_init_error(req);
    }
    if (path.starts_with(kInvocationPrefix)) {
      std::string_view rest = path.substr(kInvocationPrefix.size());
      const auto slash = rest.find('/');
      const std::string_view verb = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
      if (req.method == "POST" && (verb == "response" || verb == "error"))
        co_return on_answer(req, std::string(rest.substr(0, slash)), verb == "error");
    }
    co_return error_response(404, "NotFound", "no such API: " + req.method + " " + req.target);
  } catch (const std::exception& ex) {
    log_.error("internal error answering " + req.method + " " + req.target + ": " + ex.what());
  }
  co_return error_response(500, "ServiceException", "internal error in the emulator");
}

void RuntimeApi::violation(std::string what) {
  log_.error("the runtime " + what);
  state_.violations.push_back(std::move(what));
  wake_.notify();
}

asio::awaitable<http::Response> RuntimeApi::on_next() {
  // The runtime calling is the current one: an earlier one's requests were cut off when it was killed.
  const int generation = state_.generation;
  if (!state_.first_next_at) {
    state_.first_next_at = Clock::now();
    wake_.notify();
  }
  if (state_.in_flight) violation("called next without answering invocation " + state_.in_flight->value);
  while (!(state_.offer && state_.generation == generation)) co_await wake_.wait();
  Offer offer = std::move(*state_.offer);
  state_.offer.reset();
  state_.in_flight = offer.request_id;
  state_.handed_at = Clock::now();
  state_.answer.reset();
  wake_.notify();
  auto resp = http::make_response(200, std::move(offer.body));
  resp.headers.push_back({std::string(kRequestIdHeader), offer.request_id.value});
  resp.headers.push_back({std::string(kDeadlineHeader), std::to_string(offer.deadline.value)});
  resp.headers.push_back({std::string(kArnHeader), function_arn(function_)});
  resp.headers.push_back({std::string(kTraceHeader), offer.trace.value});
  co_return resp;
}

http::Response RuntimeApi::on_answer(const http::Request& req, const std::string& id, bool error) {
  const std::string verb = error ? "error" : "response";
  if (!state_.in_flight || state_.in_flight->value != id) {
    violation((state_.done.contains(id) ? "answered " + id + " again" : "answered an unknown request id " + id) + " (" +
              verb + ")");
    return error_response(400, "InvalidRequestID", "Invalid request ID");
  }
  Answer a;
  a.kind = verb;
  a.body = req.body;
  a.at = Clock::now();
  if (error) a.error_type = std::string(req.header(kErrorTypeHeader).value_or(""));
  state_.answer = std::move(a);
  state_.done.insert(id);
  state_.in_flight.reset();
  wake_.notify();
  return accepted();
}

http::Response RuntimeApi::on_init_error(const http::Request& req) {
  if (state_.first_next_at) {
    violation("posted init/error after it called next");
    return error_response(403, "InvalidStateTransition", "State transition from Ready to InitError failed");
  }
  state_.init_error = ErrorReport{"runtime", std::string(req.header(kErrorTypeHeader).value_or("")), req.body};
  log_.error("the runtime posted init/error " + state_.init_error->error_type +
             (req.body.empty() ? "" : ": " + req.body));
  wake_.notify();
  return accepted();
}

}  // namespace elk::emulator
