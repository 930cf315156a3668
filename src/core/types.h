// Distinct types for lookalike values, so that a call site cannot pass them swapped.
#pragma once

#include <cstdint>
#include <string>

namespace elk {

// Lambda-Extension-Identifier, returned by register and sent on every later call.
struct ExtensionId {
  std::string value;
};

// AWS_LAMBDA_RUNTIME_API: "host:port" of the Extensions/Telemetry APIs.
struct RuntimeApiAddress {
  std::string value;
};

// A Lambda invocation's request id.
struct RequestId {
  std::string value;
  friend bool operator==(const RequestId&, const RequestId&) = default;
};

// Unix epoch milliseconds, as Lambda's deadlineMs.
struct EpochMs {
  std::int64_t value = 0;
  friend auto operator<=>(const EpochMs&, const EpochMs&) = default;
};

// 16 lower-case hex digits: the text form of an environment's origin id (pipeline::Document::origin).
inline std::string hex64(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<std::size_t>(i)] = digits[v & 0xf];
  return out;
}

}  // namespace elk
