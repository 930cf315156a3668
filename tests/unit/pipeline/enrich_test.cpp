#include "pipeline/enrich.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "../test_util.h"
#include "pipeline/schema.h"
#include "sources/telemetry/parse.h"

namespace elk::pipeline {
namespace {

namespace json = boost::json;

FunctionContext context() {
  return {"my-fn", "$LATEST", "us-east-1", "123456789012", "on-demand"};
}

std::vector<json::object> enrich_all(Enricher& e, const std::vector<pipeline::Record>& events) {
  std::vector<json::object> out;
  for (const auto& ev : events)
    if (auto d = e.enrich(ev)) out.push_back(json::parse(d->json).as_object());
  return out;
}

std::vector<json::object> enrich_sample(const std::string& file, Rules rules = {}) {
  Enricher e(context(), std::move(rules));
  auto batch = telemetry::parse_batch(test::telemetry_sample(file), EpochMs{0});
  return enrich_all(e, batch->events);
}

const json::value* at(const json::object& o, std::initializer_list<std::string_view> path) {
  const json::value* v = nullptr;
  const json::object* cur = &o;
  for (auto k : path) {
    if (!cur) return nullptr;
    v = cur->if_contains(k);
    if (!v) return nullptr;
    cur = v->if_object();
  }
  return v;
}
std::string text(const json::object& o, std::initializer_list<std::string_view> path) {
  const auto* v = at(o, path);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}
std::vector<json::object> of_action(const std::vector<json::object>& docs, std::string_view action) {
  std::vector<json::object> out;
  for (const auto& d : docs)
    if (text(d, {"event", "action"}) == action) out.push_back(d);
  return out;
}

class EverySample : public ::testing::TestWithParam<std::string> {};

TEST_P(EverySample, EveryRecordBecomesOneDocumentWithTheCoreFields) {
  auto batch = telemetry::parse_batch(test::telemetry_sample(GetParam()), EpochMs{0});
  const auto docs = enrich_sample(GetParam());
  EXPECT_EQ(docs.size(), batch->events.size());
  for (const auto& d : docs) {
    EXPECT_FALSE(text(d, {"@timestamp"}).empty());
    EXPECT_TRUE(at(d, {"message"}) && at(d, {"message"})->is_string());
    EXPECT_EQ(text(d, {"event", "dataset"}), "aws.lambda");
    EXPECT_FALSE(text(d, {"event", "action"}).empty());
    EXPECT_EQ(text(d, {"faas", "name"}), "my-fn");
    EXPECT_EQ(text(d, {"cloud", "provider"}), "aws");
    EXPECT_EQ(text(d, {"cloud", "region"}), "us-east-1");
    EXPECT_EQ(text(d, {"cloud", "account", "id"}), "123456789012");
    EXPECT_EQ(text(d, {"ecs", "version"}), ecs_version);
  }
}

// EXTENSION_LOG_EXTRA_FIELDS_ROOT may not be a field the enricher writes at the top level: that list is
// pipeline/schema.h's, and it is complete.
TEST_P(EverySample, EveryTopLevelFieldIsADocumentRootOrTheExtraFieldsRoot) {
  for (const auto& d : enrich_sample(GetParam()))
    for (const auto& [key, value] : d)
      EXPECT_TRUE(key == "labels" ||
                  std::find(kDocumentRoots.begin(), kDocumentRoots.end(), key) != kDocumentRoots.end())
          << key;
}

INSTANTIATE_TEST_SUITE_P(Telemetry, EverySample,
                         ::testing::Values("function-json-logs.json", "function-text-logs-multi-runtime.json",
                                           "logs-api-batch-2021-03-18.json", "platform-cold-start-invocation.json",
                                           "platform-restore-timeout-errors.json"));

TEST(Enrich, AReportBecomesNumbersAndTheFamiliarReportLine) {
  const auto reports = of_action(enrich_sample("platform-cold-start-invocation.json"), "platform.report");
  ASSERT_EQ(reports.size(), 1u);
  const auto& r = reports[0];
  EXPECT_EQ(text(r, {"event", "kind"}), "metric");
  EXPECT_EQ(at(r, {"aws", "lambda", "duration_ms"})->to_number<double>(), 125.93);
  EXPECT_EQ(at(r, {"aws", "lambda", "billed_duration_ms"})->to_number<double>(), 539);
  EXPECT_EQ(at(r, {"aws", "lambda", "memory_size_mb"})->to_number<double>(), 512);
  EXPECT_EQ(at(r, {"aws", "lambda", "max_memory_used_mb"})->to_number<double>(), 88);
  EXPECT_EQ(at(r, {"aws", "lambda", "init_duration_ms"})->to_number<double>(), 412.57);
  EXPECT_EQ(text(r, {"aws", "lambda", "status"}), "success");
  EXPECT_EQ(at(r, {"event", "duration"})->as_int64(), 125930000);
  EXPECT_EQ(text(r, {"message"}),
            "REPORT RequestId: 8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d\tDuration: 125.93 ms\tBilled Duration: 539 ms"
            "\tMemory Size: 512 MB\tMax Memory Used: 88 MB\tInit Duration: 412.57 ms");
  EXPECT_EQ(text(r, {"faas", "execution"}), "8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d");
  EXPECT_EQ(at(r, {"faas", "coldstart"})->as_bool(), true);
  EXPECT_EQ(text(r, {"trace", "id"}), "1-66336a52-5d3e1c7f0a9b4e2d6c8f1a3b");
  EXPECT_FALSE(at(r, {"error"}));
}

TEST(Enrich, AFailedInvocationsReportCarriesErrorTypeAndStatus) {
  const auto reports = of_action(enrich_sample("platform-restore-timeout-errors.json"), "platform.report");
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(at(reports[0], {"aws", "lambda", "restore_duration_ms"})->to_number<double>(), 181.07);
  EXPECT_EQ(text(reports[1], {"aws", "lambda", "status"}), "timeout");
  EXPECT_EQ(text(reports[1], {"error", "type"}), "Sandbox.Timeout");
  EXPECT_EQ(text(reports[1], {"log", "level"}), "error");
  EXPECT_NE(text(reports[1], {"message"}).find("\tStatus: timeout"), std::string::npos);
}

TEST(Enrich, ADurationNoNanosecondCountCanHoldHasNoEventDuration) {
  // Found by fuzz_receiver: a converted double past int64's range was undefined behaviour.
  const std::string body =
      R"([{"time":"2024-05-02T10:15:30.520Z","type":"platform.report","record":{"requestId":"r1","status":"success",)"
      R"("metrics":{"durationMs":1e300,"billedDurationMs":1,"memorySizeMB":128,"maxMemoryUsedMB":10}}}])";
  auto batch = telemetry::parse_batch(body, EpochMs{0});
  ASSERT_TRUE(batch);
  Enricher e({"fn", "$LATEST", "eu-west-1", "1", "on-demand"}, {});
  const auto doc = e.enrich(batch->events.at(0));
  ASSERT_TRUE(doc);
  const auto v = boost::json::parse(doc->json);
  EXPECT_FALSE(v.at("event").as_object().contains("duration")) << doc->json;
}

TEST(Enrich, ColdStartIsTrueForTheFirstInvocationOnly) {
  Enricher e(context(), {});
  auto cold = telemetry::parse_batch(test::telemetry_sample("platform-cold-start-invocation.json"), EpochMs{0});
  auto warm = telemetry::parse_batch(test::telemetry_sample("function-text-logs-multi-runtime.json"), EpochMs{0});
  int cold_reports = 0, warm_reports = 0;
  for (const auto* batch : {&*cold, &*warm})
    for (const auto& d : of_action(enrich_all(e, batch->events), "platform.report"))
      (at(d, {"faas", "coldstart"})->as_bool() ? cold_reports : warm_reports)++;
  EXPECT_EQ(cold_reports, 1);
  EXPECT_EQ(warm_reports, 1);
}

TEST(Enrich, ProvisionedConcurrencyIsNeverAColdStart) {
  auto ctx = context();
  ctx.initialization_type = "provisioned-concurrency";
  Enricher e(ctx, {});
  auto batch = telemetry::parse_batch(test::telemetry_sample("function-text-logs-multi-runtime.json"), EpochMs{0});
  for (const auto& d : enrich_all(e, batch->events)) {
    if (const auto* c = at(d, {"faas", "coldstart"})) {
      EXPECT_FALSE(c->as_bool());
    }
  }
}

TEST(Enrich, TextLinesLoseTheRuntimePrefixAndGainLevelTimeAndRequest) {
  const auto docs = of_action(enrich_sample("function-text-logs-multi-runtime.json"), "function");
  ASSERT_GE(docs.size(), 4u);
  EXPECT_EQ(text(docs[0], {"message"}), "user signed in");
  EXPECT_EQ(text(docs[0], {"log", "level"}), "info");
  EXPECT_EQ(text(docs[0], {"@timestamp"}), "2024-05-02T11:00:00.102Z");
  EXPECT_EQ(text(docs[3], {"message"}), "db timeout after 3.0s");
  EXPECT_EQ(text(docs[3], {"log", "level"}), "error");
  for (const auto& d : docs)  // all inside the one invocation's start .. runtimeDone
    EXPECT_EQ(text(d, {"faas", "execution"}), "c0ffee00-1111-4222-8333-944455556666") << text(d, {"message"});
}

TEST(Enrich, JsonRecordsMapToEcsAndKeepEveryOtherKeyUnderLabels) {
  const auto docs = of_action(enrich_sample("function-json-logs.json"), "function");
  ASSERT_GE(docs.size(), 7u);
  EXPECT_EQ(text(docs[0], {"message"}), "Inside the handler function");
  EXPECT_EQ(text(docs[0], {"log", "level"}), "info");
  EXPECT_EQ(text(docs[0], {"faas", "execution"}), "79b4f56e-95b1-4643-9700-2807f4e68189");
  EXPECT_EQ(text(docs[0], {"labels", "logger"}), "root");
  EXPECT_EQ(at(docs[1], {"labels", "records_added"})->as_int64(), 10);
  // Python error: errorType / errorMessage / stackTrace -> error.*
  EXPECT_EQ(text(docs[2], {"error", "type"}), "ValueError");
  EXPECT_EQ(text(docs[2], {"error", "message"}), "bad");
  EXPECT_NE(text(docs[2], {"error", "stack_trace"}).find("raise ValueError"), std::string::npos);
  EXPECT_EQ(text(docs[2], {"labels", "location"}), "/var/task/app.py:handler:9");
  // Node.js Error object as the message.
  EXPECT_EQ(text(docs[4], {"error", "type"}), "TypeError");
  // Java's AWSRequestId.
  EXPECT_EQ(text(docs[5], {"faas", "execution"}), "79b4f56e-95b1-4643-9700-2807f4e68189");
  // .NET "Information" and its template properties.
  EXPECT_EQ(text(docs[6], {"log", "level"}), "info");
  EXPECT_EQ(at(docs[6], {"labels", "count"})->as_int64(), 3);
  EXPECT_EQ(text(docs[6], {"trace", "id"}), "1-66338880-0a1b2c3d4e5f60718293a4b5");
  // Ruby's microseconds are cut to milliseconds.
  EXPECT_EQ(text(docs[7], {"@timestamp"}), "2024-05-02T12:00:00.017Z");
}

TEST(Enrich, TheExtraFieldsRootIsConfigurable) {
  Enricher e(context(), {}, "lambda_fields");
  auto batch = telemetry::parse_batch(test::telemetry_sample("function-json-logs.json"), EpochMs{0});
  const auto docs = enrich_all(e, batch->events);
  EXPECT_EQ(text(docs[1], {"lambda_fields", "logger"}), "root");
  EXPECT_FALSE(at(docs[1], {"labels"}));
}

TEST(Enrich, LogsDroppedIsAWarningWithTheCounts) {
  const auto docs = of_action(enrich_sample("platform-restore-timeout-errors.json"), "platform.logsDropped");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(text(docs[0], {"log", "level"}), "warn");
  EXPECT_EQ(at(docs[0], {"aws", "lambda", "dropped_records"})->as_int64(), 4096);
  EXPECT_EQ(at(docs[0], {"aws", "lambda", "dropped_bytes"})->as_int64(), 524288);
  EXPECT_NE(text(docs[0], {"message"}).find("dropped 4096 log records"), std::string::npos);
}

TEST(Enrich, PlatformEventsBecomeReadableDocuments) {
  const auto docs = enrich_sample("platform-cold-start-invocation.json");
  const auto start = of_action(docs, "platform.start");
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(text(start[0], {"message"}), "START RequestId: 8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d Version: $LATEST");
  const auto init = of_action(docs, "platform.initStart");
  ASSERT_EQ(init.size(), 1u);
  EXPECT_EQ(text(init[0], {"aws", "lambda", "initialization_type"}), "on-demand");
  EXPECT_EQ(text(init[0], {"aws", "lambda", "runtime_version"}), "nodejs:20.v22");
  const auto done = of_action(docs, "platform.runtimeDone");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(text(done[0], {"message"}), "END RequestId: 8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d");
  EXPECT_TRUE(at(done[0], {"aws", "lambda", "spans"})->is_array());
  const auto initReport = of_action(docs, "platform.initReport");
  ASSERT_EQ(initReport.size(), 1u);
  EXPECT_TRUE(at(initReport[0], {"event", "duration"}));
}

// A Kibana average of aws.lambda.duration_ms over a function's documents used to mix invocation, runtime and
// init durations (runtimeDone and initReport documents carried it too). Each measure has its own field now.
TEST(Enrich, OnlyAReportCarriesTheInvocationsDurationEachOtherMeasureItsOwnField) {
  for (const char* sample : {"platform-cold-start-invocation.json", "platform-restore-timeout-errors.json"}) {
    const auto docs = enrich_sample(sample);
    for (const auto& d : docs) {
      const bool report = text(d, {"event", "action"}) == "platform.report";
      EXPECT_EQ(at(d, {"aws", "lambda", "duration_ms"}) != nullptr, report) << json::serialize(d);
    }
    for (const auto& d : of_action(docs, "platform.runtimeDone")) {
      ASSERT_TRUE(at(d, {"aws", "lambda", "runtime_duration_ms"})) << json::serialize(d);
      EXPECT_NEAR(at(d, {"event", "duration"})->to_number<double>(),
                  at(d, {"aws", "lambda", "runtime_duration_ms"})->to_number<double>() * 1e6, 1.0);
    }
    for (const auto& d : of_action(docs, "platform.initReport"))
      EXPECT_TRUE(at(d, {"aws", "lambda", "init_duration_ms"})) << json::serialize(d);
  }
}

// The CloudWatch path reads the text lines; the extension mostly the records: the same event must give the
// same fields whichever form it came in (only the message and the raw form differ).
TEST(Enrich, APlatformEventGivesTheSameFieldsAsItsTextLine) {
  const std::string rid = "8476a536-e9f4-4b1a-9f5a-2e8c1a0f3b7d";
  struct Pair {
    std::string line;
    std::string type;
    json::object record;
  };
  const std::vector<Pair> pairs = {
      {"START RequestId: " + rid + " Version: $LATEST", "platform.start", {{"requestId", rid}, {"version", "$LATEST"}}},
      {"REPORT RequestId: " + rid +
           "\tDuration: 125.93 ms\tBilled Duration: 126 ms\tMemory Size: 512 MB\tMax Memory Used: 88 MB\t"
           "Init Duration: 412.57 ms\t",
       "platform.report",
       {{"requestId", rid},
        {"status", "success"},
        {"metrics",
         {{"durationMs", 125.93},
          {"billedDurationMs", 126},
          {"memorySizeMB", 512},
          {"maxMemoryUsedMB", 88},
          {"initDurationMs", 412.57}}}}},
      // A timeout without an error type: Lambda's name for it, from either form.
      {"REPORT RequestId: " + rid +
           "\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 64 MB\t"
           "Status: timeout",
       "platform.report",
       {{"requestId", rid},
        {"status", "timeout"},
        {"metrics",
         {{"durationMs", 3000}, {"billedDurationMs", 3000}, {"memorySizeMB", 128}, {"maxMemoryUsedMB", 64}}}}},
      {"INIT_REPORT Init Duration: 10003.12 ms\tPhase: init\tStatus: timeout",
       "platform.initReport",
       {{"phase", "init"}, {"status", "timeout"}, {"metrics", {{"durationMs", 10003.12}}}}},
      {"INIT_START Runtime Version: python:3.12.v18\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:abc",
       "platform.initStart",
       {{"runtimeVersion", "python:3.12.v18"}, {"runtimeVersionArn", "arn:aws:lambda:eu-west-1::runtime:abc"}}},
  };
  for (const auto& p : pairs) {
    Enricher from_text(context(), {}), from_record(context(), {});
    const auto a = from_text.enrich(pipeline::Record{"function", "", EpochMs{1000}, json::value(p.line)});
    const auto b = from_record.enrich(pipeline::Record{p.type, "", EpochMs{1000}, json::value(p.record)});
    ASSERT_TRUE(a && b);
    auto da = json::parse(a->json).as_object(), db = json::parse(b->json).as_object();
    EXPECT_EQ(text(da, {"message"}), p.line);
    da.erase("message"), db.erase("message");
    EXPECT_EQ(json::serialize(da), json::serialize(db)) << p.line;
  }
}

// A record's value written as text (a message that is not a string) has the numbers of every other value of
// the document: one serializer (it used to be Boost.JSON's "1.5E0" here and "1.5" in labels.*).
TEST(Enrich, AMessageThatIsNotAStringIsWrittenAsTheDocumentWritesValues) {
  Enricher e(context(), {});
  const auto doc = e.enrich(
      pipeline::Record{"function", "", EpochMs{1}, json::parse(R"({"message":{"n":1.5,"k":[2,0.25]},"x":1.5})")});
  ASSERT_TRUE(doc);
  const auto d = json::parse(doc->json).as_object();
  EXPECT_EQ(text(d, {"message"}), R"({"n":1.5,"k":[2,0.25]})");
  EXPECT_NE(doc->json.find(R"("x":1.5)"), std::string::npos) << doc->json;
}

TEST(Enrich, ASuppressedInitFailureIsAnError) {
  const auto docs = of_action(enrich_sample("platform-restore-timeout-errors.json"), "platform.initReport");
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(text(docs.back(), {"error", "type"}), "Runtime.ExitError");
  EXPECT_EQ(text(docs.back(), {"aws", "lambda", "phase"}), "invoke");
}

TEST(Enrich, RequestIdsFollowTheInvocationWindowAcrossBatches) {
  Enricher e(context(), {});
  auto ev = [](std::string type, json::value record) {
    return pipeline::Record{std::move(type), "", EpochMs{1}, std::move(record)};
  };
  std::vector<json::object> docs;
  auto feed = [&](std::vector<pipeline::Record> batch) {
    for (auto& d : enrich_all(e, batch)) docs.push_back(std::move(d));
  };
  feed({ev("function", "init line\n"), ev("platform.start", json::object{{"requestId", "r1"}}), ev("function", "a\n")});
  feed({ev("function", "b\n"), ev("platform.runtimeDone", json::object{{"requestId", "r1"}, {"status", "success"}})});
  feed({ev("function", "between\n"), ev("platform.start", json::object{{"requestId", "r2"}}), ev("function", "c\n")});
  std::vector<std::string> ids;
  for (const auto& d : docs)
    if (text(d, {"event", "action"}) == "function") ids.push_back(text(d, {"faas", "execution"}));
  EXPECT_EQ(ids, (std::vector<std::string>{"", "r1", "r1", "", "r2"}));
}

TEST(Enrich, IncludeExcludeDropLinesButNeverPlatformEvents) {
  Rules rules;
  rules.exclude = Pattern::compile(".").value();  // everything
  Enricher e(context(), rules);
  auto batch = telemetry::parse_batch(test::telemetry_sample("platform-cold-start-invocation.json"), EpochMs{0});
  const auto docs = enrich_all(e, batch->events);
  for (const auto& d : docs) EXPECT_TRUE(text(d, {"event", "action"}).starts_with("platform.")) << text(d, {"message"});
  EXPECT_EQ(e.stats().filtered, 4u);  // 3 function lines + 1 extension line
}

TEST(Enrich, LongMessagesAreTruncatedWithTheirOriginalSize) {
  Rules rules;
  rules.max_message_bytes = 1024;
  Enricher e(context(), rules);
  pipeline::Record ev{"function", "", EpochMs{1}, json::value(std::string(5000, 'x'))};
  const auto d = json::parse(e.enrich(ev)->json).as_object();
  EXPECT_EQ(at(d, {"event", "original_size"})->as_int64(), 5000);
  EXPECT_TRUE(text(d, {"message"}).ends_with(truncated_marker));
  EXPECT_EQ(e.stats().truncated, 1u);
}

TEST(Enrich, RedactsMessages) {
  Rules rules;
  rules.redact_aws_access_keys = true;
  Enricher e(context(), rules);
  pipeline::Record ev{"function", "", EpochMs{1}, json::value("using AKIAIOSFODNN7EXAMPLE\n")};
  EXPECT_EQ(text(json::parse(e.enrich(ev)->json).as_object(), {"message"}), "using [REDACTED]");
  EXPECT_EQ(e.stats().redacted, 1u);
}

TEST(Enrich, TakesAccountAndFunctionIdFromTheInvokeArn) {
  auto ctx = context();
  ctx.account_id.clear();
  Enricher e(ctx, {});
  e.on_invoke("arn:aws:lambda:eu-west-1:210987654321:function:my-fn:prod");
  pipeline::Record ev{"function", "", EpochMs{1}, json::value("x")};
  const auto d = json::parse(e.enrich(ev)->json).as_object();
  EXPECT_EQ(text(d, {"cloud", "account", "id"}), "210987654321");
  EXPECT_EQ(text(d, {"faas", "id"}), "arn:aws:lambda:eu-west-1:210987654321:function:my-fn");
}

// The faas and cloud objects are rendered once per invocation and reused: every change shows in the next
// document (a new request id, the ARN of an invoke, an initialization type that ends cold starts, the end of
// the invocation's window).
TEST(Enrich, TheFaasAndCloudObjectsFollowEveryChange) {
  auto ctx = context();
  ctx.account_id.clear();
  Enricher e(ctx, {});
  const std::string a = "c0ffee00-1111-4222-8333-944455556666", b = "c0ffee00-2222-4222-8333-944455556666";
  auto doc = [&](std::string_view type, const json::value& record) {
    return json::parse(e.enrich(pipeline::Record(type, "", EpochMs{1}, record))->json).as_object();
  };
  auto line = [&] { return doc("function", json::value("a line")); };
  auto coldstart = [](const json::object& d) {
    const auto* c = at(d, {"faas", "coldstart"});
    return c ? std::optional<bool>(c->as_bool()) : std::nullopt;
  };

  auto d = doc("platform.start", json::object{{"requestId", a}});
  EXPECT_EQ(text(d, {"faas", "execution"}), a);
  EXPECT_EQ(coldstart(d), true);
  d = line();
  EXPECT_EQ(text(d, {"faas", "execution"}), a);
  EXPECT_EQ(coldstart(d), true);
  EXPECT_EQ(at(d, {"faas", "id"}), nullptr);
  EXPECT_EQ(at(d, {"cloud", "account"}), nullptr);

  e.on_invoke("arn:aws:lambda:us-east-1:210987654321:function:my-fn");
  d = line();
  EXPECT_EQ(text(d, {"faas", "id"}), "arn:aws:lambda:us-east-1:210987654321:function:my-fn");
  EXPECT_EQ(text(d, {"cloud", "account", "id"}), "210987654321");
  EXPECT_EQ(coldstart(d), true);

  (void)doc("platform.initStart", json::object{{"initializationType", "provisioned-concurrency"}});
  d = line();
  EXPECT_EQ(text(d, {"faas", "execution"}), a);
  EXPECT_EQ(coldstart(d), false);

  (void)doc("platform.runtimeDone", json::object{{"requestId", a}, {"status", "success"}});
  d = line();
  EXPECT_EQ(at(d, {"faas", "execution"}), nullptr);
  EXPECT_EQ(coldstart(d), std::nullopt);
  EXPECT_EQ(text(d, {"faas", "name"}), "my-fn");
  EXPECT_EQ(text(d, {"cloud", "region"}), "us-east-1");

  d = doc("platform.start", json::object{{"requestId", b}});
  EXPECT_EQ(text(d, {"faas", "execution"}), b);
  EXPECT_EQ(coldstart(d), false);
  d = line();
  EXPECT_EQ(text(d, {"faas", "execution"}), b);
  EXPECT_EQ(text(d, {"faas", "id"}), "arn:aws:lambda:us-east-1:210987654321:function:my-fn");
}

TEST(Enrich, ControlCharactersAndInvalidUtf8StillGiveValidJson) {
  Enricher e(context(), {});
  pipeline::Record ev{"function", "", EpochMs{1}, json::value(std::string("a\x01\x7f\xff\xfe b\0c", 9))};
  const auto d = e.enrich(ev);
  ASSERT_TRUE(d);
  EXPECT_NO_THROW((void)json::parse(d->json));
}

TEST(Enrich, KeepsTheRawRecordOnlyWhenAskedTo) {
  pipeline::Record ev{"function", "2024-05-02T11:00:00.102Z", EpochMs{0}, json::value("hi\n")};
  Enricher plain(context(), {});
  EXPECT_TRUE(plain.enrich(ev)->raw.empty());
  Enricher raw(context(), {}, "labels", true);
  EXPECT_EQ(raw.enrich(ev)->raw, R"({"time":"2024-05-02T11:00:00.102Z","type":"function","record":"hi\n"})");
}

TEST(Enrich, APlainLineWithoutALevelIsInfo) {
  Enricher e(context(), {});
  pipeline::Record ev{"function", "", EpochMs{0}, json::value("hello from print()\n")};
  EXPECT_EQ(text(json::parse(e.enrich(ev)->json).as_object(), {"log", "level"}), "info");
}

TEST(Enrich, KeepsAMultiLineRecordAsOneDocument) {
  Enricher e(context(), {});
  pipeline::Record ev{"function", "", EpochMs{0}, json::value("Error: boom\n    at a (x.js:1)\n    at b (y.js:2)\n")};
  const auto d = json::parse(e.enrich(ev)->json).as_object();
  EXPECT_EQ(text(d, {"message"}), "Error: boom\n    at a (x.js:1)\n    at b (y.js:2)");
}

}  // namespace
}  // namespace elk::pipeline
