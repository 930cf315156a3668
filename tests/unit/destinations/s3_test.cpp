#include "destinations/s3.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <set>

#include "../test_util.h"
#include "core/gzip.h"
#include "http/server.h"

namespace elk::destinations {
namespace {

namespace asio = boost::asio;

TEST(S3Keys, SeedKeysArePrefixTimeAndAUniqueSuffix) {
  s3::KeyParts p{"my-fn", "my-fn", false, false, false};
  EXPECT_EQ(s3::object_key(p, EpochMs{1714644930520}, "0123456789abcdef-7"),
            "my-fn-2024-05-02T10:15:30.520Z-0123456789abcdef-7.log");
}

TEST(S3Keys, PartitionedKeysAreHivePartitionsByHour) {
  s3::KeyParts p{"logs/prod", "my-fn", true, true, false};
  EXPECT_EQ(s3::object_key(p, EpochMs{1714644930520}, "e-1"),
            "logs/prod/year=2024/month=05/day=02/hour=10/my-fn-20240502T101530.520Z-e-1.ndjson.gz");
  p.gzip = false;
  EXPECT_TRUE(s3::object_key(p, EpochMs{1714644930520}, "e-1").ends_with(".ndjson"));
}

TEST(S3Errors, ReadsCodeAndMessageFromTheXmlBody) {
  const auto e = s3::parse_error(
      R"(<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>b</BucketName></Error>)");
  EXPECT_EQ(e.code, "NoSuchBucket");
  EXPECT_EQ(e.message, "The specified bucket does not exist");
  EXPECT_EQ(s3::parse_error("<html>bad gateway</html>").code, "");
}

TEST(Gzip, IsAValidGzipStream) {
  const std::string text(100000, 'a');
  const auto z = gzip(text);
  ASSERT_GT(z.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(z[1]), 0x8b);
  std::string out(text.size(), '\0');
  z_stream s{};
  inflateInit2(&s, 15 + 16);
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  s.avail_in = static_cast<uInt>(z.size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&s, Z_FINISH), Z_STREAM_END);
  inflateEnd(&s);
  EXPECT_EQ(out, text);
}

// The destination against a scripted S3: what it sends, and how it classifies what it hears.
struct S3DestinationTest : ::testing::Test {
  asio::io_context io;
  std::vector<http::Request> seen;
  std::function<http::Response(const http::Request&)> answer = [](const http::Request&) {
    return http::make_response(200, "");
  };
  std::unique_ptr<http::Server> server;
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"},
                                         {"AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
                                         {"AWS_SESSION_TOKEN", "token"},
                                         {"AWS_REGION", "eu-west-1"}};
  config::Config cfg;
  pipeline::FunctionContext function{"my-fn", "$LATEST", "eu-west-1", ""};
  Logger log{nullptr};

  void SetUp() override {
    auto s = http::Server::start(io, {}, [this](http::Request r) -> asio::awaitable<http::Response> {
      seen.push_back(r);
      co_return answer(r);
    });
    ASSERT_TRUE(s);
    server = std::move(*s);
    for (const auto& row : s3_destination().settings) cfg.set(row.name, std::string(row.default_value));
    cfg.set("EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME", "my-bucket");
    cfg.set("EXTENSION_LOG_DESTINATION_S3_ENDPOINT", "http://127.0.0.1:" + std::to_string(server->port()));
  }
  std::unique_ptr<Destination> make(bool dead_letter = false) {
    auto getenv = [this](std::string_view n) -> std::optional<std::string> {
      auto it = env.find(std::string(n));
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto d = s3_destination().make(Context{cfg, function, log, io.get_executor(), getenv, dead_letter});
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d ? std::move(*d) : nullptr;
  }
  static buffer::Batch batch(std::size_t n, std::size_t size = 100) {
    buffer::Batch b;
    for (std::size_t i = 0; i < n; ++i) {
      b.documents.push_back({std::string(size, static_cast<char>('a' + i % 26)), EpochMs{0}, "{}",
                             static_cast<std::uint64_t>(i + 1), 0x1234});
      b.bytes += size;
    }
    return b;
  }
  SendResult send(Destination& d, const buffer::Batch& b) {
    return test::run_sync(io, d.send(b, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  }
};

// It used to be blamed on AWS_ENDPOINT_URL, which was never set.
TEST_F(S3DestinationTest, ABadRegionIsBlamedOnTheRegion) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_ENDPOINT", "");
  for (const char* region : {"eu west 1", "EU-WEST-1", "eu-west-1/", "-eu"}) {
    env["AWS_REGION"] = region;
    auto getenv = [this](std::string_view n) -> std::optional<std::string> {
      auto it = env.find(std::string(n));
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto d = s3_destination().make(Context{cfg, function, log, io.get_executor(), getenv});
    ASSERT_FALSE(d) << region;
    EXPECT_NE(d.error().message.find("AWS_REGION='" + std::string(region) + "' is not an AWS region name"),
              std::string::npos)
        << d.error().message;
    EXPECT_EQ(d.error().message.find("AWS_ENDPOINT_URL"), std::string::npos) << d.error().message;
  }
  env["AWS_REGION"] = "us-gov-west-1";
  EXPECT_TRUE(make());
}

TEST_F(S3DestinationTest, PutsOneSignedObjectPathStyleOnACustomEndpoint) {
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(send(*d, batch(3)).kind, SendResult::Kind::ok);
  ASSERT_EQ(seen.size(), 1u);
  const auto& r = seen[0];
  EXPECT_EQ(r.method, "PUT");
  EXPECT_TRUE(r.target.starts_with("/my-bucket/my-fn-")) << r.target;
  EXPECT_TRUE(r.target.find("%3A") != std::string::npos) << "colons in the key are encoded: " << r.target;
  EXPECT_TRUE(r.header("Authorization")->starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"))
      << *r.header("Authorization");
  EXPECT_NE(r.header("Authorization")->find("/eu-west-1/s3/aws4_request"), std::string::npos);
  EXPECT_EQ(r.header("x-amz-security-token"), "token");
  EXPECT_EQ(r.header("x-amz-content-sha256")->size(), 64u);
  EXPECT_EQ(r.body, std::string(100, 'a') + "\n" + std::string(100, 'b') + "\n" + std::string(100, 'c') + "\n");
}

// EXTENSION_LOG_DESTINATIONS=s3,elasticsearch with Elasticsearch's dead letter to s3: both instances write to
// one bucket and prefix. The rejects' object starts with a document of the regular object and used to get its
// very key, replacing it with the rejects alone.
TEST_F(S3DestinationTest, ADeadLetterInstanceNeverReplacesARegularObject) {
  auto regular = make();
  auto rejects = make(true);
  ASSERT_TRUE(regular && rejects);
  auto b = batch(3);
  EXPECT_EQ(send(*regular, b).kind, SendResult::Kind::ok);
  b.documents.resize(1);
  EXPECT_EQ(send(*rejects, b).kind, SendResult::Kind::ok);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0].target, seen[1].target);
  EXPECT_TRUE(seen[1].target.ends_with("-rejected.log")) << seen[1].target;
}

// `flat` is the default's name now; `seed`, its former name, gives the same keys.
TEST_F(S3DestinationTest, TheSeedKeyFormatIsTheFlatOneUnderItsFormerName) {
  std::vector<std::string> targets;
  for (const char* format : {"flat", "seed"}) {
    cfg.set("EXTENSION_LOG_DESTINATION_S3_KEY_FORMAT", format);
    auto d = make();
    ASSERT_TRUE(d) << format;
    EXPECT_EQ(send(*d, batch(2)).kind, SendResult::Kind::ok);
    ASSERT_FALSE(seen.empty());
    targets.push_back(seen.back().target);
  }
  EXPECT_EQ(targets[0], targets[1]);
  EXPECT_TRUE(targets[0].ends_with(".log")) << targets[0];
}

// What the README says: a partitioned key follows the object's first record's time, not the flush's.
TEST_F(S3DestinationTest, APartitionedKeyFollowsTheFirstRecordsTime) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_KEY_FORMAT", "partitioned");
  auto d = make();
  ASSERT_TRUE(d);
  auto b = batch(2);
  b.documents[0].timestamp = EpochMs{1714644930520};  // 2024-05-02T10:15:30.520Z
  b.documents[1].timestamp = EpochMs{1714648530520};  // an hour later
  EXPECT_EQ(send(*d, b).kind, SendResult::Kind::ok);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_NE(seen[0].target.find("/year%3D2024/month%3D05/day%3D02/hour%3D10/my-fn-20240502T101530.520Z-"),
            std::string::npos)
      << seen[0].target;
}

TEST_F(S3DestinationTest, SetsEncryptionStorageClassAndGzip) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_SSE", "aws:kms");
  cfg.set("EXTENSION_LOG_DESTINATION_S3_SSE_KMS_KEY_ID", "alias/logs");
  cfg.set("EXTENSION_LOG_DESTINATION_S3_STORAGE_CLASS", "STANDARD_IA");
  cfg.set("EXTENSION_LOG_DESTINATION_S3_COMPRESSION", "gzip");
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(send(*d, batch(2)).kind, SendResult::Kind::ok);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("x-amz-server-side-encryption"), "aws:kms");
  EXPECT_EQ(seen[0].header("x-amz-server-side-encryption-aws-kms-key-id"), "alias/logs");
  EXPECT_EQ(seen[0].header("x-amz-storage-class"), "STANDARD_IA");
  EXPECT_EQ(seen[0].header("Content-Encoding"), "gzip");
  EXPECT_EQ(static_cast<unsigned char>(seen[0].body[0]), 0x1f);
}

TEST_F(S3DestinationTest, RawFormatShipsTheRecordsAsReceived) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_FORMAT", "raw");
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->needs_raw());
  EXPECT_EQ(send(*d, batch(2)).kind, SendResult::Kind::ok);
  EXPECT_EQ(seen[0].body, "{}\n{}\n");
}

TEST_F(S3DestinationTest, SplitsAFlushLargerThanTheObjectBound) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_MAX_OBJECT_BYTES", "65536");
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->max_batch_bytes(), 65536u);
  EXPECT_EQ(send(*d, batch(10, 20000)).kind, SendResult::Kind::ok);
  ASSERT_EQ(seen.size(), 4u);  // 3 documents of 20001 bytes per object
  std::set<std::string> keys;
  for (const auto& r : seen) {
    EXPECT_LE(r.body.size(), 65536u);
    keys.insert(r.target);
  }
  EXPECT_EQ(keys.size(), 4u) << "every object has its own key";
  // Named after its first document, so that a retry or a replay by another process writes the same objects.
  const auto first_targets = [&] {
    std::vector<std::string> t;
    for (const auto& r : seen) t.push_back(r.target);
    return t;
  };
  const auto before = first_targets();
  seen.clear();
  EXPECT_EQ(send(*d, batch(10, 20000)).kind, SendResult::Kind::ok);
  EXPECT_EQ(first_targets(), before);
  EXPECT_NE(before[0].find(batch_unique(batch(1, 1).documents[0], batch(1, 1).documents[0], false)), std::string::npos)
      << before[0];
}

TEST_F(S3DestinationTest, AFailureAfterTheFirstObjectIsPartial) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_MAX_OBJECT_BYTES", "65536");
  int n = 0;
  answer = [&](const http::Request&) { return http::make_response(++n == 2 ? 503 : 200, ""); };
  auto d = make();
  ASSERT_TRUE(d);
  const auto r = send(*d, batch(10, 20000));
  EXPECT_EQ(r.kind, SendResult::Kind::partial);
  EXPECT_EQ(r.failed, (std::vector<std::size_t>{3, 4, 5, 6, 7, 8, 9}));
}

struct Classification {
  int status;
  std::string code;
  SendResult::Kind kind;
  std::string hint;
};

class S3Answers : public S3DestinationTest, public ::testing::WithParamInterface<Classification> {};

TEST_P(S3Answers, AreClassifiedWithTheirCodeAndAHint) {
  const auto c = GetParam();
  answer = [&](const http::Request&) {
    auto r = http::make_response(c.status, "<Error><Code>" + c.code + "</Code><Message>m</Message></Error>",
                                 "application/xml");
    if (c.status == 503) r.headers.push_back({"Retry-After", "2"});
    return r;
  };
  auto d = make();
  ASSERT_TRUE(d);
  const auto r = send(*d, batch(1));
  EXPECT_EQ(r.kind, c.kind) << r.message;
  EXPECT_NE(r.message.find(std::to_string(c.status) + " " + c.code), std::string::npos) << r.message;
  EXPECT_NE(r.message.find(c.hint), std::string::npos) << r.message;
  if (c.status == 503) {
    EXPECT_EQ(r.retry_after, std::chrono::seconds(2));
  }
  EXPECT_EQ(r.message.find("wJalrXUtnFEMI"), std::string::npos) << "never the secret";
}

INSTANTIATE_TEST_SUITE_P(
    S3, S3Answers,
    ::testing::Values(Classification{503, "SlowDown", SendResult::Kind::retryable, "s3://my-bucket/"},
                      Classification{500, "InternalError", SendResult::Kind::retryable, "s3://my-bucket/"},
                      Classification{400, "RequestTimeout", SendResult::Kind::retryable, "s3://my-bucket/"},
                      Classification{403, "AccessDenied", SendResult::Kind::permanent,
                                     "needs s3:PutObject on arn:aws:s3:::my-bucket/*"},
                      Classification{404, "NoSuchBucket", SendResult::Kind::permanent,
                                     "check EXTENSION_LOG_DESTINATION_S3_BUCKET_NAME"},
                      Classification{403, "InvalidAccessKeyId", SendResult::Kind::permanent, "credentials"},
                      Classification{403, "SignatureDoesNotMatch", SendResult::Kind::permanent, "credentials"}));

TEST_F(S3DestinationTest, AnUnreachableEndpointIsRetryable) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_ENDPOINT", "http://127.0.0.1:1");
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(send(*d, batch(1)).kind, SendResult::Kind::retryable);
}

TEST_F(S3DestinationTest, MissingCredentialsOrRegionAreInitErrors) {
  env.erase("AWS_SECRET_ACCESS_KEY");
  auto getenv = [this](std::string_view n) -> std::optional<std::string> {
    auto it = env.find(std::string(n));
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto d = s3_destination().make(Context{cfg, function, log, io.get_executor(), getenv});
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("AWS_SECRET_ACCESS_KEY is not set"), std::string::npos) << d.error().message;
}

TEST_F(S3DestinationTest, TheEndpointMayComeFromTheSdkVariables) {
  cfg.set("EXTENSION_LOG_DESTINATION_S3_ENDPOINT", "");
  env["AWS_ENDPOINT_URL_S3"] = "http://127.0.0.1:" + std::to_string(server->port());
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(send(*d, batch(1)).kind, SendResult::Kind::ok);
  ASSERT_EQ(seen.size(), 1u);
}

}  // namespace
}  // namespace elk::destinations
