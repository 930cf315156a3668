// The real elk-extension under the emulator, shipping to a real S3-compatible server (s3rver, from
// npm) behind a strict SigV4-verifying front (s3_proxy.py, botocore from Debian's awscli); everything
// is read back with Debian's awscli — a client independent of ours — and compared record for record.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <regex>
#include <set>

#include "fakes/elastic.h"
#include "harness.h"

namespace elk::itest {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string aws_cli = "/usr/bin/aws";  // Debian's awscli, not whatever else is on PATH
const std::string bucket = "test-bucket";

const std::map<std::string, std::string> s3rver_credentials = {{"AWS_ACCESS_KEY_ID", "S3RVER"},
                                                               {"AWS_SECRET_ACCESS_KEY", "S3RVER"},
                                                               {"AWS_REGION", "us-east-1"},
                                                               {"AWS_DEFAULT_REGION", "us-east-1"},
                                                               {"AWS_EC2_METADATA_DISABLED", "true"}};

// s3rver with the bucket, and the verifying proxy in front of it.
class S3Server {
 public:
  struct Tls {};
  // s3rver itself speaking HTTPS with a certificate for 127.0.0.1 made for the test (no proxy).
  explicit S3Server(Tls) : S3Server(std::vector<std::string>{}, true) {}

  explicit S3Server(std::vector<std::string> proxy_args = {}, bool tls = false) {
    static int n = 0;
    dir_ = fs::temp_directory_path() / ("elk-s3-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    const fs::path s3rver = fs::path(ELK_SOURCE_DIR) / "build/test-tools/node_modules/.bin/s3rver";
    if (!fs::exists(s3rver)) throw std::runtime_error(s3rver.string() + " is missing: run scripts/test-tools.sh");
    std::vector<std::string> server_args{
        s3rver.string(), "-d", (dir_ / "data").string(), "-a", "127.0.0.1", "-p", "0", "--configure-bucket", bucket};
    if (tls) {
      auto [rc, out] = run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                                    (dir_ / "key.pem").string(), "-out", cert().string()});
      if (rc != 0) throw std::runtime_error("openssl req failed: " + out);
      server_args.insert(server_args.end(), {"--key", (dir_ / "key.pem").string(), "--cert", cert().string()});
    }
    s3rver_.emplace(server_args, dir_ / "s3rver.txt");
    s3rver_port_ = s3rver_->wait_for_number_after("listening on 127.0.0.1:", 30);
    if (s3rver_port_ <= 0) throw std::runtime_error("s3rver did not start");
    tls_ = tls;
    if (tls) return;
    std::vector<std::string> args = {"/usr/bin/python3", std::string(ELK_SOURCE_DIR) + "/tests/integration/s3_proxy.py",
                                     "--upstream", "127.0.0.1:" + std::to_string(s3rver_port_)};
    args.insert(args.end(), proxy_args.begin(), proxy_args.end());
    proxy_.emplace(args, dir_ / "proxy.txt");
    proxy_port_ = proxy_->wait_for_number_after("listening on ", 30);
    if (proxy_port_ <= 0) throw std::runtime_error("the S3 proxy did not start");
  }
  ~S3Server() {
    proxy_.reset();
    s3rver_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string endpoint() const { return tls_ ? direct() : "http://127.0.0.1:" + std::to_string(proxy_port_); }
  std::string direct() const {
    return (tls_ ? "https://" : "http://") + std::string("127.0.0.1:") + std::to_string(s3rver_port_);
  }
  fs::path cert() const { return dir_ / "cert.pem"; }

  // Every key in the bucket, read with awscli.
  std::vector<std::string> keys() const {
    auto [rc, out] = run_command({aws_cli, "--endpoint-url", direct(), "--ca-bundle", cert().string(), "s3api",
                                  "list-objects-v2", "--bucket", bucket, "--output", "json"},
                                 s3rver_credentials);
    if (rc != 0) throw std::runtime_error("aws s3api list-objects-v2 failed: " + out);
    std::vector<std::string> keys;
    if (out.find('{') == std::string::npos) return keys;
    const auto v = json::parse(out.substr(out.find('{')));
    if (const auto* c = v.as_object().if_contains("Contents"))
      for (const auto& o : c->as_array()) keys.emplace_back(o.at("Key").as_string());
    return keys;
  }
  // Downloads the whole bucket with awscli into `into`.
  void download(const fs::path& into) const {
    auto [rc, out] = run_command({aws_cli, "--endpoint-url", direct(), "--ca-bundle", cert().string(), "s3", "cp",
                                  "--recursive", "--quiet", "s3://" + bucket, into.string()},
                                 s3rver_credentials);
    if (rc != 0) throw std::runtime_error("aws s3 cp failed: " + out);
  }
  std::string head(const std::string& key) const {
    return run_command({aws_cli, "--endpoint-url", direct(), "s3api", "head-object", "--bucket", bucket, "--key", key,
                        "--output", "json"},
                       s3rver_credentials)
        .second;
  }
  json::object stats() const {
    auto [rc, out] = run_command({"curl", "-s", endpoint() + "/__stats"});
    return json::parse(out).as_object();
  }

 private:
  fs::path dir_;
  std::optional<Process> s3rver_, proxy_;
  long s3rver_port_ = 0, proxy_port_ = 0;
  bool tls_ = false;
};

RunOptions s3_run(const S3Server& s3, int invocations, std::map<std::string, std::string> extra = {}) {
  RunOptions o;
  o.invocations = invocations;
  o.file_destination = false;
  o.env = s3rver_credentials;
  o.env["EXTENSION_LOG_DESTINATIONS"] = "s3";
  o.env["EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME"] = bucket;
  o.env["EXTENSION_LOG_DESTINATION_S3_ENDPOINT"] = s3.endpoint();
  for (auto& [k, v] : extra) o.env[k] = v;
  return o;
}

void read_back(const S3Server& s3, RunResult& r) {
  const auto into = r.dir / "s3";
  s3.download(into);
  collect_documents(r, into);
}

void expect_every_line_once(const RunResult& r, std::size_t expected) {
  const auto sent = r.sent_tokens();
  ASSERT_EQ(sent.size(), expected) << r.output;
  const auto arrived = r.arrived_tokens();
  for (const auto& t : sent) {
    const auto it = arrived.find(t);
    ASSERT_NE(it, arrived.end()) << "lost: " << t << "\n" << r.output;
    EXPECT_EQ(it->second, 1) << "doubled: " << t;
  }
  EXPECT_EQ(arrived.size(), sent.size());
}

int count(const RunResult& r, std::string_view action) {
  int n = 0;
  for (const auto& d : r.documents)
    if (const auto* e = d.if_contains("event")) n += e->at("action").as_string() == action;
  return n;
}

TEST(S3, ShipsFiftyInvocationsWithSeedKeysNoneLostNoneDoubled) {
  S3Server s3;
  auto r = run(s3_run(s3, 50));
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  EXPECT_EQ(r.extension().at("exitCode"), 0);
  const auto keys = s3.keys();
  ASSERT_FALSE(keys.empty());
  const std::regex seed(R"(demo-function-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z-[0-9a-f]{16}-\d+\.log)");
  for (const auto& k : keys) EXPECT_TRUE(std::regex_match(k, seed)) << k;
  read_back(s3, r);
  expect_every_line_once(r, 50 * 5);
  EXPECT_EQ(count(r, "platform.report"), 50);
  EXPECT_EQ(s3.stats().at("refused"), 0) << json::serialize(s3.stats());
}

TEST(S3, PartitionedGzipKeysAreAthenaReady) {
  S3Server s3;
  auto r = run(s3_run(s3, 10,
                      {{"EXTENSION_LOG_DESTINATION_S3_KEY_FORMAT", "partitioned"},
                       {"EXTENSION_LOG_DESTINATION_S3_OBJECT_NAME", "lambda-logs"}}));
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  const auto keys = s3.keys();
  ASSERT_FALSE(keys.empty());
  const std::regex partitioned(
      R"(lambda-logs/year=\d{4}/month=\d\d/day=\d\d/hour=\d\d/demo-function-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{16}-\d+\.ndjson\.gz)");
  for (const auto& k : keys) EXPECT_TRUE(std::regex_match(k, partitioned)) << k;
  EXPECT_NE(s3.head(keys.front()).find(R"("ContentEncoding": "gzip")"), std::string::npos) << s3.head(keys.front());
  read_back(s3, r);
  expect_every_line_once(r, 10 * 5);
}

TEST(S3, GzipWithSeedKeysAndRawRecords) {
  S3Server s3;
  auto r = run(s3_run(
      s3, 8, {{"EXTENSION_LOG_DESTINATION_S3_COMPRESSION", "gzip"}, {"EXTENSION_LOG_DESTINATION_S3_FORMAT", "raw"}}));
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  read_back(s3, r);
  expect_every_line_once(r, 8 * 5);
  // Raw: the telemetry records as Lambda sent them.
  for (const auto& d : r.documents) {
    EXPECT_TRUE(d.contains("time") && d.contains("type") && d.contains("record")) << json::serialize(d);
    EXPECT_FALSE(d.contains("event"));
  }
}

TEST(S3, AWrongSecretIsAPermanentFailureWithItsCodeAndAHint) {
  S3Server s3;
  auto r = run(s3_run(s3, 3, {{"AWS_SECRET_ACCESS_KEY", "not-the-secret"}}));
  EXPECT_EQ(r.extension().at("exitCode"), 0) << r.output;  // the function goes on
  EXPECT_TRUE(s3.keys().empty());
  EXPECT_EQ(s3.stats().at("last_refusal"), "SignatureDoesNotMatch");
  EXPECT_NE(r.output.find("403 SignatureDoesNotMatch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("credentials in AWS_ACCESS_KEY_ID"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("dropped (refused)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("not-the-secret"), std::string::npos) << "the secret was printed";
}

TEST(S3, AMissingBucketIsAPermanentFailureNamingTheSetting) {
  S3Server s3;
  auto r = run(s3_run(s3, 2, {{"EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME", "no-such-bucket"}}));
  EXPECT_EQ(r.extension().at("exitCode"), 0) << r.output;
  EXPECT_NE(r.output.find("NoSuchBucket"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("check EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME"), std::string::npos) << r.output;
}

TEST(S3, TwoAnswersOf503ThenSuccessLoseNothingAndDoubleNothing) {
  S3Server s3({"--fail-puts", "2", "--fail-status", "503"});
  auto r = run(s3_run(s3, 6));
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  EXPECT_EQ(s3.stats().at("failed_on_purpose"), 2);
  read_back(s3, r);
  expect_every_line_once(r, 6 * 5);
  // Retried within the same flush, after a jittered pause: nothing waited for the next one.
  EXPECT_NE(r.output.find("failed attempts 2"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("kept for the next flush"), std::string::npos) << r.output;
}

TEST(S3, WhatStillFailsAfterTheRetriesOfAFlushWaitsForTheNextOne) {
  S3Server s3({"--fail-puts", "4", "--fail-status", "503"});
  auto o = s3_run(s3, 6, {{"EXTENSION_LOG_RETRY_ATTEMPTS", "2"}});
  o.extra_args = {"--idle-ms", "1100"};  // rare invocations: a flush at the end of each
  auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  read_back(s3, r);
  expect_every_line_once(r, 6 * 5);
  EXPECT_NE(r.output.find("503 SlowDown"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("kept for the next flush"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("failed attempts 4"), std::string::npos) << r.output;
}

TEST(S3, ShipsOverHttpsVerifyingTheServersCertificate) {
  S3Server s3{S3Server::Tls{}};
  auto r = run(s3_run(s3, 5, {{"EXTENSION_LOG_DESTINATION_S3_CA_FILE", s3.cert().string()}}));
  EXPECT_EQ(r.emulator_exit, 0) << r.output;
  read_back(s3, r);
  expect_every_line_once(r, 5 * 5);
}

TEST(S3, RefusesAServerItCannotVerifyAndSaysWhy) {
  S3Server s3{S3Server::Tls{}};
  auto r = run(s3_run(s3, 2, {{"SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"}}));
  EXPECT_EQ(r.extension().at("exitCode"), 0) << r.output;
  EXPECT_TRUE(s3.keys().empty());
  EXPECT_NE(r.output.find("certificate"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("NOT delivered"), std::string::npos) << r.output;
}

TEST(S3, AMissingBucketSettingFailsInitNamingIt) {
  S3Server s3;
  auto o = s3_run(s3, 1);
  o.env.erase("EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME");
  auto r = run(o);
  EXPECT_EQ(r.emulator_exit, 2) << r.output;
  EXPECT_NE(json::serialize(r.report.at("initErrors")).find("EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME is required"),
            std::string::npos);
}

// The forwarder: an event retried by Lambda (Elasticsearch was down for its first attempt, S3 was not) puts the
// same objects again, under the same keys (hashes of the documents' CloudWatch ids): S3 holds every line once.
TEST(S3, TheForwardersRetriedEventOverwritesItsObjectsRatherThanDoublingThem) {
  S3Server s3;
  fakes::FakeElasticsearch es;
  es.fail_next_requests(3, fakes::HttpFault{503});
  auto env = s3rver_credentials;
  env["EXTENSION_LOG_DESTINATIONS"] = "s3,elasticsearch";
  env["EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME"] = bucket;
  env["EXTENSION_LOG_DESTINATION_S3_ENDPOINT"] = s3.endpoint();
  env["EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL"] = es.url();
  env["EXTENSION_LOG_RETRY_ATTEMPTS"] = "2";
  env["EXTENSION_LOG_RETRY_BASE_MS"] = "10";
  const auto f = run_forwarder({"--invocations", "4", "--lines", "5"}, env);
  ASSERT_EQ(f.exit, 0) << f.output;
  EXPECT_GE(f.answered("error"), 1u) << f.output;
  RunResult r;
  r.dir = f.dir;
  read_back(s3, r);
  const auto arrived = r.arrived_tokens();
  for (int i = 1; i <= 4; ++i)
    for (int j = 1; j <= 5; ++j) {
      const auto t = "inv=" + std::to_string(i) + " line=" + std::to_string(j);
      ASSERT_TRUE(arrived.contains(t)) << "lost " << t << "\n" << f.output;
      EXPECT_EQ(arrived.at(t), 1) << "doubled " << t;
    }
  EXPECT_EQ(s3.keys().size(), 4u);  // one object per payload, the retried one written twice in place
  EXPECT_TRUE(es.duplicates().empty());
}

}  // namespace
}  // namespace elk::itest
