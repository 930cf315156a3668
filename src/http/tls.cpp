#include "http/tls.h"

#include <filesystem>
#include <system_error>

namespace elk::http {
namespace {

namespace fs = std::filesystem;

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);  // follows symlinks, as Debian's bundle is one
}

bool is_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::optional<std::string> non_empty(const Getenv& getenv, std::string_view name) {
  if (!getenv) return std::nullopt;
  auto v = getenv(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

}  // namespace

Result<CaCertificates> find_ca_certificates(std::string_view ca_file, const Getenv& getenv,
                                            std::span<const std::string_view> well_known) {
  CaCertificates out;
  if (!ca_file.empty()) {
    const std::string path(ca_file);
    if (!is_file(path)) return fail("the CA file '" + path + "' does not exist or is not a file");
    out.files.push_back(path);
    out.source = path;
    return out;
  }

  std::string tried;
  auto note = [&](const std::string& what) { tried += (tried.empty() ? "" : ", ") + what; };

  if (const auto file = non_empty(getenv, "SSL_CERT_FILE")) {
    if (is_file(*file)) {
      out.files.push_back(*file);
      out.source = "SSL_CERT_FILE=" + *file;
    } else {
      note("SSL_CERT_FILE=" + *file + " (not a file)");
    }
  } else {
    note("SSL_CERT_FILE (not set)");
  }
  if (const auto dirs = non_empty(getenv, "SSL_CERT_DIR")) {
    std::string_view rest = *dirs;
    std::vector<std::string> found;
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string dir(rest.substr(0, colon));
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      if (!dir.empty() && is_dir(dir)) found.push_back(dir);
    }
    if (!found.empty()) {
      out.dirs = std::move(found);
      out.source += (out.source.empty() ? "" : " and ") + ("SSL_CERT_DIR=" + *dirs);
    } else {
      note("SSL_CERT_DIR=" + *dirs + " (no such directory)");
    }
  } else {
    note("SSL_CERT_DIR (not set)");
  }
  if (!out.files.empty() || !out.dirs.empty()) return out;

  for (const auto candidate : well_known) {
    const std::string path(candidate);
    if (is_file(path)) {
      out.files.push_back(path);
      out.source = path;
      return out;
    }
    note(path);
  }
  return fail(
      "no CA certificates found: set SSL_CERT_FILE (or the CA file setting) to a PEM bundle, or SSL_CERT_DIR to a "
      "certificate directory; tried " +
      tried);
}

}  // namespace elk::http
