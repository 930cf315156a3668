#include "http/message.h"

#include <algorithm>
#include <charconv>

namespace elk::http {
namespace {

template <class Msg>
std::optional<std::string_view> find_header(const Msg& m, std::string_view name) {
  for (const auto& h : m.headers)
    if (iequals(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  return find_header(*this, name);
}
std::optional<std::string_view> Response::header(std::string_view name) const {
  return find_header(*this, name);
}

std::optional<std::chrono::seconds> retry_after(const Response& r) {
  const auto h = r.header("Retry-After");
  if (!h) return std::nullopt;
  long seconds = 0;
  const auto [p, ec] = std::from_chars(h->data(), h->data() + h->size(), seconds);
  if (ec != std::errc{} || seconds < 0) return std::nullopt;
  return std::chrono::seconds(std::min(seconds, 300L));
}

Response make_response(int status, std::string body, std::string_view content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", std::string(content_type)});
  return r;
}

Result<Endpoint> parse_endpoint(std::string_view s) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return fail("'" + std::string(s) + "' is not host:port");
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return fail("'" + std::string(s) + "' is not host:port");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535)
    return fail("'" + std::string(s) + "' is not host:port with a port from 1 to 65535");
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace elk::http
