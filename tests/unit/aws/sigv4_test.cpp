#include "aws/sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace elk::aws {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;

// The suites' parameters: tests/data/sigv4/README.md and tests/data/sigv4-s3/README.md.
const Credentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const Credentials kS3Credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

SigningParams suite_params() {
  return {"us-east-1", "service", sys_days{year{2015} / 8 / 30} + 12h + 36min, false, true};
}
SigningParams s3_params() {
  return {"us-east-1", "s3", sys_days{year{2013} / 5 / 24}, true, true};
}

fs::path data_dir() {
  return fs::path(ELK_TEST_DATA);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The session token AWS's suite uses: the last line of post-sts-token/readme.txt.
std::string suite_token() {
  std::string text = read_file(data_dir() / "sigv4" / "post-sts-token" / "readme.txt");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

// A raw suite request: "METHOD target HTTP/1.1", "Name:value" lines (a line starting with whitespace
// continues the previous value, kept as "\n" + line), then a blank line and the body. The target may contain
// spaces (normalize-path/get-space), so it ends at the last " HTTP/".
http::Request parse_req(std::string_view text) {
  http::Request r;
  std::size_t pos = text.find('\n');
  const std::string_view line = text.substr(0, pos);
  const std::size_t sp = line.find(' ');
  const std::size_t version = line.rfind(" HTTP/");
  r.method = std::string(line.substr(0, sp));
  r.target = std::string(line.substr(sp + 1, version - sp - 1));
  while (pos != std::string_view::npos) {
    const std::size_t start = pos + 1;
    pos = text.find('\n', start);
    const std::string_view l = text.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start);
    if (l.empty()) {
      if (pos != std::string_view::npos) r.body = std::string(text.substr(pos + 1));
      break;
    }
    if ((l.front() == ' ' || l.front() == '\t') && !r.headers.empty()) {
      r.headers.back().value.append("\n").append(l);
      continue;
    }
    const std::size_t colon = l.find(':');
    r.headers.push_back({std::string(l.substr(0, colon)), std::string(l.substr(colon + 1))});
  }
  return r;
}

// The suite's .sreq layout: the request as read, with "Authorization: <value>" as the last header.
std::string serialize_sreq(const http::Request& r) {
  std::string out = r.method + " " + r.target + " HTTP/1.1";
  for (const auto& h : r.headers)
    if (!http::iequals(h.name, "authorization")) out.append("\n").append(h.name).append(":").append(h.value);
  for (const auto& h : r.headers)
    if (http::iequals(h.name, "authorization")) out.append("\nAuthorization: ").append(h.value);
  if (!r.body.empty()) out.append("\n\n").append(r.body);
  return out;
}

struct SuiteCase {
  std::string name;  // test name: "sigv4_get_vanilla", "s3_put_object"
  fs::path dir;
  bool s3 = false;
};
void PrintTo(const SuiteCase& c, std::ostream* os) {
  *os << c.dir.generic_string();
}

std::vector<SuiteCase> find_cases() {
  std::vector<SuiteCase> cases;
  for (const auto& [subdir, prefix, s3] : {std::tuple{"sigv4", "sigv4", false}, std::tuple{"sigv4-s3", "s3", true}}) {
    const fs::path root = data_dir() / subdir;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!it->is_directory()) continue;
      const fs::path dir = it->path();
      if (!fs::exists(dir / (dir.filename().string() + ".req"))) continue;
      std::string name = std::string(prefix) + "_" + fs::relative(dir, root).generic_string();
      std::replace_if(
          name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
      cases.push_back({name, dir, s3});
    }
  }
  std::sort(cases.begin(), cases.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return cases;
}

std::string case_file(const SuiteCase& c, std::string_view ext) {
  return read_file(c.dir / (c.dir.filename().string() + std::string(ext)));
}

void expect_same_request(const http::Request& a, const http::Request& b) {
  EXPECT_EQ(a.method, b.method);
  EXPECT_EQ(a.target, b.target);
  EXPECT_EQ(a.body, b.body);
  ASSERT_EQ(a.headers.size(), b.headers.size());
  for (std::size_t i = 0; i < a.headers.size(); ++i) {
    EXPECT_EQ(a.headers[i].name, b.headers[i].name);
    EXPECT_EQ(a.headers[i].value, b.headers[i].value);
  }
}

std::string canonical_uri_of(const Signed& s) {
  const auto first = s.canonical_request.find('\n');
  return s.canonical_request.substr(first + 1, s.canonical_request.find('\n', first + 1) - first - 1);
}

// ---- one test per suite case ----

class SigV4Suite : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(SigV4Suite, MatchesCanonicalRequestStringToSignAuthorizationAndSignedRequest) {
  const SuiteCase& c = GetParam();
  http::Request request = parse_req(case_file(c, ".req"));
  Credentials credentials = c.s3 ? kS3Credentials : kSuiteCredentials;
  // post-sts-header-before carries the token and signs it; post-sts-header-after adds it after signing.
  const bool token_in_request = request.header("x-amz-security-token").has_value();
  if (token_in_request) credentials.session_token = suite_token();
  const std::string host = c.s3 ? "examplebucket.s3.amazonaws.com" : "example.amazonaws.com";

  auto result = sign(request, host, credentials, c.s3 ? s3_params() : suite_params());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->canonical_request, case_file(c, ".creq"));
  EXPECT_EQ(result->string_to_sign, case_file(c, ".sts"));
  EXPECT_EQ(result->authorization, case_file(c, ".authz"));

  if (c.dir.filename() == "post-sts-header-after") request.headers.push_back({"X-Amz-Security-Token", suite_token()});
  EXPECT_EQ(serialize_sreq(request), case_file(c, ".sreq"));
}

INSTANTIATE_TEST_SUITE_P(Aws, SigV4Suite, ::testing::ValuesIn(find_cases()),
                         [](const ::testing::TestParamInfo<SuiteCase>& info) { return info.param.name; });

TEST(SigV4SuiteData, AllCasesFound) {
  const auto cases = find_cases();
  EXPECT_EQ(std::count_if(cases.begin(), cases.end(), [](const auto& c) { return !c.s3; }), 31);
  EXPECT_EQ(std::count_if(cases.begin(), cases.end(), [](const auto& c) { return c.s3; }), 4);
}

// ---- behaviour ----

SuiteCase suite_case(std::string_view relative, bool s3 = false) {
  const fs::path dir = data_dir() / (s3 ? "sigv4-s3" : "sigv4") / relative;
  return {std::string(relative), dir, s3};
}

TEST(SigV4, SessionTokenIsAddedAndSigned) {
  // The request without the token header; the credentials carry it: the result must equal the suite's
  // post-sts-header-before (token signed).
  const auto before = suite_case("post-sts-token/post-sts-header-before");
  http::Request request = parse_req(case_file(suite_case("post-sts-token/post-sts-header-after"), ".req"));
  ASSERT_FALSE(request.header("x-amz-security-token"));
  Credentials credentials = kSuiteCredentials;
  credentials.session_token = suite_token();
  auto result = sign(request, "example.amazonaws.com", credentials, suite_params());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->canonical_request, case_file(before, ".creq"));
  EXPECT_EQ(result->authorization, case_file(before, ".authz"));
  ASSERT_TRUE(request.header("x-amz-security-token"));
  EXPECT_EQ(*request.header("x-amz-security-token"), credentials.session_token);
  EXPECT_NE(result->authorization.find("SignedHeaders=host;x-amz-date;x-amz-security-token,"), std::string::npos);
}

TEST(SigV4, NoSessionTokenNoTokenHeader) {
  http::Request request{"GET", "/", {}, ""};
  ASSERT_TRUE(sign(request, "example.amazonaws.com", kSuiteCredentials, suite_params()));
  EXPECT_FALSE(request.header("x-amz-security-token"));
}

TEST(SigV4, AddsHostDateAndAuthorizationWhenMissing) {
  const auto vanilla = suite_case("get-vanilla");
  http::Request request{"GET", "/", {}, ""};
  auto result = sign(request, "example.amazonaws.com", kSuiteCredentials, suite_params());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->canonical_request, case_file(vanilla, ".creq"));
  EXPECT_EQ(result->authorization, case_file(vanilla, ".authz"));
  EXPECT_EQ(request.header("host"), "example.amazonaws.com");
  EXPECT_EQ(request.header("x-amz-date"), "20150830T123600Z");
  EXPECT_EQ(request.header("authorization"), result->authorization);
}

TEST(SigV4, HostHeaderOnTheRequestWinsOverTheArgument) {
  http::Request request{"GET", "/", {{"Host", "example.amazonaws.com"}}, ""};
  auto result = sign(request, "other.example", kSuiteCredentials, suite_params());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->authorization, case_file(suite_case("get-vanilla"), ".authz"));
  EXPECT_EQ(std::count_if(request.headers.begin(), request.headers.end(),
                          [](const auto& h) { return http::iequals(h.name, "host"); }),
            1);
}

TEST(SigV4, HostWithPortIsSignedAsGiven) {
  http::Request request{"GET", "/", {}, ""};
  auto result = sign(request, "localhost:9200", kSuiteCredentials, suite_params());
  ASSERT_TRUE(result);
  EXPECT_NE(result->canonical_request.find("\nhost:localhost:9200\n"), std::string::npos);
}

TEST(SigV4, SigningAgainReplacesDateAndAuthorization) {
  http::Request request{"PUT", "/k", {}, "body"};
  SigningParams first = s3_params();
  first.time += 1h;
  ASSERT_TRUE(sign(request, "b.s3.amazonaws.com", kS3Credentials, first));
  auto again = sign(request, "b.s3.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(again);
  http::Request fresh{"PUT", "/k", {}, "body"};
  auto expected = sign(fresh, "b.s3.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(expected);
  EXPECT_EQ(again->authorization, expected->authorization);
  expect_same_request(request, fresh);
  for (std::string_view name : {"authorization", "x-amz-date", "x-amz-content-sha256", "host"})
    EXPECT_EQ(std::count_if(request.headers.begin(), request.headers.end(),
                            [&](const auto& h) { return http::iequals(h.name, name); }),
              1)
        << name;
}

TEST(SigV4, TimeIsTruncatedToSeconds) {
  http::Request request{"GET", "/", {}, ""};
  SigningParams params = suite_params();
  params.time += 999ms;
  auto result = sign(request, "example.amazonaws.com", kSuiteCredentials, params);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->authorization, case_file(suite_case("get-vanilla"), ".authz"));
}

TEST(SigV4, UserAgentExpectAndTraceIdAreNotSigned) {
  http::Request request{
      "GET", "/", {{"User-Agent", "elk/1"}, {"Expect", "100-continue"}, {"X-Amzn-Trace-Id", "Root=1-x"}}, ""};
  auto result = sign(request, "example.amazonaws.com", kSuiteCredentials, suite_params());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->authorization, case_file(suite_case("get-vanilla"), ".authz"));
  EXPECT_EQ(request.header("user-agent"), "elk/1");
}

TEST(SigV4, EmptyBodyHash) {
  EXPECT_EQ(sha256_hex(""), kEmptySha256);
  EXPECT_EQ(sha256_hex("Welcome to Amazon S3."), "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  http::Request request{"GET", "/test.txt", {}, ""};
  auto result = sign(request, "examplebucket.s3.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(result);
  EXPECT_EQ(request.header("x-amz-content-sha256"), kEmptySha256);
  EXPECT_TRUE(result->canonical_request.ends_with("\n" + std::string(kEmptySha256)));
}

TEST(SigV4, S3AlwaysSignsContentSha256) {
  // The S3 vectors without their x-amz-content-sha256 header: sign() adds it and the signature still matches.
  for (std::string_view name : {"get-object", "put-object", "get-bucket-lifecycle", "list-objects"}) {
    const auto c = suite_case(name, true);
    http::Request request = parse_req(case_file(c, ".req"));
    std::erase_if(request.headers, [](const auto& h) { return http::iequals(h.name, "x-amz-content-sha256"); });
    auto result = sign(request, "examplebucket.s3.amazonaws.com", kS3Credentials, s3_params());
    ASSERT_TRUE(result) << name;
    EXPECT_EQ(result->authorization, case_file(c, ".authz")) << name;
  }
  // Not for other services (except "aoss").
  http::Request request{"POST", "/_bulk", {}, "{}"};
  ASSERT_TRUE(sign(request, "d.us-east-1.es.amazonaws.com", kSuiteCredentials, {"us-east-1", "es", {}, false, true}));
  EXPECT_FALSE(request.header("x-amz-content-sha256"));
}

TEST(SigV4, OpenSearchServerlessSignsContentSha256) {
  http::Request request{"POST", "/_bulk", {}, "{}"};
  auto result =
      sign(request, "c.us-east-1.aoss.amazonaws.com", kSuiteCredentials, {"us-east-1", "aoss", {}, false, true});
  ASSERT_TRUE(result);
  EXPECT_EQ(request.header("x-amz-content-sha256"), sha256_hex("{}"));
  EXPECT_NE(result->authorization.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"), std::string::npos);
}

TEST(SigV4, S3UnsignedPayload) {
  http::Request request{"PUT", "/k", {}, "data"};
  SigningParams params = s3_params();
  params.sign_body = false;
  auto result = sign(request, "b.s3.amazonaws.com", kS3Credentials, params);
  ASSERT_TRUE(result);
  EXPECT_EQ(request.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  EXPECT_TRUE(result->canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
  EXPECT_NE(result->canonical_request.find("\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"), std::string::npos);
}

TEST(SigV4, UnsignedPayloadIsS3Only) {
  http::Request request{"POST", "/_bulk", {}, "{}"};
  const http::Request before = request;
  auto result = sign(request, "d.es.amazonaws.com", kSuiteCredentials, {"us-east-1", "es", {}, false, false});
  ASSERT_FALSE(result);
  expect_same_request(request, before);
}

TEST(SigV4, UriEncode) {
  EXPECT_EQ(uri_encode("test$file.text", false), "test%24file.text");
  EXPECT_EQ(uri_encode("a/b c", false), "a/b%20c");
  EXPECT_EQ(uri_encode("a/b c", true), "a%2Fb%20c");
  EXPECT_EQ(uri_encode("-._~AZaz09", true), "-._~AZaz09");
  EXPECT_EQ(uri_encode("+*=&%?#", true), "%2B%2A%3D%26%25%3F%23");
  EXPECT_EQ(uri_encode("\xE1\x88\xB4", true), "%E1%88%B4");
  EXPECT_EQ(uri_encode(std::string_view("\0\xff", 2), true), "%00%FF");
}

TEST(SigV4, S3KeyIsEncodedOnceAndNotNormalised) {
  const auto put = suite_case("put-object", true);
  // Already encoded (what goes on the wire): not encoded again, same signature as the raw key.
  http::Request request = parse_req(case_file(put, ".req"));
  request.target = "/" + uri_encode("test$file.text", false);
  EXPECT_EQ(request.target, "/test%24file.text");
  auto result = sign(request, "examplebucket.s3.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(result);
  EXPECT_EQ(result->canonical_request, case_file(put, ".creq"));
  EXPECT_EQ(result->authorization, case_file(put, ".authz"));

  const std::string key = "logs/2024/05/my fn$LATEST+1.ndjson.gz";
  http::Request put2{"PUT", "/" + uri_encode(key, false), {}, "x"};
  EXPECT_EQ(put2.target, "/logs/2024/05/my%20fn%24LATEST%2B1.ndjson.gz");
  auto r2 = sign(put2, "b.s3.us-east-1.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(r2);
  EXPECT_EQ(canonical_uri_of(*r2), "/logs/2024/05/my%20fn%24LATEST%2B1.ndjson.gz");

  // No normalisation for S3 (normalize-path/normalize-path.txt).
  http::Request odd{"GET", "/my-object//example//photo.user/./..", {}, ""};
  auto r3 = sign(odd, "b.s3.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(r3);
  EXPECT_EQ(canonical_uri_of(*r3), "/my-object//example//photo.user/./..");
}

TEST(SigV4, NonS3PathIsNormalisedAndEncodedTwice) {
  http::Request request{"GET", "/a%20b//c/./d/../e", {}, ""};
  auto result = sign(request, "example.amazonaws.com", kSuiteCredentials, suite_params());
  ASSERT_TRUE(result);
  EXPECT_EQ(canonical_uri_of(*result), "/a%2520b/c/e");
  EXPECT_EQ(request.target, "/a%20b//c/./d/../e");  // the target itself is left as it is
}

TEST(SigV4, ValueLessQueryKeyAndEncodedQuery) {
  http::Request request{"GET", "/?uploads&prefix=a%2Fb&max-keys=2&&b=x y", {}, ""};
  auto result = sign(request, "b.s3.amazonaws.com", kS3Credentials, s3_params());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_NE(result->canonical_request.find("\nb=x%20y&max-keys=2&prefix=a%2Fb&uploads=\n"), std::string::npos)
      << result->canonical_request;
}

TEST(SigV4, MalformedInputFailsAndLeavesTheRequestUntouched) {
  struct Bad {
    http::Request request;
    SigningParams params;
    Credentials credentials;
  };
  SigningParams no_region = s3_params();
  no_region.region = "";
  SigningParams slash_service = suite_params();
  slash_service.service = "a/b";
  Credentials no_secret = kS3Credentials;
  no_secret.secret_access_key = "";
  Credentials newline_token = kS3Credentials;
  newline_token.session_token = "abc\r\nX-Evil: 1";
  const std::vector<Bad> bad = {
      {{"GET", "/bad%zzescape", {}, ""}, s3_params(), kS3Credentials},
      {{"GET", "/ok?x=%4", {}, ""}, s3_params(), kS3Credentials},
      {{"GET", "no-slash", {}, ""}, s3_params(), kS3Credentials},
      {{"GET", "", {}, ""}, s3_params(), kS3Credentials},
      {{"GET", "/a#frag", {}, ""}, s3_params(), kS3Credentials},
      {{"GET", "/", {{"Bad Name", "v"}}, ""}, s3_params(), kS3Credentials},
      {{"GET", "/", {{"", "v"}}, ""}, s3_params(), kS3Credentials},
      {{"GET", "/", {}, ""}, no_region, kS3Credentials},
      {{"GET", "/", {}, ""}, slash_service, kS3Credentials},
      {{"GET", "/", {}, ""}, s3_params(), no_secret},
      {{"GET", "/", {}, ""}, s3_params(), newline_token},
  };
  for (const auto& b : bad) {
    http::Request request = b.request;
    auto result = sign(request, "b.s3.amazonaws.com", b.credentials, b.params);
    ASSERT_FALSE(result) << b.request.target;
    EXPECT_FALSE(result.error().message.empty());
    EXPECT_EQ(result.error().message.find(kS3Credentials.secret_access_key), std::string::npos);
    expect_same_request(request, b.request);
  }
  http::Request no_host{"GET", "/", {}, ""};
  EXPECT_FALSE(sign(no_host, "", kS3Credentials, s3_params()));
  EXPECT_TRUE(no_host.headers.empty());
}

bool contains_secret(std::string_view text, std::string_view secret) {
  // The secret itself, and its "AWS4"-prefixed key form.
  return text.find(secret) != std::string_view::npos || text.find(secret.substr(0, 8)) != std::string_view::npos;
}

TEST(SigV4, SecretNeverAppearsInAnyOutput) {
  for (const auto& c : find_cases()) {
    http::Request request = parse_req(case_file(c, ".req"));
    Credentials credentials = c.s3 ? kS3Credentials : kSuiteCredentials;
    credentials.session_token = "token";
    auto result = sign(request, "h", credentials, c.s3 ? s3_params() : suite_params());
    ASSERT_TRUE(result) << c.name;
    const std::string& secret = credentials.secret_access_key;
    EXPECT_FALSE(contains_secret(result->canonical_request, secret)) << c.name;
    EXPECT_FALSE(contains_secret(result->string_to_sign, secret)) << c.name;
    EXPECT_FALSE(contains_secret(result->authorization, secret)) << c.name;
    for (const auto& h : request.headers) EXPECT_FALSE(contains_secret(h.value, secret)) << c.name << " " << h.name;
    EXPECT_FALSE(contains_secret(serialize_sreq(request), secret)) << c.name;
  }
  // Error paths too, with the secret-looking value placed where errors quote input.
  http::Request request{"GET", "/%zz", {}, ""};
  auto error = sign(request, "h", kS3Credentials, s3_params());
  ASSERT_FALSE(error);
  EXPECT_FALSE(contains_secret(error.error().message, kS3Credentials.secret_access_key));
}

}  // namespace
}  // namespace elk::aws
