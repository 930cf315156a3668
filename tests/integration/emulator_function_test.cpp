// The emulator's function mode (--function): Lambda running a log forwarder's custom runtime, driven with a
// fake runtime (fakes/fake_runtime.py) that logs every event it got, decoded.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace elk::itest {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const std::string kFakeRuntime = std::string(ELK_SOURCE_DIR) + "/tests/integration/fakes/fake_runtime.py";

std::vector<json::object> read_lines(const fs::path& p) {
  std::vector<json::object> out;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line).as_object());
  return out;
}

struct FunctionRun {
  int exit = -1;
  std::string output;
  json::object report;
  std::vector<json::object> received;    // what the fake runtime got, one per event
  std::vector<json::object> on_failure;  // the on-failure records
  fs::path dir;

  [[nodiscard]] const json::array& invocations() const { return report.at("function").at("invocations").as_array(); }
  [[nodiscard]] const json::array& inits() const { return report.at("function").at("inits").as_array(); }
};

FunctionRun run_function(const std::string& mode, std::vector<std::string> args) {
  FunctionRun r;
  r.dir = fs::temp_directory_path() / ("elk-itest-fn-" + std::to_string(::getpid()) + "-" + mode + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(r.dir);
  fs::create_directories(r.dir);
  std::vector<std::string> argv = {ELK_EMULATOR_BIN,
                                   "--function",
                                   kFakeRuntime,
                                   "--report",
                                   (r.dir / "report.json").string(),
                                   "--on-failure-file",
                                   (r.dir / "on-failure.jsonl").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto [code, output] = run_command(argv, {{"FAKE_RUNTIME_MODE", mode},
                                                 {"FAKE_RUNTIME_LOG", (r.dir / "received.jsonl").string()},
                                                 {"FAKE_RUNTIME_STATE", (r.dir / "state").string()}});
  r.exit = code;
  r.output = output;
  std::ifstream in(r.dir / "report.json");
  std::stringstream ss;
  ss << in.rdbuf();
  if (!ss.str().empty()) r.report = json::parse(ss.str()).as_object();
  r.received = read_lines(r.dir / "received.jsonl");
  r.on_failure = read_lines(r.dir / "on-failure.jsonl");
  return r;
}

// The decoded payload of a received event's (first) record.
const json::object& payload(const json::object& received, std::size_t i = 0) {
  return received.at("payloads").as_array().at(i).at("decoded").as_object();
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

TEST(EmulatorFunction, HandsEveryPayloadToTheRuntimeAsCloudWatchLogsWouldAndCountsEveryLine) {
  const auto r = run_function("ok", {"--invocations", "4", "--lines", "3", "--streams", "2"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.invocations().size(), 5u) << r.output;  // the CONTROL_MESSAGE, then one payload per invocation
  for (const auto& i : r.invocations()) EXPECT_EQ(i.at("answer"), "response") << json::serialize(i);
  EXPECT_EQ(r.invocations()[0].at("kind"), "control");
  EXPECT_EQ(r.inits().size(), 1u);
  EXPECT_EQ(r.report.at("function").at("onFailure"), 0);
  EXPECT_EQ(r.report.at("functionLinesSent"), 12);
  ASSERT_EQ(r.received.size(), 5u);

  // The runtime's environment and the next's headers, as Lambda sets them.
  const auto& env = r.received[0].at("env").as_object();
  EXPECT_EQ(env.at("AWS_LAMBDA_FUNCTION_NAME"), "elk-forwarder");
  EXPECT_EQ(env.at("AWS_LAMBDA_FUNCTION_VERSION"), "$LATEST");
  EXPECT_EQ(env.at("AWS_LAMBDA_LOG_GROUP_NAME"), "/aws/lambda/elk-forwarder");
  EXPECT_EQ(env.at("_HANDLER"), "bootstrap");
  const auto& headers = r.received[1].at("headers").as_object();
  EXPECT_EQ(headers.at("Lambda-Runtime-Aws-Request-Id"), r.invocations()[1].at("requestId"));
  EXPECT_TRUE(all_digits(headers.at("Lambda-Runtime-Deadline-Ms").as_string()));
  EXPECT_EQ(headers.at("Lambda-Runtime-Invoked-Function-Arn"),
            "arn:aws:lambda:us-east-1:123456789012:function:elk-forwarder");
  EXPECT_TRUE(headers.at("Lambda-Runtime-Trace-Id").as_string().starts_with("Root=1-"));

  const auto& control = payload(r.received[0]);
  EXPECT_EQ(control.at("messageType"), "CONTROL_MESSAGE");
  EXPECT_EQ(control.at("logGroup"), "");
  EXPECT_EQ(control.at("logStream"), "");

  std::set<std::string> ids, streams;
  std::string last_id;
  std::map<std::pair<int, int>, int> tokens;
  bool equal_timestamps = false;
  for (std::size_t k = 1; k < r.received.size(); ++k) {
    const auto& p = payload(r.received[k]);
    EXPECT_EQ(p.at("messageType"), "DATA_MESSAGE");
    EXPECT_EQ(p.at("owner"), "123456789012");
    EXPECT_EQ(p.at("logGroup"), "/aws/lambda/demo-function");
    EXPECT_EQ(p.at("subscriptionFilters"), json::array{"elk-forwarder"});
    const std::string stream(p.at("logStream").as_string());
    streams.insert(stream);
    EXPECT_EQ(stream.size(), 11u + 9u + 32u) << stream;  // YYYY/MM/DD/[$LATEST]<32 hex>
    EXPECT_NE(stream.find("/[$LATEST]"), std::string::npos) << stream;
    const auto& events = p.at("logEvents").as_array();
    const bool first_on_stream = k <= 2;  // invocations 1 and 2 open streams 1 and 2
    std::vector<std::string> messages;
    std::int64_t last_ts = -1;
    for (const auto& e : events) {
      const std::string id(e.at("id").as_string());
      EXPECT_EQ(id.size(), 56u) << id;
      EXPECT_TRUE(all_digits(id)) << id;
      EXPECT_GT(id, last_id);
      EXPECT_TRUE(ids.insert(id).second) << id;
      last_id = id;
      const auto ts = e.at("timestamp").as_int64();
      equal_timestamps = equal_timestamps || ts == last_ts;
      last_ts = ts;
      const std::string message(e.at("message").as_string());
      EXPECT_TRUE(message.ends_with("\n")) << message;  // CloudWatch Logs keeps a text line's newline
      messages.push_back(message);
      if (auto t = token_of(message); !t.empty()) {
        int inv = 0, line = 0;
        ASSERT_EQ(std::sscanf(t.c_str(), "inv=%d line=%d", &inv, &line), 2);
        ++tokens[{inv, line}];
        EXPECT_EQ(inv, static_cast<int>(k));
        if (line == 2) {
          EXPECT_NE(message.find("\n    at charge"), std::string::npos) << message;  // one event
        }
      }
    }
    ASSERT_EQ(messages.size(), (first_on_stream ? 1u : 0u) + 1u + 3u + 2u);
    EXPECT_EQ(messages.front().starts_with("INIT_START Runtime Version: "), first_on_stream);
    const std::size_t start = first_on_stream ? 1 : 0;
    EXPECT_TRUE(messages[start].starts_with("START RequestId: ")) << messages[start];
    EXPECT_TRUE(messages[start].ends_with(" Version: $LATEST\n")) << messages[start];
    EXPECT_TRUE(messages[messages.size() - 2].starts_with("END RequestId: "));
    const auto& report = messages.back();
    EXPECT_TRUE(report.starts_with("REPORT RequestId: ")) << report;
    EXPECT_NE(report.find("\tMemory Size: 128 MB\tMax Memory Used: "), std::string::npos) << report;
    EXPECT_TRUE(report.ends_with(" MB\t\n") || report.ends_with(" ms\t\n")) << report;
    EXPECT_EQ(report.find("Init Duration: ") != std::string::npos, first_on_stream) << report;
  }
  EXPECT_EQ(streams.size(), 2u);
  EXPECT_TRUE(equal_timestamps);
  EXPECT_EQ(tokens.size(), 12u);
  for (const auto& [t, n] : tokens) EXPECT_EQ(n, 1) << t.first << "/" << t.second;
}

TEST(EmulatorFunction, JsonLogFormatPlatformLinesAreTimeTypeRecordObjects) {
  const auto r = run_function("ok", {"--invocations", "1", "--lines", "2", "--log-format", "json"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.received.size(), 2u);
  const auto& events = payload(r.received[1]).at("logEvents").as_array();
  const auto first = json::parse(events.front().at("message").as_string()).as_object();
  EXPECT_EQ(first.at("type"), "platform.initStart");
  EXPECT_TRUE(first.contains("time") && first.contains("record"));
  const auto last = json::parse(events.back().at("message").as_string()).as_object();
  EXPECT_EQ(last.at("type"), "platform.report");
  const auto line1 = json::parse(events.at(2).at("message").as_string()).as_object();
  EXPECT_EQ(token_of(line1.at("message").as_string()), "inv=1 line=1");
}

TEST(EmulatorFunction, AnErrorIsRetriedTwiceWithNewRequestIdsThenWrittenToTheOnFailureDestination) {
  const auto r = run_function("always-error", {"--invocations", "1", "--lines", "2"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.invocations().size(), 6u) << r.output;  // control and data, 3 attempts each
  std::set<std::string> request_ids;
  for (std::size_t k = 0; k < 6; ++k) {
    const auto& i = r.invocations()[k].as_object();
    EXPECT_EQ(i.at("answer"), "error");
    EXPECT_EQ(i.at("errorType"), "Unhandled");
    EXPECT_EQ(i.at("attempt"), static_cast<int>(k % 3) + 1);
    EXPECT_EQ(i.at("event"), static_cast<int>(k / 3) + 1);
    request_ids.insert(std::string(i.at("requestId").as_string()));
  }
  EXPECT_EQ(request_ids.size(), 6u);
  ASSERT_EQ(r.received.size(), 6u);
  EXPECT_EQ(r.received[3].at("event"), r.received[4].at("event"));  // the same event each attempt
  EXPECT_EQ(r.received[3].at("event"), r.received[5].at("event"));
  EXPECT_EQ(r.report.at("function").at("onFailure"), 2);
  ASSERT_EQ(r.on_failure.size(), 2u);
  const auto& record = r.on_failure[1];
  EXPECT_EQ(record.at("version"), "1.0");
  EXPECT_TRUE(record.contains("timestamp"));
  const auto& context = record.at("requestContext").as_object();
  EXPECT_EQ(context.at("condition"), "RetriesExhausted");
  EXPECT_EQ(context.at("approximateInvokeCount"), 3);
  EXPECT_EQ(context.at("requestId"), r.invocations()[5].at("requestId"));
  EXPECT_EQ(context.at("functionArn"), "arn:aws:lambda:us-east-1:123456789012:function:elk-forwarder:$LATEST");
  EXPECT_EQ(record.at("requestPayload"), r.received[3].at("event"));
  EXPECT_EQ(record.at("responseContext").at("functionError"), "Unhandled");
  EXPECT_EQ(record.at("responseContext").at("statusCode"), 200);
  EXPECT_EQ(record.at("responsePayload").at("errorMessage"), "boom 6");
}

TEST(EmulatorFunction, AnErrorAnsweredByARetryWritesNoOnFailureRecord) {
  const auto r = run_function("error-first", {"--invocations", "1", "--lines", "1"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.invocations().size(), 3u) << r.output;
  EXPECT_EQ(r.invocations()[0].at("answer"), "error");
  EXPECT_EQ(r.invocations()[1].at("answer"), "response");
  EXPECT_EQ(r.invocations()[1].at("attempt"), 2);
  EXPECT_EQ(r.report.at("function").at("onFailure"), 0);
  EXPECT_TRUE(r.on_failure.empty());
}

TEST(EmulatorFunction, ATimedOutInvocationKillsAndRestartsTheRuntimeAndIsRetried) {
  const auto r = run_function("timeout", {"--invocations", "1", "--lines", "1", "--function-timeout-ms", "800"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.invocations().size(), 3u) << r.output;
  EXPECT_EQ(r.invocations()[0].at("answer"), "timeout");
  EXPECT_EQ(r.invocations()[0].at("errorType"), "Sandbox.Timedout");
  EXPECT_NE(r.invocations()[0].at("body").as_string().find("Task timed out after 0.80 seconds"), json::string::npos);
  EXPECT_EQ(r.invocations()[1].at("answer"), "response");
  EXPECT_EQ(r.invocations()[1].at("attempt"), 2);
  ASSERT_EQ(r.inits().size(), 2u);
  EXPECT_EQ(r.inits()[1].at("reason"), "after-timeout");
  EXPECT_NE(r.inits()[0].at("pid"), r.inits()[1].at("pid"));
}

TEST(EmulatorFunction, ACrashDuringAnInvocationIsAnErrorAndTheRuntimeIsStartedAgain) {
  const auto r = run_function("crash", {"--invocations", "1", "--lines", "1"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.invocations().size(), 3u) << r.output;
  EXPECT_EQ(r.invocations()[0].at("answer"), "crash");
  EXPECT_EQ(r.invocations()[0].at("errorType"), "Runtime.ExitError");
  EXPECT_EQ(r.invocations()[1].at("answer"), "response");
  ASSERT_EQ(r.inits().size(), 2u);
  EXPECT_EQ(r.inits()[1].at("reason"), "after-crash");
}

TEST(EmulatorFunction, InitErrorEndsTheRunWithExitCode2) {
  const auto r = run_function("init-error", {"--invocations", "2"});
  EXPECT_EQ(r.exit, 2) << r.output;
  EXPECT_TRUE(r.invocations().empty());
  ASSERT_EQ(r.report.at("initErrors").as_array().size(), 1u);
  EXPECT_EQ(r.report.at("initErrors").at(0).at("errorType"), "Runtime.ConfigError");
  EXPECT_EQ(r.report.at("ok"), false);
}

TEST(EmulatorFunction, AnsweringTwiceIsAProtocolViolationAndExitCode3) {
  const auto r = run_function("answer-twice", {"--invocations", "1", "--lines", "1"});
  EXPECT_EQ(r.exit, 3) << r.output;
  ASSERT_FALSE(r.report.at("function").at("violations").as_array().empty());
  EXPECT_NE(r.report.at("function").at("violations").at(0).as_string().find("again"), json::string::npos);
}

TEST(EmulatorFunction, KinesisPartialFailureIsRetriedFromTheLowestFailedSequenceNumber) {
  const auto r = run_function("kinesis-fail-second",
                              {"--events", "kinesis", "--invocations", "4", "--lines", "2", "--batch-size", "3"});
  ASSERT_EQ(r.exit, 0) << r.output;
  ASSERT_EQ(r.received.size(), 3u) << r.output;  // batch 1, its retry, batch 2
  const auto seqs = [](const json::object& received) {
    std::vector<std::string> out;
    for (const auto& rec : received.at("event").at("Records").as_array()) {
      EXPECT_EQ(rec.at("eventSource"), "aws:kinesis");
      EXPECT_EQ(rec.at("eventName"), "aws:kinesis:record");
      const std::string seq(rec.at("kinesis").at("sequenceNumber").as_string());
      EXPECT_TRUE(all_digits(seq)) << seq;
      EXPECT_EQ(rec.at("eventID").as_string(), "shardId-000000000000:" + seq);
      out.push_back(seq);
    }
    return out;
  };
  const auto first = seqs(r.received[0]), retry = seqs(r.received[1]), second = seqs(r.received[2]);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(retry, std::vector<std::string>(first.begin() + 1, first.end()));
  EXPECT_EQ(second.size(), 1u);
  EXPECT_EQ(r.invocations()[1].at("attempt"), 2);
  EXPECT_EQ(r.invocations()[2].at("event"), 2);
  // Every line is in the first deliveries, each record a whole DATA_MESSAGE.
  std::set<std::string> tokens;
  for (const auto* received : {&r.received[0], &r.received[2]})
    for (std::size_t i = 0; i < received->at("payloads").as_array().size(); ++i)
      for (const auto& e : payload(*received, i).at("logEvents").as_array())
        if (auto t = token_of(e.at("message").as_string()); !t.empty()) tokens.insert(t);
  EXPECT_EQ(tokens.size(), 8u);
  EXPECT_TRUE(r.on_failure.empty());
}

TEST(EmulatorFunction, KinesisBatchWhoseRetriesAreExhaustedGetsAnOnFailureRecord) {
  const auto r = run_function(
      "always-error", {"--events", "kinesis", "--invocations", "2", "--lines", "1", "--max-retry-attempts", "1"});
  ASSERT_EQ(r.exit, 0) << r.output;
  EXPECT_EQ(r.invocations().size(), 2u) << r.output;
  ASSERT_EQ(r.on_failure.size(), 1u);
  EXPECT_EQ(r.on_failure[0].at("requestContext").at("condition"), "RetryAttemptsExhausted");
  EXPECT_EQ(r.on_failure[0].at("KinesisBatchInfo").at("batchSize"), 2);
}

TEST(EmulatorFunction, BadPayloadsComeBetweenTheGoodOnesTaggedByKind) {
  const auto r = run_function("ok", {"--invocations", "2", "--lines", "1", "--bad-payloads", "on"});
  ASSERT_EQ(r.exit, 0) << r.output;
  std::vector<std::string> kinds;
  for (const auto& i : r.invocations()) kinds.emplace_back(i.at("kind").as_string());
  EXPECT_EQ(kinds, (std::vector<std::string>{"control", "invalid-base64", "data", "not-gzip", "data", "gzip-bomb",
                                             "invalid-json", "empty-log-events", "not-awslogs"}));
  ASSERT_EQ(r.received.size(), kinds.size());
  const auto problem = [&](std::size_t k) {
    return std::string(r.received[k].at("payloads").at(0).at("problem").as_string());
  };
  EXPECT_EQ(problem(1), "invalid-base64");
  EXPECT_EQ(problem(3), "not-gzip");
  EXPECT_EQ(problem(5), "too-large");  // the fake stops inflating at 64 MiB
  EXPECT_LT(r.received[5].at("event").at("awslogs").at("data").as_string().size(), 2u * 1024 * 1024);
  EXPECT_EQ(problem(6), "invalid-json");
  EXPECT_TRUE(payload(r.received[7]).at("logEvents").as_array().empty());
  EXPECT_EQ(r.received[8].at("event"), (json::object{{"hello", "world"}}));
}

TEST(EmulatorFunction, BeforeInvocationCountsEachRetryAttemptAsAnInvocation) {
  const fs::path log = fs::temp_directory_path() / ("elk-itest-fn-before-" + std::to_string(::getpid()) + ".txt");
  fs::remove(log);
  const auto r = run_function("error-first", {"--invocations", "1", "--lines", "1", "--before-invocation",
                                              "2=echo two >> '" + log.string() + "'", "--before-invocation",
                                              "3=echo three >> '" + log.string() + "'"});
  ASSERT_EQ(r.exit, 0) << r.output;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "two\nthree\n");  // 1: control (error), 2: its retry, 3: the data payload
  fs::remove(log);
}

TEST(EmulatorFunction, FunctionAndExtensionsDirTogetherIsAUsageError) {
  const auto [code, output] =
      run_command({ELK_EMULATOR_BIN, "--function", kFakeRuntime, "--extensions-dir", "/tmp", "--quiet"});
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("not both"), std::string::npos) << output;
  const auto [code2, output2] = run_command({ELK_EMULATOR_BIN, "--extensions-dir", "/tmp", "--events", "kinesis"});
  EXPECT_EQ(code2, 1) << output2;
}

}  // namespace
}  // namespace elk::itest
