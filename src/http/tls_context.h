// The one TLS client set-up of every destination (the HTTP client and Logstash's tls://): TLS 1.2 or later,
// the CA certificates found by find_ca_certificates loaded (a file that is not PEM is an error, at init),
// peer verification on unless TlsOptions says otherwise.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/tls.h"

namespace elk::http {

struct TlsContext {
  boost::asio::ssl::context context;
  std::string ca_source;  // where the CA certificates came from, for messages ("" without verification)
};

// `name` names the destination in the error messages ("https://host:9200").
[[nodiscard]] Result<TlsContext> make_tls_client_context(const TlsOptions& options, const Getenv& getenv,
                                                         std::string_view name);

}  // namespace elk::http
