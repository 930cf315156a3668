// Plain HTTP/1.1 messages. No third-party types: Beast stays inside client.cpp and server.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace elk::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method = "GET";
  std::string target = "/";
  std::vector<Header> headers;
  std::string body;

  // The first value of a header, compared case-insensitively by name.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct Response {
  int status = 0;
  std::vector<Header> headers;
  std::string body;

  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

// A Retry-After of delay-seconds (at most 300 s); nullopt when absent, negative or an HTTP date (not read).
[[nodiscard]] std::optional<std::chrono::seconds> retry_after(const Response& response);

[[nodiscard]] Response make_response(int status, std::string body, std::string_view content_type = "application/json");

// "host:port" (a name or an IPv4 address; "[v6]:port" too).
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};
[[nodiscard]] Result<Endpoint> parse_endpoint(std::string_view host_port);

[[nodiscard]] bool iequals(std::string_view a, std::string_view b);

}  // namespace elk::http
