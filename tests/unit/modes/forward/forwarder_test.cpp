// The forwarder's answer to each event, against a real destination (file): what is delivered, what Lambda is
// asked to hand again, and what is refused as undecodable.
#include "modes/forward/forwarder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>

#include "../../test_util.h"
#include "core/base64.h"
#include "core/gzip.h"
#include "destinations/registry.h"

namespace elk::forward {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string payload(std::string_view stream, int first_id, int events) {
  json::array log_events;
  for (int i = 0; i < events; ++i)
    log_events.push_back(json::object{{"id", std::to_string(first_id + i)},
                                      {"timestamp", 1714644930520 + i},
                                      {"message", "2024-05-02T10:15:30.520Z\tr-1\tINFO\tline " + std::to_string(i)}});
  return base64(gzip(json::serialize(json::object{{"messageType", "DATA_MESSAGE"},
                                                  {"owner", "222222222222"},
                                                  {"logGroup", "/aws/lambda/orders"},
                                                  {"logStream", stream},
                                                  {"subscriptionFilters", json::array{"elk"}},
                                                  {"logEvents", std::move(log_events)}})));
}

std::string subscription(const std::string& data) {
  return json::serialize(json::object{{"awslogs", json::object{{"data", data}}}});
}

std::string kinesis(const std::vector<std::pair<std::string, std::string>>& records) {
  json::array items;
  for (const auto& [seq, data] : records)
    items.push_back(json::object{{"kinesis", json::object{{"sequenceNumber", seq}, {"data", data}}},
                                 {"eventID", "shardId-000000000000:" + seq}});
  return json::serialize(json::object{{"Records", std::move(items)}});
}

struct ForwarderTest : ::testing::Test {
  test::TempDir dir;
  boost::asio::io_context io;
  Logger log{nullptr};
  std::unique_ptr<app::Pipeline> pipeline;
  std::unique_ptr<Forwarder> forwarder;

  void make(const std::string& directory, const std::string& max_buffer_bytes = "16777216") {
    const std::map<std::string, std::string, std::less<>> env{{"EXTENSION_LOG_DESTINATIONS", "file"},
                                                              {"EXTENSION_LOG_DESTINATION_FILE_DIRECTORY", directory},
                                                              {"EXTENSION_LOG_MAX_BUFFER_BYTES", max_buffer_bytes},
                                                              {"EXTENSION_LOG_RETRY_ATTEMPTS", "1"},
                                                              {"EXTENSION_LOG_RETRY_BASE_MS", "1"}};
    const Getenv getenv = [env](std::string_view n) -> std::optional<std::string> {
      const auto it = env.find(n);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    auto loaded = config::load(destinations::all_settings(), getenv, destinations::destination_aliases());
    ASSERT_TRUE(loaded.errors.empty()) << loaded.errors.front();
    app::PipelineOptions options{1s, 7};
    options.spill = false;
    auto made = app::Pipeline::make(loaded.config, {"elk-forwarder", "$LATEST", "eu-west-1", "", "on-demand"}, getenv,
                                    log, io.get_executor(), options);
    ASSERT_TRUE(made) << made.error().message;
    pipeline = std::move(*made);
    forwarder = std::make_unique<Forwarder>(*pipeline, "eu-west-1", log);
  }
  void SetUp() override { make(dir.path.string()); }
  // The file destination's directory becomes a file: every write fails.
  void break_destination() {
    const auto d = dir.path / "out";
    std::filesystem::create_directories(d);
    make(d.string());
    std::filesystem::remove_all(d);
    std::ofstream(d) << "x";
  }

  Answer handle(const std::string& event) {
    return test::run_sync(io, forwarder->handle(event, std::chrono::steady_clock::now() + 2s));
  }
  std::vector<json::object> documents() const {
    std::vector<json::object> out;
    for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
      std::ifstream in(e.path());
      for (std::string l; std::getline(in, l);) out.push_back(json::parse(l).as_object());
    }
    return out;
  }
};

TEST_F(ForwarderTest, DeliversASubscriptionEventAndAnswersWhatItForwarded) {
  const auto a = handle(subscription(payload("2024/05/02/[$LATEST]abc", 100, 3)));
  ASSERT_TRUE(a.ok) << a.message;
  EXPECT_EQ(a.body, R"({"forwarded":3})");
  const auto docs = documents();
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].at("faas").at("name"), "orders");
  EXPECT_EQ(docs[0].at("cloud").at("account").at("id"), "222222222222");
  EXPECT_EQ(docs[0].at("aws").at("cloudwatch").at("log_stream"), "2024/05/02/[$LATEST]abc");
}

TEST_F(ForwarderTest, APayloadLargerThanTheMemoryBoundIsDeliveredWhole) {
  make(dir.path.string(), "1048576");  // the smallest bound; the payload's documents are several MB
  const auto a = handle(subscription(payload("2024/05/02/[$LATEST]abc", 1000000, 20000)));
  ASSERT_TRUE(a.ok) << a.message;
  EXPECT_EQ(a.body, R"({"forwarded":20000})");
  EXPECT_EQ(documents().size(), 20000u);
  EXPECT_EQ(pipeline->dropped(), 0u);
}

TEST_F(ForwarderTest, AnEventHandedAgainReplacesWhatItWroteRatherThanDoublingIt) {
  const auto event = subscription(payload("2024/05/02/[$LATEST]abc", 100, 3));
  ASSERT_TRUE(handle(event).ok);
  ASSERT_TRUE(handle(event).ok);  // a retried invocation: the same documents, the same file
  EXPECT_EQ(documents().size(), 3u);
}

TEST_F(ForwarderTest, AControlMessageOrAnEmptyPayloadIsAcknowledged) {
  const auto control = base64(gzip(R"({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"",)"
                                   R"("logStream":"","subscriptionFilters":[],"logEvents":[]})"));
  EXPECT_TRUE(handle(subscription(control)).ok);
  const auto empty = base64(gzip(R"({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",)"
                                 R"("logEvents":[]})"));
  EXPECT_TRUE(handle(subscription(empty)).ok);
  EXPECT_TRUE(documents().empty());
}

TEST_F(ForwarderTest, AnUndecodableEventIsAnErrorThatSaysWhy) {
  for (const std::string& event :
       {std::string("not json"), std::string(R"({"hello":"world"})"), subscription("%%%"),
        subscription(base64("not gzip at all, just text")), subscription(base64(gzip("{broken json")))}) {
    const auto a = handle(event);
    EXPECT_FALSE(a.ok) << event;
    EXPECT_EQ(a.error_type, invalid_event_error);
    EXPECT_FALSE(a.message.empty());
  }
  EXPECT_TRUE(documents().empty());
}

TEST_F(ForwarderTest, WhatCannotBeDeliveredIsAnErrorAndIsNotKept) {
  break_destination();
  const auto a = handle(subscription(payload("2024/05/02/[$LATEST]abc", 100, 3)));
  EXPECT_FALSE(a.ok);
  EXPECT_EQ(a.error_type, delivery_error);
  EXPECT_NE(a.message.find("3 events of /aws/lambda/orders"), std::string::npos) << a.message;
  EXPECT_FALSE(pipeline->holds_documents());  // Lambda keeps the event: nothing is sent twice later
}

TEST_F(ForwarderTest, AKinesisBatchSkipsWhatCannotBeDecodedAndDeliversTheRest) {
  const auto a = handle(kinesis({{"1", payload("s1", 1, 2)}, {"2", "%%%"}, {"3", payload("s2", 10, 2)}}));
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.body, R"({"batchItemFailures":[]})");
  EXPECT_EQ(documents().size(), 4u);
}

TEST_F(ForwarderTest, AKinesisBatchThatCannotBeDeliveredNamesItsRecordsToHandAgain) {
  break_destination();
  const auto a = handle(kinesis({{"1", payload("s1", 1, 2)}, {"2", "%%%"}, {"3", payload("s2", 10, 2)}}));
  ASSERT_TRUE(a.ok);
  EXPECT_EQ(a.body, R"({"batchItemFailures":[{"itemIdentifier":"1"},{"itemIdentifier":"3"}]})");
}

}  // namespace
}  // namespace elk::forward
