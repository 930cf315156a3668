// The forwarder end to end: the real binary as a Lambda function's `bootstrap` under the emulator's function
// mode (Runtime API, asynchronous retries, on-failure records, CloudWatch Logs payloads and Kinesis batches of
// a simulated function's lines), shipping to a file directory and to the strict Elasticsearch fake.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fakes/elastic.h"
#include "fakes/logstash.h"
#include "harness.h"

namespace elk::itest {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

std::string message_of(const json::object& d) {
  const auto* m = d.if_contains("message");
  return m && m->is_string() ? std::string(m->get_string()) : std::string();
}

// The "inv=I line=J" tokens of the function lines among `docs`, and how often each is there.
std::map<std::string, int> tokens_in(const std::vector<json::object>& docs) {
  std::map<std::string, int> out;
  for (const auto& d : docs)
    if (d.at("event").at("action") == "function")
      if (auto t = token_of(message_of(d)); !t.empty()) ++out[t];
  return out;
}

// Every line of `invocations` source invocations of `lines` lines, exactly once.
void expect_every_line_once(const std::map<std::string, int>& arrived, int invocations, int lines,
                            const std::string& output) {
  for (int i = 1; i <= invocations; ++i)
    for (int j = 1; j <= lines; ++j) {
      const auto t = "inv=" + std::to_string(i) + " line=" + std::to_string(j);
      const auto it = arrived.find(t);
      ASSERT_NE(it, arrived.end()) << "lost " << t << "\n" << output;
      EXPECT_EQ(it->second, 1) << "doubled " << t;
    }
  EXPECT_EQ(arrived.size(), static_cast<std::size_t>(invocations * lines));
}

std::vector<json::object> sources(const fakes::FakeElasticsearch& es) {
  std::vector<json::object> out;
  for (const auto& d : es.all_documents()) out.push_back(d.source);
  return out;
}

TEST(Forwarder, ShipsEveryLineOfEveryStreamOnceWithItsFunctionInvocationAndCloudWatchNames) {
  for (const std::string& format : {std::string("text"), std::string("json")}) {
    const auto r = run_forwarder({"--invocations", "6", "--streams", "2", "--lines", "4", "--log-format", format}, {});
    ASSERT_EQ(r.exit, 0) << r.output;
    EXPECT_EQ(r.answered("response"), r.invocations().size()) << r.output;
    expect_every_line_once(r.files.arrived_tokens(), 6, 4, r.output);
    std::set<std::string> streams, event_ids;
    std::size_t reports = 0;
    for (const auto& d : r.files.documents) {
      EXPECT_EQ(d.at("faas").at("name"), "demo-function") << json::serialize(d);
      EXPECT_EQ(d.at("faas").at("version"), "$LATEST");
      EXPECT_EQ(d.at("cloud").at("account").at("id"), "123456789012");
      const auto& cw = d.at("aws").at("cloudwatch").as_object();
      EXPECT_EQ(cw.at("log_group"), "/aws/lambda/demo-function");
      streams.insert(std::string(cw.at("log_stream").as_string()));
      EXPECT_TRUE(event_ids.insert(std::string(cw.at("event_id").as_string())).second) << "one document per event";
      const auto action = d.at("event").at("action");
      if (action == "function") {
        EXPECT_TRUE(d.at("faas").as_object().contains("execution")) << json::serialize(d);
      }
      if (action == "platform.report") {
        ++reports;
        EXPECT_GT(d.at("aws").at("lambda").at("duration_ms").to_number<double>(), 0.0);
      }
    }
    EXPECT_EQ(streams.size(), 2u);
    EXPECT_EQ(reports, 6u) << format;
  }
}

TEST(Forwarder, ADestinationDownIsAnErrorThatLambdaRetriesAndElasticsearchHoldsEveryLineOnce) {
  fakes::FakeElasticsearch es;
  es.fail_next_requests(3, fakes::HttpFault{503});  // the first attempt's request and both its retries
  const auto r =
      run_forwarder({"--invocations", "4", "--lines", "5"}, {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                                             {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
                                                             {"EXTENSION_LOG_RETRY_ATTEMPTS", "2"},
                                                             {"EXTENSION_LOG_RETRY_BASE_MS", "10"}});
  ASSERT_EQ(r.exit, 0) << r.output;
  EXPECT_GE(r.answered("error"), 1u) << r.output;
  EXPECT_TRUE(r.on_failure.empty()) << r.output;
  expect_every_line_once(tokens_in(sources(es)), 4, 5, r.output);
  EXPECT_TRUE(es.duplicates().empty());
  EXPECT_NE(r.output.find("Forwarder.DeliveryFailed"), std::string::npos) << r.output;
}

TEST(Forwarder, A429StormOfItemsIsRetriedWithinTheInvocationAndNothingIsDoubled) {
  fakes::FakeElasticsearch es;
  es.reject_next_items(25);
  const auto r =
      run_forwarder({"--invocations", "5", "--lines", "6"}, {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                                             {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
                                                             {"EXTENSION_LOG_RETRY_BASE_MS", "5"}});
  ASSERT_EQ(r.exit, 0) << r.output;
  expect_every_line_once(tokens_in(sources(es)), 5, 6, r.output);
  EXPECT_TRUE(es.duplicates().empty());
  EXPECT_TRUE(r.on_failure.empty());
}

TEST(Forwarder, ADestinationDownForEveryAttemptEndsInOnFailureRecordsThatHoldTheEvents) {
  fakes::FakeElasticsearch es;
  es.fail_while([] { return true; }, fakes::HttpFault{503});
  const auto r = run_forwarder({"--invocations", "2", "--lines", "3", "--retry-delay-ms", "10"},
                               {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
                                {"EXTENSION_LOG_RETRY_ATTEMPTS", "1"},
                                {"EXTENSION_LOG_RETRY_BASE_MS", "5"}});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.on_failure.size(), 2u) << r.output;  // each data payload: three attempts, then its record
  for (const auto& f : r.on_failure) {
    EXPECT_EQ(f.at("requestContext").at("condition"), "RetriesExhausted");
    EXPECT_TRUE(f.at("requestPayload").at("awslogs").as_object().contains("data"));
    EXPECT_NE(json::serialize(f.at("responsePayload")).find("Forwarder.DeliveryFailed"), std::string::npos);
  }
  EXPECT_EQ(es.document_count(), 0u);

  // The destination is back: `replay` of the on-failure records closes the loop, and a second replay doubles
  // nothing.
  es.clear_faults();
  const std::map<std::string, std::string> env{{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                               {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()}};
  for (int round = 0; round < 2; ++round) {
    const auto [code, output] = run_command({ELK_EXTENSION_BIN, "replay", (r.dir / "on-failure.jsonl").string()}, env);
    EXPECT_EQ(code, 0) << output;
    EXPECT_NE(output.find("2 of 2 events delivered"), std::string::npos) << output;
    expect_every_line_once(tokens_in(sources(es)), 2, 3, output);
    EXPECT_TRUE(es.duplicates().empty());
  }
  const auto [code, output] = run_command({ELK_EXTENSION_BIN, "replay", (r.dir / "missing.jsonl").string()}, env);
  EXPECT_EQ(code, 2);
  EXPECT_NE(output.find("missing.jsonl: cannot be read"), std::string::npos) << output;
}

TEST(Forwarder, MappingErrorsGoToTheDeadLetterAndDoNotFailTheInvocation) {
  fakes::FakeElasticsearch es;
  es.mapping_error_where([](const json::object& d) { return token_of(message_of(d)).ends_with(" line=2"); });
  const auto r = run_forwarder({"--invocations", "3", "--lines", "4"},
                               {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
                                {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_DEAD_LETTER", "file"}});
  ASSERT_EQ(r.exit, 0) << r.output;
  EXPECT_EQ(r.answered("error"), 0u) << r.output;
  const auto in_es = tokens_in(sources(es));
  const auto in_dead_letter = r.files.arrived_tokens();
  EXPECT_EQ(in_dead_letter.size(), 3u) << r.output;
  for (const auto& [t, n] : in_dead_letter) {
    EXPECT_TRUE(t.ends_with("line=2")) << t;
    EXPECT_EQ(n, 1);
  }
  EXPECT_EQ(in_es.size() + in_dead_letter.size(), 12u);
}

TEST(Forwarder, BadPayloadsAreClearErrorsKeptByLambdaAndTheGoodOnesAroundThemArrive) {
  const auto r =
      run_forwarder({"--invocations", "4", "--lines", "3", "--bad-payloads", "on", "--retry-delay-ms", "5"}, {});
  ASSERT_EQ(r.exit, 0) << r.output;
  expect_every_line_once(r.files.arrived_tokens(), 4, 3, r.output);
  std::map<std::string, std::set<std::string>> answers;  // kind -> answers
  for (const auto& i : r.invocations())
    answers[std::string(i.at("kind").as_string())].insert(std::string(i.at("answer").as_string()));
  for (const auto* kind : {"invalid-base64", "not-gzip", "gzip-bomb", "invalid-json", "not-awslogs"})
    EXPECT_EQ(answers[kind], std::set<std::string>{"error"}) << kind << "\n" << r.output;
  EXPECT_EQ(answers["empty-log-events"], std::set<std::string>{"response"});
  EXPECT_EQ(answers["control"], std::set<std::string>{"response"});
  EXPECT_EQ(r.on_failure.size(), 5u);  // each undecodable event, after Lambda's two retries
  EXPECT_EQ(r.report.at("function").at("inits").as_array().size(), 1u) << "the runtime never crashed";
  EXPECT_NE(r.output.find("inflates past 33554432 bytes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("not base64"), std::string::npos);
}

TEST(Forwarder, KinesisBatchesArriveOnceAndAFailedDeliveryNamesTheRecordsToHandAgain) {
  fakes::FakeElasticsearch es;
  es.fail_next_requests(3, fakes::HttpFault{503});
  const auto r = run_forwarder({"--events", "kinesis", "--invocations", "7", "--lines", "3", "--batch-size", "3"},
                               {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch"},
                                {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
                                {"EXTENSION_LOG_RETRY_ATTEMPTS", "2"},
                                {"EXTENSION_LOG_RETRY_BASE_MS", "10"}});
  ASSERT_EQ(r.exit, 0) << r.output;
  bool reported_failures = false;
  for (const auto& i : r.invocations()) {
    EXPECT_EQ(i.at("answer"), "response") << r.output;
    reported_failures |= json::parse(i.at("body").as_string()).at("batchItemFailures").as_array().size() > 0;
  }
  EXPECT_TRUE(reported_failures) << r.output;
  expect_every_line_once(tokens_in(sources(es)), 7, 3, r.output);
  EXPECT_TRUE(es.duplicates().empty());
  EXPECT_TRUE(r.on_failure.empty());
}

TEST(Forwarder, ABadSettingIsAnInitErrorNamingIt) {
  const auto r = run_forwarder({"--invocations", "1"}, {{"EXTENSION_LOG_DESTINATIONS", "nowhere"}});
  EXPECT_EQ(r.exit, 2) << r.output;
  EXPECT_NE(r.output.find("EXTENSION_LOG_DESTINATIONS"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Forwarder.ConfigInvalid"), std::string::npos) << r.output;
}

TEST(Forwarder, LogstashGetsEveryLineWithTheEventIdToDedupeARetryBy) {
  fakes::FakeElasticsearch es;
  es.fail_next_requests(3, fakes::HttpFault{503});  // fails the first attempt of the first payload
  fakes::FakeLogstashHttp logstash;
  const auto r =
      run_forwarder({"--invocations", "3", "--lines", "4"}, {{"EXTENSION_LOG_DESTINATIONS", "elasticsearch,logstash"},
                                                             {"EXTENSION_LOG_DESTINATION_ELASTICSEARCH_URL", es.url()},
                                                             {"EXTENSION_LOG_DESTINATION_LOGSTASH_URL", logstash.url()},
                                                             {"EXTENSION_LOG_RETRY_ATTEMPTS", "2"},
                                                             {"EXTENSION_LOG_RETRY_BASE_MS", "10"}});
  ASSERT_EQ(r.exit, 0) << r.output;
  EXPECT_GE(r.answered("error"), 1u) << r.output;
  expect_every_line_once(tokens_in(sources(es)), 3, 4, r.output);
  // Logstash cannot dedupe: the retried payload arrived there twice, each copy with the same
  // aws.cloudwatch.event_id, by which a pipeline (or its Elasticsearch output's document_id) dedupes.
  std::map<std::string, std::set<std::string>> ids_by_token;
  for (const auto& e : logstash.events())
    if (e.at("event").at("action") == "function")
      ids_by_token[token_of(message_of(e))].insert(
          std::string(e.at("aws").at("cloudwatch").at("event_id").as_string()));
  EXPECT_EQ(ids_by_token.size(), 12u);
  for (const auto& [token, ids] : ids_by_token) EXPECT_EQ(ids.size(), 1u) << token;
  EXPECT_GT(logstash.events().size(), sources(es).size()) << "the retry doubled at Logstash";
}

TEST(Forwarder, ASourceFunctionsTimeoutIsAnErrorLineAndATimeoutReport) {
  const auto r = run_forwarder({"--invocations", "4", "--lines", "2", "--source-timeout-every", "2"}, {});
  ASSERT_EQ(r.exit, 0) << r.output;
  std::size_t timeout_lines = 0, timeout_reports = 0;
  for (const auto& d : r.files.documents) {
    const auto message = message_of(d);
    if (message.find("Task timed out after 3.00 seconds") != std::string::npos) {
      ++timeout_lines;
      EXPECT_EQ(d.at("log").at("level"), "error") << json::serialize(d);
      EXPECT_TRUE(d.at("faas").as_object().contains("execution")) << json::serialize(d);
    }
    if (d.at("event").at("action") == "platform.report" && message.find("Status: timeout") != std::string::npos) {
      ++timeout_reports;
      EXPECT_EQ(d.at("aws").at("lambda").at("status"), "timeout") << json::serialize(d);
      EXPECT_EQ(d.at("error").at("type"), "Sandbox.Timeout") << json::serialize(d);
    }
  }
  EXPECT_EQ(timeout_lines, 2u);  // invocations 2 and 4
  EXPECT_EQ(timeout_reports, 2u);
}

}  // namespace
}  // namespace elk::itest
