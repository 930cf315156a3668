#include "sources/cloudwatch/records.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>

#include "../../test_util.h"
#include "pipeline/platform_event.h"
#include "sources/telemetry/parse.h"

namespace elk::cloudwatch {
namespace {

namespace json = boost::json;

Payload lambda_payload(std::vector<LogEvent> events) {
  Payload p;
  p.owner = "123456789012";
  p.log_group = "/aws/lambda/my-fn";
  p.log_stream = "2024/05/02/[$LATEST]0123456789abcdef0123456789abcdef";
  p.events = std::move(events);
  return p;
}

TEST(CloudWatchRecords, LambdaNamesGiveFunctionAndVersion) {
  EXPECT_EQ(function_of_group("/aws/lambda/orders"), "orders");
  EXPECT_FALSE(function_of_group("/aws/lambda/"));
  EXPECT_FALSE(function_of_group("/aws/apigateway/welcome"));
  EXPECT_EQ(version_of_stream("2024/05/02/[$LATEST]0123456789abcdef0123456789abcdef"), "$LATEST");
  EXPECT_EQ(version_of_stream("2024/05/02/[17]0123"), "17");
  EXPECT_EQ(version_of_stream("i-0abc/var/log/messages"), "");
  EXPECT_EQ(version_of_stream("2024/05/02/[unclosed"), "");
  EXPECT_EQ(version_of_stream("2024/05/02/[$LATEST]"), "");  // no environment
  const auto custom = lambda_stream("2024/05/03/billing-job[12]5a6b7c8d9e0f4a1b2c3d4e5f6a7b8c9d");
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->function, "billing-job");
  EXPECT_EQ(custom->version, "12");
  const auto bracketed = lambda_stream("2024/05/03/orders[$LATEST][5a6b7c8d9e0f4a1b2c3d4e5f6a7b8c9d]");
  ASSERT_TRUE(bracketed);
  EXPECT_EQ(bracketed->function, "orders");
  EXPECT_EQ(bracketed->version, "$LATEST");
  EXPECT_FALSE(lambda_stream("2024/05/03/a/b[1]x"));

  const auto s = source_of(lambda_payload({}), "eu-west-1");
  EXPECT_EQ(s.function.function_name, "my-fn");
  EXPECT_EQ(s.function.function_version, "$LATEST");
  EXPECT_EQ(s.function.account_id, "123456789012");
  EXPECT_EQ(s.function.region, "eu-west-1");
  EXPECT_EQ(s.stream, "/aws/lambda/my-fn\n2024/05/02/[$LATEST]0123456789abcdef0123456789abcdef");
  Payload other = lambda_payload({});
  other.log_group = "/aws/apigateway/welcome";
  EXPECT_EQ(source_of(other, "eu-west-1").function.function_name, "");

  // A custom log group, shared by several functions: each stream names its function and version.
  Payload shared = lambda_payload({});
  shared.log_group = "/myorg/app-logs";
  shared.log_stream = "2024/05/03/billing-job[12]5a6b7c8d9e0f4a1b2c3d4e5f6a7b8c9d";
  const auto c = source_of(shared, "eu-west-1");
  EXPECT_EQ(c.function.function_name, "billing-job");
  EXPECT_EQ(c.function.function_version, "12");
  EXPECT_EQ(c.log_group, "/myorg/app-logs");
}

TEST(CloudWatchRecords, TextLinesJsonRecordsAndPlatformEvents) {
  const auto records = records_of(lambda_payload({
      {"1", 1714651200101, "plain line\n"},
      {"2", 1714651200102, R"({"timestamp":"2024-05-02T12:00:00.010Z","level":"INFO","message":"hi"})"},
      {"3", 1714651200103,
       R"({"time":"2024-05-02T12:00:00.001Z","type":"platform.start","record":{"requestId":"r-1","version":"$LATEST"}})"},
      {"4", 1714651200104, "{not json after all"},
  }));
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0].type, pipeline::Record::Type::function);
  EXPECT_EQ(records[0].body.string(), "plain line\n");
  EXPECT_EQ(records[0].time, "2024-05-02T12:00:00.101Z");
  EXPECT_EQ(records[0].time_ms.value, 1714651200101);
  EXPECT_EQ(records[0].id, "1");
  EXPECT_TRUE(records[1].body.is_object());
  EXPECT_EQ(records[1].body.find("message").string(), "hi");
  EXPECT_EQ(records[2].type, pipeline::Record::Type::platform);
  EXPECT_EQ(records[2].type_name, "platform.start");
  EXPECT_EQ(records[2].time_ms.value, 1714651200001);
  EXPECT_EQ(records[2].body.find("requestId").string(), "r-1");
  EXPECT_EQ(records[3].body.string(), "{not json after all");
}

// The message CloudWatch Logs stores for a Telemetry API record: a text line as it is; in the JSON log format a
// function record's object and a platform event's {"time","type","record"}, serialized.
std::string cloudwatch_message(const json::object& item) {
  const auto& record = item.at("record");
  if (record.is_string()) return std::string(record.get_string());
  if (item.at("type").as_string() == "function") return json::serialize(record);
  return json::serialize(item);
}

// A line becomes the same document whichever way it came in: from the Telemetry API to the extension, or from a
// CloudWatch Logs subscription to the forwarder (but for aws.cloudwatch.*, which only the second has).
void expect_same_documents(const std::string& sample) {
  const auto text = test::telemetry_sample(sample);
  const auto items = json::parse(text).as_array();
  const auto telemetry = telemetry::parse_batch(text, EpochMs{0});
  ASSERT_TRUE(telemetry);
  ASSERT_EQ(telemetry->events.size(), items.size());

  auto payload = lambda_payload({});
  std::deque<std::string> texts;  // what the payload's events view
  std::vector<pipeline::Record> from_telemetry;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i].as_object();
    // An extension's lines are in the function's stream as any other: from CloudWatch Logs they are the
    // function's (event.action "function", not "extension").
    if (item.at("type") == "extension") continue;
    from_telemetry.push_back(telemetry->events[i]);
    const auto time = parse_iso8601(item.at("time").as_string());
    const auto& id = texts.emplace_back(std::to_string(36000000 + payload.events.size()));
    payload.events.push_back({id, time->value, texts.emplace_back(cloudwatch_message(item))});
  }
  const auto source = source_of(payload, "us-east-1");
  pipeline::Enricher extension(source.function, {});
  pipeline::Enricher base(pipeline::FunctionContext{"unused", "", "", "", ""}, {});
  auto forwarder = base.for_source(source);
  const auto records = records_of(payload);
  ASSERT_EQ(records.size(), from_telemetry.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto a = extension.enrich(from_telemetry[i]);
    const auto b = forwarder.enrich(records[i]);
    ASSERT_TRUE(a && b);
    auto from_extension = json::parse(a->json).as_object();
    auto from_forwarder = json::parse(b->json).as_object();
    auto& aws = from_forwarder.at("aws").as_object();
    const auto cloudwatch = aws.at("cloudwatch").as_object();
    EXPECT_EQ(cloudwatch.at("log_group"), "/aws/lambda/my-fn");
    EXPECT_EQ(cloudwatch.at("event_id").as_string(), std::to_string(36000000 + i));
    aws.erase("cloudwatch");
    if (aws.empty()) from_forwarder.erase("aws");
    EXPECT_EQ(from_extension, from_forwarder) << sample << " item " << i << "\n" << a->json << "\n" << b->json;
    EXPECT_EQ(b->id, "123456789012\nus-east-1\n/aws/lambda/my-fn\n" + payload.log_stream + "\n" +
                         std::to_string(36000000 + i));
    EXPECT_EQ(b->function, "my-fn");
  }
}

TEST(CloudWatchRecords, ALineIsTheSameDocumentFromTheExtensionAndFromTheForwarder) {
  expect_same_documents("function-text-logs-multi-runtime.json");
  expect_same_documents("function-json-logs.json");
  expect_same_documents("platform-cold-start-invocation.json");
}

TEST(CloudWatchRecords, AnotherServicesLogGroupGetsPlainDocuments) {
  auto payload = lambda_payload({{"9", 1714651200101, "GET /pets 200\n"}});
  payload.log_group = "/aws/apigateway/welcome";
  payload.log_stream = "abc";
  pipeline::Enricher base(pipeline::FunctionContext{"self", "", "", "", ""}, {});
  auto e = base.for_source(source_of(payload, "us-east-1"));
  const auto d = e.enrich(records_of(payload)[0]);
  ASSERT_TRUE(d);
  const auto doc = json::parse(d->json).as_object();
  EXPECT_FALSE(doc.contains("faas")) << d->json;
  EXPECT_EQ(doc.at("event").at("dataset"), "aws.cloudwatch_logs");
  EXPECT_EQ(doc.at("aws").at("cloudwatch").at("log_group"), "/aws/apigateway/welcome");
  EXPECT_EQ(doc.at("cloud").at("account").at("id"), "123456789012");
  EXPECT_FALSE(doc.at("cloud").as_object().contains("service"));
}

}  // namespace
}  // namespace elk::cloudwatch
