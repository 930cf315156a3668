#include "aws/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

namespace elk::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

using Digest = std::array<unsigned char, 32>;

std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0f];
  }
  return out;
}

Digest hmac_sha256(const unsigned char* key, std::size_t key_len, std::string_view data) {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_len), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       out.data(), &len);
  return out;
}

Digest hmac_sha256(const Digest& key, std::string_view data) {
  return hmac_sha256(key.data(), key.size(), data);
}

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"); the secret and the
// intermediate keys are wiped before returning.
Digest signing_key(std::string_view secret, std::string_view date, std::string_view region, std::string_view service) {
  std::string k_secret;
  k_secret.reserve(4 + secret.size());
  k_secret.append("AWS4").append(secret);
  Digest k_date = hmac_sha256(reinterpret_cast<const unsigned char*>(k_secret.data()), k_secret.size(), date);
  OPENSSL_cleanse(k_secret.data(), k_secret.size());
  Digest k_region = hmac_sha256(k_date, region);
  Digest k_service = hmac_sha256(k_region, service);
  Digest k_signing = hmac_sha256(k_service, "aws4_request");
  OPENSSL_cleanse(k_date.data(), k_date.size());
  OPENSSL_cleanse(k_region.data(), k_region.size());
  OPENSSL_cleanse(k_service.data(), k_service.size());
  return k_signing;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding ('+' stays '+': SigV4 targets are not form-encoded). nullopt on a malformed escape.
std::optional<std::string> uri_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

char to_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), to_lower);
  return out;
}

// RFC 9110 token characters.
bool is_header_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(ch) != std::string_view::npos;
  });
}

// Text that may go into the credential scope or the Credential= field: no separators or whitespace.
bool is_scope_part(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f && ch != '/' && ch != ',' && ch != '=';
  });
}

// Non-S3 path normalisation, as botocore's remove_dot_segments: "." and ".." segments are resolved, empty
// segments ("//") dropped, the leading and a trailing '/' kept.
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!segment.empty() && segment != ".") {
      out.push_back(segment);
    }
    start = end + 1;
  }
  std::string result = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result += '/';
    result += out[i];
  }
  if (path.back() == '/' && !out.empty()) result += '/';
  return result;
}

Result<std::string> canonical_uri(std::string_view path, bool s3) {
  if (!s3) return uri_encode(normalize_path(path), false);
  // S3: the key exactly as given, encoded once. Decoding first makes a target that the caller already encoded
  // (what goes on the wire) and one with raw characters sign the same.
  auto decoded = uri_decode(path);
  if (!decoded) return fail("request path '" + std::string(path) + "' has a malformed percent-escape");
  return uri_encode(*decoded, false);
}

Result<std::string> canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    auto dname = uri_decode(name);
    auto dvalue = uri_decode(value);
    if (!dname || !dvalue) return fail("query parameter '" + std::string(name) + "' has a malformed percent-escape");
    params.emplace_back(uri_encode(*dname, true), uri_encode(*dvalue, true));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out.append(name).append("=").append(value);
  }
  return out;
}

// Trims a header value and collapses runs of spaces/tabs to one space. A value folded over several lines
// (obsolete line folding) becomes its lines joined with ',', as the suite's get-header-value-multiline.
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool first_line = true;
  std::size_t start = 0;
  while (start <= value.size()) {
    std::size_t end = value.find('\n', start);
    if (end == std::string_view::npos) end = value.size();
    std::string_view line = value.substr(start, end - start);
    start = end + 1;
    std::string collapsed;
    bool pending_space = false;
    for (char c : line) {
      if (c == ' ' || c == '\t' || c == '\r') {
        pending_space = !collapsed.empty();
        continue;
      }
      if (pending_space) collapsed += ' ';
      pending_space = false;
      collapsed += c;
    }
    if (collapsed.empty() && !first_line) continue;
    if (!first_line) out += ',';
    out += collapsed;
    first_line = false;
  }
  return out;
}

bool is_unsigned_header(std::string_view lower_name) {
  return lower_name == "authorization" || lower_name == "user-agent" || lower_name == "expect" ||
         lower_name == "x-amzn-trace-id";
}

// Sets the first header called `name` (any case) to `value` and removes any others; appends it when absent.
void set_header(http::Request& request, std::string_view name, std::string value) {
  auto& headers = request.headers;
  const auto named = [name](const http::Header& h) { return http::iequals(h.name, name); };
  const auto first = std::find_if(headers.begin(), headers.end(), named);
  if (first == headers.end()) {
    headers.push_back({std::string(name), std::move(value)});
    return;
  }
  first->value = std::move(value);
  headers.erase(std::remove_if(first + 1, headers.end(), named), headers.end());
}

void remove_header(http::Request& request, std::string_view name) {
  std::erase_if(request.headers, [&](const http::Header& h) { return http::iequals(h.name, name); });
}

struct Timestamp {
  std::string amz_date;  // 20150830T123600Z
  std::string date;      // 20150830
};

Result<Timestamp> format_time(std::chrono::system_clock::time_point tp) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(tp);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss hms{secs - day};
  const int y = static_cast<int>(ymd.year());
  if (y < 1 || y > 9999) return fail("the signing time is outside the years 1 to 9999");
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d%02u%02uT%02d%02d%02dZ", y, static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
  Timestamp t{buf, std::string(buf, 8)};
  return t;
}

}  // namespace

std::string uri_encode(std::string_view s, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || (c == '/' && !encode_slash)) {
      out += ch;
    } else {
      out += '%';
      out += kDigits[c >> 4];
      out += kDigits[c & 0x0f];
    }
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Digest md{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr);
  return to_hex(md.data(), md.size());
}

Result<Signed> sign(http::Request& request, std::string_view host, const Credentials& credentials,
                    const SigningParams& params) {
  // Everything that can fail is checked before the request is touched.
  if (!is_scope_part(credentials.access_key_id))
    return fail("cannot sign: the access key id is empty or has whitespace, '/', ',' or '='");
  if (credentials.secret_access_key.empty()) return fail("cannot sign: the secret access key is empty");
  if (!is_scope_part(params.region)) return fail("cannot sign: region '" + params.region + "' is not valid");
  if (!is_scope_part(params.service)) return fail("cannot sign: service '" + params.service + "' is not valid");
  if (!params.sign_body && !params.s3)
    return fail("cannot sign: UNSIGNED-PAYLOAD is only accepted by S3, not by service '" + params.service + "'");
  if (credentials.session_token.find_first_of("\r\n") != std::string::npos)
    return fail("cannot sign: the session token has a line break");
  auto time = format_time(params.time);
  if (!time) return std::unexpected(time.error());

  const std::string_view target = request.target;
  if (target.empty() || target.front() != '/')
    return fail("cannot sign: request target '" + std::string(target) + "' does not start with '/'");
  if (target.find('#') != std::string_view::npos)
    return fail("cannot sign: request target '" + std::string(target) + "' has a fragment");
  const std::size_t qmark = target.find('?');
  auto uri = canonical_uri(target.substr(0, qmark), params.s3);
  if (!uri) return fail("cannot sign: " + uri.error().message);
  auto query = canonical_query(qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1));
  if (!query) return fail("cannot sign: " + query.error().message);

  for (const auto& h : request.headers)
    if (!is_header_name(h.name)) return fail("cannot sign: header name '" + h.name + "' is not a valid token");
  const bool has_host = request.header("host").has_value();
  if (!has_host && host.empty()) return fail("cannot sign: no host given and the request has no Host header");

  // Add the headers SigV4 needs.
  remove_header(request, "authorization");
  if (!has_host) request.headers.push_back({"Host", std::string(host)});
  set_header(request, "X-Amz-Date", time->amz_date);
  if (!credentials.session_token.empty()) set_header(request, "X-Amz-Security-Token", credentials.session_token);
  const std::string payload_hash = params.sign_body ? sha256_hex(request.body) : std::string(kUnsignedPayload);
  if (params.s3 || params.service == "aoss") set_header(request, "X-Amz-Content-Sha256", payload_hash);

  // Canonical headers: lower-case names, sorted (stable, so repeats keep their order), repeats joined by ','.
  std::vector<std::pair<std::string, std::string>> headers;
  headers.reserve(request.headers.size());
  for (const auto& h : request.headers) {
    std::string name = lower(h.name);
    if (is_unsigned_header(name)) continue;
    headers.emplace_back(std::move(name), canonical_header_value(h.value));
  }
  std::stable_sort(headers.begin(), headers.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canonical_headers;
  std::string signed_headers;
  for (std::size_t i = 0; i < headers.size(); ++i) {
    if (i > 0 && headers[i].first == headers[i - 1].first) {
      canonical_headers.pop_back();  // the '\n' of the previous line
      canonical_headers.append(",").append(headers[i].second).append("\n");
      continue;
    }
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += headers[i].first;
    canonical_headers.append(headers[i].first).append(":").append(headers[i].second).append("\n");
  }

  Signed out;
  std::string method = request.method;
  std::transform(method.begin(), method.end(), method.begin(),
                 [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
  out.canonical_request =
      method + "\n" + *uri + "\n" + *query + "\n" + canonical_headers + "\n" + signed_headers + "\n" + payload_hash;

  const std::string scope = time->date + "/" + params.region + "/" + params.service + "/aws4_request";
  out.string_to_sign =
      std::string(kAlgorithm) + "\n" + time->amz_date + "\n" + scope + "\n" + sha256_hex(out.canonical_request);

  Digest key = signing_key(credentials.secret_access_key, time->date, params.region, params.service);
  const Digest signature = hmac_sha256(key, out.string_to_sign);
  OPENSSL_cleanse(key.data(), key.size());

  out.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" + scope +
                      ", SignedHeaders=" + signed_headers + ", Signature=" + to_hex(signature.data(), signature.size());
  request.headers.push_back({"Authorization", out.authorization});
  return out;
}

}  // namespace elk::aws
