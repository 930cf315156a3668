#include "destinations/elasticsearch.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/json/parse.hpp>
#include <map>
#include <set>

#include "../test_util.h"
#include "destinations/registry.h"
#include "http/server.h"

namespace elk::destinations {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

pipeline::Document doc(std::uint64_t seq, std::int64_t t = 1714644930520) {
  return {R"({"@timestamp":"x","message":"m)" + std::to_string(seq) + "\"}", EpochMs{t}, "", seq};
}

TEST(ElasticsearchIds, AreTheSameOnEveryRetryAndDistinctPerDocument) {
  const auto a = elasticsearch::document_id("fn", "env", doc(1));
  EXPECT_EQ(a, elasticsearch::document_id("fn", "env", doc(1)));
  EXPECT_EQ(a.size(), 32u);
  std::set<std::string> ids;
  for (std::uint64_t i = 1; i <= 1000; ++i) ids.insert(elasticsearch::document_id("fn", "env", doc(i)));
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_NE(a, elasticsearch::document_id("fn", "other-env", doc(1)));
  EXPECT_NE(a, elasticsearch::document_id("other-fn", "env", doc(1)));
}

TEST(ElasticsearchIds, ASourcesStableIdNamesTheDocumentWhereverAndWheneverItIsRead) {
  auto first = doc(1), again = doc(7, 1714644999999);
  first.id = again.id = "123456789012/us-east-1//aws/lambda/fn/2024/05/02/[$LATEST]abc/3786";
  const auto a = elasticsearch::document_id("fn", "env", first);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a, elasticsearch::document_id("other-fn", "other-env", again));  // another process, another batch
  again.id += "1";
  EXPECT_NE(a, elasticsearch::document_id("fn", "env", again));
  EXPECT_NE(a, elasticsearch::document_id("fn", "env", doc(1)));  // without an id: origin and sequence
}

TEST(ElasticsearchIndex, ExpandsDatePatternsFromTheDocumentTime) {
  EXPECT_EQ(elasticsearch::expand_index("lambda-logs-%Y.%m.%d", EpochMs{1714644930520}), "lambda-logs-2024.05.02");
  EXPECT_EQ(elasticsearch::expand_index("x-%Y%m%d%H-%%", EpochMs{1714644930520}), "x-2024050210-%");
  EXPECT_EQ(elasticsearch::expand_index("logs-aws.lambda-default", EpochMs{0}), "logs-aws.lambda-default");
}

TEST(ElasticsearchConfig, OpensearchIsAnAliasOfElasticsearch) {
  const auto loaded = config::load(
      all_settings(),
      [](std::string_view n) -> std::optional<std::string> {
        if (n == "EXTENSION_LOG_DESTINATIONS") return "opensearch";
        if (n == "EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL") return "https://x:9200";
        return std::nullopt;
      },
      destination_aliases());
  EXPECT_TRUE(loaded.errors.empty()) << (loaded.errors.empty() ? "" : loaded.errors[0]);
  EXPECT_EQ(loaded.config.text("EXTENSION_LOG_DESTINATIONS"), "elasticsearch");
}

struct ElasticsearchTest : ::testing::Test {
  asio::io_context io;
  std::vector<http::Request> seen;
  std::function<http::Response(const http::Request&)> answer;
  std::unique_ptr<http::Server> server;
  config::Config cfg;
  pipeline::FunctionContext function{"my-fn", "$LATEST", "eu-west-1", ""};
  std::map<std::string, std::string> env{
      {"AWS_ACCESS_KEY_ID", "AKID"}, {"AWS_SECRET_ACCESS_KEY", "secret"}, {"AWS_REGION", "eu-west-1"}};
  Logger log{nullptr};

  void SetUp() override {
    answer = [](const http::Request& r) {
      if (r.method == "GET") return http::make_response(200, R"({"version":{"number":"8.11.0"}})");
      return http::make_response(200, R"({"took":1,"errors":false,"items":[]})");
    };
    auto s = http::Server::start(io, {}, [this](http::Request r) -> asio::awaitable<http::Response> {
      seen.push_back(r);
      co_return answer(r);
    });
    ASSERT_TRUE(s);
    server = std::move(*s);
    for (const auto& row : elasticsearch_destination().settings) cfg.set(row.name, std::string(row.default_value));
    cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", url());
    cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_COMPRESSION", "none");
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server->port()); }
  std::unique_ptr<Destination> make() {
    auto getenv = [this](std::string_view n) -> std::optional<std::string> {
      auto it = env.find(std::string(n));
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto d = elasticsearch_destination().make(Context{cfg, function, log, io.get_executor(), getenv});
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d ? std::move(*d) : nullptr;
  }
  static buffer::Batch batch(std::size_t n) {
    buffer::Batch b;
    for (std::size_t i = 1; i <= n; ++i) {
      b.documents.push_back(doc(i));
      b.bytes += b.documents.back().json.size();
    }
    return b;
  }
  SendResult send(Destination& d, const buffer::Batch& b) {
    return test::run_sync(io, d.send(b, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  }
  std::vector<http::Request> bulks() const {
    std::vector<http::Request> out;
    for (const auto& r : seen)
      if (r.method == "POST") out.push_back(r);
    return out;
  }
  // A bulk answer with one item per status.
  static http::Response items(std::initializer_list<int> statuses, std::string action = "create") {
    std::string body = R"({"took":3,"errors":true,"items":[)";
    bool first = true;
    for (int s : statuses) {
      body += first ? "" : ",";
      first = false;
      body += R"({")" + action + R"(":{"_index":"i","_id":"x","status":)" + std::to_string(s);
      if (s >= 300)
        body += s == 400 ? R"(,"error":{"type":"document_parsing_exception","reason":"failed to parse field [x]"})"
                         : R"(,"error":{"type":"es_rejected_execution_exception","reason":"queue full"})";
      body += "}}";
    }
    return http::make_response(200, body + "]}");
  }
};

TEST_F(ElasticsearchTest, WritesNdjsonCreateOpsWithDeterministicIdsAndATrailingNewline) {
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(send(*d, batch(2)).kind, SendResult::Kind::ok);
  const auto b = bulks();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].target, "/_bulk");
  EXPECT_EQ(b[0].header("Content-Type"), "application/x-ndjson");
  EXPECT_TRUE(b[0].body.ends_with("\n"));
  const auto id = elasticsearch::document_id("my-fn", hex64(doc(1).origin), doc(1));
  EXPECT_TRUE(b[0].body.starts_with(R"({"create":{"_index":"logs-aws.lambda-default","_id":")" + id + "\"}}\n" +
                                    doc(1).json + "\n"))
      << b[0].body;
  // The cluster was checked once, with GET /.
  EXPECT_EQ(seen.front().method, "GET");
  EXPECT_EQ(seen.front().target, "/");
}

TEST_F(ElasticsearchTest, ADatedIndexUsesIndexOpsAndThePipelineIsAQueryParameter) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_INDEX", "lambda-%Y.%m.%d");
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_PIPELINE", "my pipeline");
  auto d = make();
  ASSERT_TRUE(d);
  (void)send(*d, batch(1));
  const auto b = bulks();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].target, "/_bulk?pipeline=my%20pipeline");
  EXPECT_TRUE(b[0].body.starts_with(R"({"index":{"_index":"lambda-2024.05.02")")) << b[0].body;
}

TEST_F(ElasticsearchTest, GzipsTheBodyByDefault) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_COMPRESSION", "gzip");
  auto d = make();
  ASSERT_TRUE(d);
  (void)send(*d, batch(3));
  const auto b = bulks();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].header("Content-Encoding"), "gzip");
  EXPECT_EQ(static_cast<unsigned char>(b[0].body[0]), 0x1f);
}

TEST_F(ElasticsearchTest, ItemOutcomesRetryOnly429And5xxAndRejectMappingErrors) {
  auto d = make();
  ASSERT_TRUE(d);
  answer = [](const http::Request& r) {
    return r.method == "GET" ? http::make_response(200, "{}") : items({201, 429, 400, 503, 409});
  };
  const auto r = send(*d, batch(5));
  EXPECT_EQ(r.kind, SendResult::Kind::partial);
  EXPECT_EQ(r.failed, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(r.rejected, (std::vector<std::size_t>{2}));  // 409 on create: already there
  EXPECT_NE(r.message.find("document_parsing_exception"), std::string::npos) << r.message;
}

TEST_F(ElasticsearchTest, OnlyRejectionsAreOkWithRejectedItems) {
  auto d = make();
  ASSERT_TRUE(d);
  answer = [](const http::Request& r) {
    return r.method == "GET" ? http::make_response(200, "{}") : items({201, 400});
  };
  const auto r = send(*d, batch(2));
  EXPECT_EQ(r.kind, SendResult::Kind::ok);
  EXPECT_EQ(r.rejected, (std::vector<std::size_t>{1}));
}

TEST_F(ElasticsearchTest, WholeRequestAnswersAreClassified) {
  auto d = make();
  ASSERT_TRUE(d);
  for (auto [status, kind] : {std::pair{503, SendResult::Kind::retryable}, std::pair{429, SendResult::Kind::retryable},
                              std::pair{401, SendResult::Kind::permanent}, std::pair{403, SendResult::Kind::permanent},
                              std::pair{400, SendResult::Kind::permanent}}) {
    answer = [status](const http::Request& r) {
      return r.method == "GET" ? http::make_response(200, "{}") : http::make_response(status, R"({"error":"x"})");
    };
    EXPECT_EQ(send(*d, batch(1)).kind, kind) << status;
  }
}

TEST_F(ElasticsearchTest, SplitsPastMaxBulkBytesAndMapsItemIndexesBack) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_MAX_BULK_BYTES", "65536");
  auto d = make();
  ASSERT_TRUE(d);
  buffer::Batch b;
  for (std::uint64_t i = 1; i <= 10; ++i) {
    auto x = doc(i);
    x.json = R"({"message":")" + std::string(20000, 'a') + "\"}";
    b.bytes += x.json.size();
    b.documents.push_back(std::move(x));
  }
  int n = 0;
  answer = [&](const http::Request& r) {
    if (r.method == "GET") return http::make_response(200, "{}");
    return ++n == 2 ? items({201, 429, 201}) : http::make_response(200, R"({"errors":false,"items":[]})");
  };
  const auto r = send(*d, b);
  EXPECT_EQ(bulks().size(), 4u);
  for (const auto& req : bulks()) EXPECT_LE(req.body.size(), 65536u);
  EXPECT_EQ(r.kind, SendResult::Kind::partial);
  EXPECT_EQ(r.failed, (std::vector<std::size_t>{4}));  // the 2nd item of the 2nd request
}

// nginx's default body limit is 1 MB, our default bulk 5 MB: a 413 used to drop the batch for good. Now the
// request is split and sent again, smaller requests are kept from then on, and only a document too large
// alone is refused (for the dead letter).
TEST_F(ElasticsearchTest, A413SplitsTheBulkAndKeepsTheSmallerSizeAndRefusesOnlyADocumentTooLargeAlone) {
  auto d = make();
  ASSERT_TRUE(d);
  constexpr std::size_t proxy_limit = 3000;
  std::set<std::string> stored;
  answer = [&](const http::Request& r) {
    if (r.method == "GET") return http::make_response(200, "{}");
    if (r.body.size() > proxy_limit) return http::make_response(413, "<html>413 Request Entity Too Large</html>");
    for (std::size_t at = r.body.find("\"_id\":\""); at != std::string::npos; at = r.body.find("\"_id\":\"", at + 1))
      stored.insert(r.body.substr(at + 7, 32));
    return http::make_response(200, R"({"errors":false,"items":[]})");
  };
  buffer::Batch b;
  for (std::uint64_t i = 1; i <= 40; ++i) {
    auto x = doc(i);
    x.json = R"({"message":")" + std::string(i == 17 ? 5000 : 150, 'a') + "\"}";
    b.bytes += x.json.size();
    b.documents.push_back(std::move(x));
  }
  const auto r = send(*d, b);
  EXPECT_EQ(r.kind, SendResult::Kind::ok) << r.message;
  EXPECT_EQ(r.rejected, (std::vector<std::size_t>{16}));  // the 5000-byte document alone
  EXPECT_NE(r.message.find("413"), std::string::npos) << r.message;
  EXPECT_EQ(stored.size(), 39u);
  // The next flush starts below the limit: no 413 at all.
  const auto before = bulks().size();
  buffer::Batch again;
  for (std::uint64_t i = 100; i < 120; ++i) {
    auto x = doc(i);
    x.json = R"({"message":")" + std::string(150, 'b') + "\"}";
    again.bytes += x.json.size();
    again.documents.push_back(std::move(x));
  }
  EXPECT_EQ(send(*d, again).kind, SendResult::Kind::ok);
  for (std::size_t i = before; i < bulks().size(); ++i) EXPECT_LE(bulks()[i].body.size(), proxy_limit);
  EXPECT_EQ(stored.size(), 59u);
}

TEST_F(ElasticsearchTest, SendsBasicAndApiKeyAuthorization) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_AUTH", "basic");
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_USERNAME", "elastic");
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_PASSWORD", "changeme");
  auto d = make();
  ASSERT_TRUE(d);
  (void)send(*d, batch(1));
  const auto basic = bulks();
  EXPECT_EQ(basic[0].header("Authorization"), "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
  seen.clear();
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_AUTH", "apikey");
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_API_KEY",
          "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==");
  auto k = make();
  ASSERT_TRUE(k);
  (void)send(*k, batch(1));
  const auto b = bulks();
  EXPECT_EQ(b[0].header("Authorization"), "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==");
}

TEST_F(ElasticsearchTest, SignsWithSigV4ForAmazonOpenSearch) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_AUTH", "sigv4");
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_SIGV4_SERVICE", "aoss");
  auto d = make();
  ASSERT_TRUE(d);
  (void)send(*d, batch(1));
  const auto b = bulks();
  const auto auth = b[0].header("Authorization");
  ASSERT_TRUE(auth);
  EXPECT_NE(auth->find("/eu-west-1/aoss/aws4_request"), std::string::npos) << *auth;
  EXPECT_TRUE(b[0].header("x-amz-content-sha256"));
}

TEST_F(ElasticsearchTest, AuthSettingsMustBeComplete) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_AUTH", "basic");
  auto getenv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  auto d = elasticsearch_destination().make(Context{cfg, function, log, io.get_executor(), getenv});
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_USERNAME"), std::string::npos);
}

// A first URL that accepts and never answers, or whose SYN is never answered (a dead node, a security group
// dropping packets), used to take the whole flush: the healthy second URL got nothing. Now each URL gets a
// share of the flush, the next one is tried, the cluster check does not starve the bulk, and the next flush
// starts at the URL that answered.
TEST_F(ElasticsearchTest, FailsOverFromAHungOrSilentFirstUrlWithinTheFlush) {
  namespace ip = boost::asio::ip;
  // Hung: accepts, reads, never answers.
  ip::tcp::acceptor hung(io, {ip::make_address("127.0.0.1"), 0});
  std::vector<std::unique_ptr<ip::tcp::socket>> held;
  std::function<void()> accept = [&] {
    hung.async_accept([&](boost::system::error_code ec, ip::tcp::socket s) {
      if (ec) return;
      held.push_back(std::make_unique<ip::tcp::socket>(std::move(s)));
      accept();
    });
  };
  accept();
  // Silent: a listener whose backlog is full, so that a new SYN is dropped and connect hangs.
  ip::tcp::acceptor full(io);
  full.open(ip::tcp::v4());
  full.bind({ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  std::vector<std::unique_ptr<ip::tcp::socket>> fillers;
  for (int i = 0; i < 4; ++i) {
    auto s = std::make_unique<ip::tcp::socket>(io);
    s->async_connect(full.local_endpoint(), [](boost::system::error_code) {});
    fillers.push_back(std::move(s));
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
  for (const auto& first : {"http://127.0.0.1:" + std::to_string(hung.local_endpoint().port()),
                            "http://127.0.0.1:" + std::to_string(full.local_endpoint().port())}) {
    SCOPED_TRACE(first);
    seen.clear();
    cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", first + "," + url());
    auto d = make();
    ASSERT_TRUE(d);
    const auto started = std::chrono::steady_clock::now();
    const auto r = test::run_sync(io, d->send(batch(3), std::chrono::steady_clock::now() + std::chrono::seconds(1)));
    EXPECT_EQ(r.kind, SendResult::Kind::ok) << r.message;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1500));
    EXPECT_EQ(bulks().size(), 1u);
    // The next flush goes straight to the URL that answered.
    const auto again = std::chrono::steady_clock::now();
    EXPECT_EQ(send(*d, batch(2)).kind, SendResult::Kind::ok);
    EXPECT_EQ(bulks().size(), 2u);
    EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::milliseconds(400));
  }
}

TEST_F(ElasticsearchTest, TriesTheNextUrlWhenOneCannotBeReached) {
  cfg.set("EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", "http://127.0.0.1:1," + url());
  auto d = make();
  ASSERT_TRUE(d);
  EXPECT_EQ(send(*d, batch(1)).kind, SendResult::Kind::ok);
  EXPECT_EQ(bulks().size(), 1u);
}

}  // namespace
}  // namespace elk::destinations
