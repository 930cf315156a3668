// Destination URLs: "http(s)://host[:port][/path]", as given in settings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace elk::http {

struct Url {
  std::string scheme;      // "http" or "https"
  std::string host;        // lower-case name, IPv4 address, or IPv6 address without brackets
  std::uint16_t port = 0;  // the URL's port, or the scheme's default (80, 443)
  std::string path;        // path prefix without a trailing '/': "" or "/es"; percent-encoding kept as given

  [[nodiscard]] bool tls() const { return scheme == "https"; }
  // The Host header: the host (IPv6 in brackets), plus ":port" only when not the scheme's default.
  [[nodiscard]] std::string host_header() const;
  // "https://host[:port]", without the path; names a destination in messages.
  [[nodiscard]] std::string origin() const;
};

// Parses "http(s)://host[:port][/path]"; the scheme is case-insensitive. Refuses other schemes, user
// information ("user:pass@"), queries, fragments, empty hosts and bad ports, naming the text (with any
// user information masked).
[[nodiscard]] Result<Url> parse_url(std::string_view text);

// `text` (a URL as given, perhaps without a scheme) for messages: any user information ("user:password@",
// up to the last '@' of the authority) replaced by "***". Every message that quotes a URL setting uses it.
[[nodiscard]] std::string without_userinfo(std::string_view text);

}  // namespace elk::http
