#include "destinations/logstash.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "../test_util.h"

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

}  // namespace
}  // namespace elk::destinations
