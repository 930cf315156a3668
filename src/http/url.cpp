#include "http/url.h"

#include <charconv>

namespace elk::http {
namespace {

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

}  // namespace

std::string without_userinfo(std::string_view text) {
  const auto sep = text.find("://");
  const auto start = sep == std::string_view::npos ? 0 : sep + 3;
  const auto end = text.find_first_of("/?#", start);
  const auto authority = text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(text);
  return std::string(text.substr(0, start)) + "***" + std::string(text.substr(start + at));
}

std::string Url::host_header() const {
  std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const std::uint16_t default_port = tls() ? 443 : 80;
  if (port != default_port) out += ":" + std::to_string(port);
  return out;
}

std::string Url::origin() const {
  return scheme + "://" + host_header();
}

Result<Url> parse_url(std::string_view text) {
  const std::string display = without_userinfo(text);
  auto bad = [&](const std::string& why) { return fail("'" + display + "' is not a usable URL: " + why); };

  const auto sep = text.find("://");
  Url url;
  if (sep != std::string_view::npos) url.scheme = lowered(text.substr(0, sep));
  if (url.scheme != "http" && url.scheme != "https") return fail("'" + display + "' is not an http:// or https:// URL");
  for (const char c : text)
    if (static_cast<unsigned char>(c) <= ' ' || c == '\x7f') return bad("it contains a space or a control character");

  const std::string_view rest = text.substr(sep + 3);
  const auto authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos)
    return bad("user information ('user:password@') is not supported in the URL; give credentials in their settings");
  if (tail.find_first_of("?#") != std::string_view::npos)
    return bad("a query ('?') or fragment ('#') is not supported; give only scheme://host[:port][/path]");

  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("the IPv6 address has no closing ']'");
    host = authority.substr(1, close - 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("unexpected text after the IPv6 address");
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
    if (host.find(':') == std::string_view::npos) return bad("'[" + std::string(host) + "]' is not an IPv6 address");
    for (const char c : host)
      if (!is_ipv6_char(c)) return bad("'[" + std::string(host) + "]' is not an IPv6 address");
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
      if (port_text.find(':') != std::string_view::npos)
        return bad("an IPv6 address must be in brackets, as http://[::1]:8080");
    }
    for (const char c : host)
      if (!is_name_char(c)) return bad("'" + std::string(host) + "' is not a host name");
  }
  if (host.empty()) return bad("it has no host");
  url.host = lowered(host);

  url.port = url.tls() ? 443 : 80;
  if (has_port) {
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return bad("the port '" + std::string(port_text) + "' is not a number from 1 to 65535");
    url.port = static_cast<std::uint16_t>(value);
  }

  std::string_view path = tail;
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.path = std::string(path);
  return url;
}

}  // namespace elk::http
