// Where the trusted CA certificates are. A static OpenSSL knows only the paths of the machine it was built on,
// not Amazon Linux's, so the client finds them itself. No OpenSSL types here: loading is client.cpp's job.
#pragma once

#include <array>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/getenv.h"
#include "core/result.h"

namespace elk::http {

// Reads an environment variable (std::getenv in production, a map in tests).

struct TlsOptions {
  bool verify = true;   // false: accept any certificate and host name (only when a setting asks for it)
  std::string ca_file;  // a PEM bundle to trust; "" = find the system's (find_ca_certificates)
};

struct CaCertificates {
  std::vector<std::string> files;  // PEM bundles
  std::vector<std::string> dirs;   // hashed certificate directories (OpenSSL's c_rehash layout)
  std::string source;              // where they were found, for messages: "SSL_CERT_FILE=/etc/x.pem"
};

// Amazon Linux (and RHEL), Debian/Ubuntu, Alpine/macOS.
inline constexpr std::array<std::string_view, 3> well_known_ca_files = {
    "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"};

// The CA certificates to verify servers with, in this order:
//  1. `ca_file` when not empty: it must be an existing file (an error otherwise: a setting names it);
//  2. SSL_CERT_FILE (a file) and SSL_CERT_DIR (directories separated by ':'), as OpenSSL reads them; both are
//     used when both are set; paths that do not exist are passed over;
//  3. the first existing file of `well_known` (a parameter for tests).
// Fails when none is found, saying what was tried and what to set.
[[nodiscard]] Result<CaCertificates> find_ca_certificates(
    std::string_view ca_file, const Getenv& getenv, std::span<const std::string_view> well_known = well_known_ca_files);

}  // namespace elk::http
