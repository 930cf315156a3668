// Client of the Lambda Runtime API (2018-06-01), for the process that is the function (`bootstrap`): the next
// invocation, its answer or error, and an init error.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/types.h"
#include "http/message.h"

namespace elk::forward {

inline constexpr std::string_view request_id_header = "Lambda-Runtime-Aws-Request-Id";
inline constexpr std::string_view deadline_header = "Lambda-Runtime-Deadline-Ms";
inline constexpr std::string_view function_arn_header = "Lambda-Runtime-Invoked-Function-Arn";
inline constexpr std::string_view trace_id_header = "Lambda-Runtime-Trace-Id";
inline constexpr std::string_view function_error_type_header = "Lambda-Runtime-Function-Error-Type";

// The largest event Lambda hands a function (a synchronous invocation's 6 MB), with room.
inline constexpr std::size_t max_event_bytes = 8uz * 1024 * 1024;

struct Invocation {
  std::string request_id;
  EpochMs deadline{0};  // 0: the header was missing (then the caller picks a bound)
  std::string function_arn;
  std::string trace_id;
  std::string event;  // the body
};

class RuntimeApi {
 public:
  explicit RuntimeApi(http::Endpoint api) : api_(std::move(api)) {}

  // Blocks until Lambda hands out the next invocation; no timeout (the process is frozen inside the call).
  boost::asio::awaitable<Result<Invocation>> next();
  boost::asio::awaitable<Status> respond(std::string_view request_id, std::string body);
  // {"errorMessage","errorType","stackTrace":[]} with the Lambda-Runtime-Function-Error-Type header.
  boost::asio::awaitable<Status> error(std::string_view request_id, std::string_view error_type,
                                       std::string_view message);
  boost::asio::awaitable<Status> init_error(std::string_view error_type, std::string_view message);

 private:
  boost::asio::awaitable<Status> post(std::string target, std::string body, std::string_view error_type);
  http::Endpoint api_;
};

}  // namespace elk::forward
