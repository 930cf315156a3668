// AWS Signature Version 4 (HMAC-SHA256) request signing, header form, for S3 and Amazon OpenSearch.
// Spec: PROTOCOLS.md §5; verified against AWS's aws-sig-v4-test-suite (tests/data/sigv4) and the S3
// worked examples (tests/data/sigv4-s3).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/message.h"

namespace elk::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // "" = none (long-term keys)
};

struct SigningParams {
  std::string region;   // "us-east-1"
  std::string service;  // "s3", "es" (OpenSearch domains), "aoss" (OpenSearch Serverless)
  std::chrono::system_clock::time_point time;
  // S3 rules: the path is not normalised and is encoded once (a target that is already percent-encoded is not
  // encoded again), and x-amz-content-sha256 is always sent and signed.
  bool s3 = false;
  // false: the payload is not hashed and "UNSIGNED-PAYLOAD" is signed instead (S3 only).
  bool sign_body = true;
};

struct Signed {
  std::string canonical_request;  // contains the session token, if any, but never the secret key
  std::string string_to_sign;
  std::string authorization;  // the Authorization header value
};

// Signs `request` in place. Sets x-amz-date; x-amz-security-token when the credentials have a session
// token; x-amz-content-sha256 for S3 (and service "aoss"); a Host header with `host` when the request has
// none (a Host header already on the request is signed as it is); and finally the Authorization header
// (an old Authorization header is replaced, so a retry may simply sign the same request again).
// Existing x-amz-date / x-amz-security-token / x-amz-content-sha256 headers are updated in place.
//
// Every header on the request is signed except user-agent, expect and x-amzn-trace-id (as botocore);
// headers the HTTP client adds later (Content-Length, User-Agent) are not signed. `host` must be what the
// client will send as Host: "name", or "name:port" for a non-default port.
//
// request.target is the target as sent on the wire: "/path?query", path and query percent-encoded (build
// S3 keys with uri_encode(key, false)). Fails, without touching the request, when the target or a header
// name is malformed, a parameter is missing, or UNSIGNED-PAYLOAD is asked for a service other than S3.
// Neither the result nor any error message ever contains the secret access key.
[[nodiscard]] Result<Signed> sign(http::Request& request, std::string_view host, const Credentials& credentials,
                                  const SigningParams& params);

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ are kept, every other byte becomes %XX
// (upper-case hex; a space is %20, never '+'); '/' is kept unless encode_slash.
[[nodiscard]] std::string uri_encode(std::string_view s, bool encode_slash);

// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

}  // namespace elk::aws
