// The subscription request: Telemetry API first, the Logs API where that is all there is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace elk::telemetry {

enum class Api { telemetry, logs };

// Lambda's defaults for a subscription's maxItems and maxBytes (Telemetry and Logs API).
inline constexpr std::int64_t kLambdaMaxItems = 10000;
inline constexpr std::int64_t kLambdaMaxBytes = 262144;

struct Buffering {
  std::int64_t max_items;
  std::int64_t max_bytes;
  std::int64_t timeout_ms;
};

struct SubscriptionRequest {
  std::string path;  // e.g. /2022-07-01/telemetry
  std::string body;  // JSON
};

// Lambda delivers to http://sandbox.localdomain:<port>/ (HTTP only).
[[nodiscard]] SubscriptionRequest subscription_request(Api api, const std::vector<std::string>& types,
                                                       const Buffering& buffering, std::uint16_t port);

// Telemetry API answers that mean "not here, use the Logs API".
[[nodiscard]] inline bool should_fall_back(int status) {
  return status == 404 || status == 400;
}

}  // namespace elk::telemetry
