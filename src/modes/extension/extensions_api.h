// Client of the Lambda Extensions API (2020-01-01) and of the subscription endpoints beside it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"
#include "core/types.h"
#include "http/message.h"

namespace elk::extension {

inline constexpr std::string_view extension_name_header = "Lambda-Extension-Name";
inline constexpr std::string_view extension_id_header = "Lambda-Extension-Identifier";
inline constexpr std::string_view accept_feature_header = "Lambda-Extension-Accept-Feature";
inline constexpr std::string_view error_type_header = "Lambda-Extension-Function-Error-Type";

struct Registration {
  ExtensionId id;
  std::string function_name;
  std::string function_version;
  std::string account_id;  // "" unless the platform granted the accountId feature
};

struct LifecycleEvent {
  enum class Kind { invoke, shutdown };
  Kind kind;
  EpochMs deadline;
  RequestId request_id;              // invoke
  std::string invoked_function_arn;  // invoke
  std::string shutdown_reason;       // shutdown, as sent (compare case-insensitively)
};

// What a subscription PUT answered.
struct SubscribeAnswer {
  int status;
  std::string body;
};

class ExtensionsApi {
 public:
  explicit ExtensionsApi(http::Endpoint runtime_api) : api_(std::move(runtime_api)) {}

  boost::asio::awaitable<Result<Registration>> register_extension(std::string_view name);
  // Blocks until the next event; no timeout (the process may be frozen inside the call).
  boost::asio::awaitable<Result<LifecycleEvent>> next(const ExtensionId& id);
  boost::asio::awaitable<Status> init_error(const ExtensionId& id, std::string_view error_type,
                                            std::string_view message);
  boost::asio::awaitable<Result<SubscribeAnswer>> subscribe(const ExtensionId& id, std::string path, std::string body);

 private:
  boost::asio::awaitable<Status> report_error(const ExtensionId& id, std::string_view path, std::string_view error_type,
                                              std::string_view message);
  http::Endpoint api_;
};

// Parses an event/next body. A deadlineMs that is not an integer (a float, past the int64 range) is read as the
// nearest millisecond within ±2^53, never by an out-of-range cast.
[[nodiscard]] Result<LifecycleEvent> parse_lifecycle_event(std::string_view body);

}  // namespace elk::extension
