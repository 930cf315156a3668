#include "destinations/logstash.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "../test_util.h"
#include "http/server.h"

namespace elk::destinations {
namespace {

// The logstash destination's init: what it accepts and how it says what it does not.
struct LogstashInit : ::testing::Test {
  boost::asio::io_context io;
  config::Config cfg;
  pipeline::FunctionContext function{"my-fn", "$LATEST", "eu-west-1", ""};
  Logger log{nullptr};

  void SetUp() override {
    for (const auto& row : logstash_destination().settings) cfg.set(row.name, std::string(row.default_value));
  }
  Result<std::unique_ptr<Destination>> make(const std::string& url, const std::string& ca_file = "") {
    cfg.set("EXTENSION_LOG_DESTINATION_LOGSTASH_URL", url);
    cfg.set("EXTENSION_LOG_DESTINATION_LOGSTASH_CA_FILE", ca_file);
    auto getenv = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    return logstash_destination().make(Context{cfg, function, "envid", log, io.get_executor(), getenv});
  }
};

TEST_F(LogstashInit, SchemesAreCaseInsensitive) {
  for (const char* url : {"tcp://127.0.0.1:5000", "TCP://127.0.0.1:5000", "Tls://127.0.0.1:5000",
                          "http://127.0.0.1:8080", "HTTP://127.0.0.1:8080"}) {
    const auto d = make(url);
    EXPECT_TRUE(d) << url << ": " << (d ? "" : d.error().message);
  }
}

TEST_F(LogstashInit, AnotherSchemeIsToldTheOnesThatWork) {
  const auto d = make("udp://127.0.0.1:5000");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("EXTENSION_LOG_DESTINATION_LOGSTASH_URL"), std::string::npos);
  EXPECT_NE(d.error().message.find("tcp://host:port"), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("tls://host:port"), std::string::npos) << d.error().message;
}

// Its load error used to be ignored: every connection then failed verification, at every flush.
TEST_F(LogstashInit, ATlsCaFileThatIsNotPemIsAnInitErrorNamingIt) {
  const auto path = std::filesystem::temp_directory_path() / "elk-logstash-not-pem.crt";
  std::ofstream(path) << "this is not a certificate\n";
  const auto d = make("tls://127.0.0.1:5000", path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find(path.string()), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("PEM"), std::string::npos) << d.error().message;
}

TEST_F(LogstashInit, ATlsCaFileThatIsMissingIsAnInitErrorNamingIt) {
  const auto d = make("tls://127.0.0.1:5000", "/nonexistent/ca.pem");
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("/nonexistent/ca.pem"), std::string::npos) << d.error().message;
}

// A 413 used to drop the batch for good: now it is split and sent again, the smaller size kept, and only a
// document too large alone refused.
TEST_F(LogstashInit, TheHttpInputsA413SplitsTheBatchAndRefusesOnlyADocumentTooLargeAlone) {
  constexpr std::size_t limit = 2000;
  std::vector<std::string> lines;
  std::size_t posts = 0, refused = 0;
  auto server = http::Server::start(io, {}, [&](http::Request r) -> boost::asio::awaitable<http::Response> {
    ++posts;
    if (r.body.size() > limit) {
      ++refused;
      co_return http::make_response(413, "too large");
    }
    for (std::size_t at = 0, nl; (nl = r.body.find('\n', at)) != std::string::npos; at = nl + 1)
      lines.push_back(r.body.substr(at, nl - at));
    co_return http::make_response(200, "ok");
  });
  ASSERT_TRUE(server);
  auto d = make("http://127.0.0.1:" + std::to_string((*server)->port()));
  ASSERT_TRUE(d) << d.error().message;
  const auto batch = [](std::size_t n, std::size_t big_at) {
    buffer::Batch b;
    for (std::size_t i = 0; i < n; ++i) {
      b.documents.push_back({R"({"n":)" + std::to_string(i) + R"(,"m":")" + std::string(i == big_at ? 3000 : 100, 'x') + "\"}",
                             EpochMs{0}, "", i + 1, 0});
      b.bytes += b.documents.back().json.size();
    }
    return b;
  };
  const auto send = [&](const buffer::Batch& b) {
    return test::run_sync(io, (*d)->send(b, std::chrono::steady_clock::now() + std::chrono::seconds(5)));
  };
  const auto r = send(batch(50, 7));
  EXPECT_EQ(r.kind, SendResult::Kind::ok) << r.message;
  EXPECT_EQ(r.rejected, (std::vector<std::size_t>{7}));
  EXPECT_EQ(lines.size(), 49u);
  const auto refused_before = refused;
  EXPECT_EQ(send(batch(30, 99)).kind, SendResult::Kind::ok);
  EXPECT_EQ(refused, refused_before);  // the smaller size is kept
  EXPECT_EQ(lines.size(), 79u);
  EXPECT_GT(posts, 4u);
}

}  // namespace
}  // namespace elk::destinations
