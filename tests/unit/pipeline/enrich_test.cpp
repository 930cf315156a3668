#include "pipeline/enrich.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "../test_util.h"
#include "telemetry/parse.h"

namespace elk::pipeline {
namespace {

namespace json = boost::json;

std::vector<json::object> enrich_sample(const std::string& file) {
  Enricher e({"my-fn", "$LATEST", "us-east-1", "123456789012"});
  auto batch = telemetry::parse_batch(test::telemetry_sample(file), EpochMs{0});
  std::vector<json::object> out;
  for (const auto& ev : batch->events) out.push_back(json::parse(e.enrich(ev).json).as_object());
  return out;
}

TEST(Enrich, EveryDocumentHasTimestampMessageActionAndFunction) {
  for (const auto& d : enrich_sample("platform-cold-start-invocation.json")) {
    EXPECT_TRUE(d.at("@timestamp").is_string());
    EXPECT_TRUE(d.at("message").is_string());
    EXPECT_TRUE(d.at("event").at("action").is_string());
    EXPECT_EQ(d.at("event").at("dataset"), "aws.lambda");
    EXPECT_EQ(d.at("faas").at("name"), "my-fn");
    EXPECT_EQ(d.at("cloud").at("provider"), "aws");
    EXPECT_EQ(d.at("cloud").at("region"), "us-east-1");
    EXPECT_EQ(d.at("cloud").at("account").at("id"), "123456789012");
  }
}

TEST(Enrich, FunctionLinesInsideAnInvocationCarryItsRequestId) {
  const auto docs = enrich_sample("platform-cold-start-invocation.json");
  std::size_t with_id = 0;
  for (const auto& d : docs) {
    if (d.at("event").at("action") != "function") continue;
    if (const auto* f = d.at("faas").as_object().if_contains("execution")) {
      EXPECT_EQ(*f, "8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d");
      ++with_id;
    }
  }
  EXPECT_EQ(with_id, 2u);  // the init-phase line has none
}

TEST(Enrich, TheTimestampIsTheRecordTime) {
  const auto docs = enrich_sample("platform-cold-start-invocation.json");
  EXPECT_EQ(docs.front().at("@timestamp"), "2024-05-02T10:15:30.100Z");
}

TEST(Enrich, JsonRecordsGiveTheirMessageAndRequestId) {
  const auto docs = enrich_sample("function-json-logs.json");
  bool seen = false;
  for (const auto& d : docs)
    if (d.at("event").at("action") == "function" && d.at("faas").as_object().contains("execution")) seen = true;
  EXPECT_TRUE(seen);
}

TEST(Enrich, KeepsAMultiLineRecordAsOneDocumentWithoutTheTrailingNewline) {
  Enricher e({"f", "1", "r", ""});
  telemetry::Event ev{"function", "t", EpochMs{0}, json::value("a\n  at b\n  at c\n")};
  const auto d = json::parse(e.enrich(ev).json);
  EXPECT_EQ(d.at("message"), "a\n  at b\n  at c");
}

}  // namespace
}  // namespace elk::pipeline
