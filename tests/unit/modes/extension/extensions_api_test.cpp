#include "modes/extension/extensions_api.h"

#include <gtest/gtest.h>

#include "../../test_util.h"
#include "http/server.h"
#include "sources/telemetry/subscription.h"

namespace elk::extension {
namespace {

namespace asio = boost::asio;

TEST(LifecycleEvent, ParsesInvoke) {
  const auto ev = parse_lifecycle_event(
      R"({"eventType":"INVOKE","deadlineMs":1714644935515,"requestId":"3da1f2dc","invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1"}})");
  ASSERT_TRUE(ev) << ev.error().message;
  EXPECT_EQ(ev->kind, LifecycleEvent::Kind::invoke);
  EXPECT_EQ(ev->deadline.value, 1714644935515);
  EXPECT_EQ(ev->request_id.value, "3da1f2dc");
  EXPECT_EQ(ev->invoked_function_arn, "arn:aws:lambda:us-east-1:123456789012:function:f");
}

TEST(LifecycleEvent, ParsesShutdownWithItsReasonAsSent) {
  const auto ev =
      parse_lifecycle_event(R"({"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":1714644937515})");
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->kind, LifecycleEvent::Kind::shutdown);
  EXPECT_EQ(ev->shutdown_reason, "spindown");
}

// Huge, negative and float deadlines used to reach an out-of-range cast and a chrono overflow (UB).
TEST(LifecycleEvent, AnyDeadlineBecomesASteadyTimeWithinFifteenMinutes) {
  for (const char* d : {"1e300", "-1e300", "18446744073709551615", "9223372036854775807", "-9223372036854775808",
                        "1714644935515.7", "0", "-5"}) {
    const auto ev = parse_lifecycle_event(std::string(R"({"eventType":"SHUTDOWN","deadlineMs":)") + d + "}");
    ASSERT_TRUE(ev) << d;
    const SteadyTime steady_now{std::chrono::hours(100)};
    for (const std::int64_t now : {std::int64_t{0}, std::int64_t{1714644935000}, INT64_MAX, INT64_MIN + 1}) {
      const auto at = steady_deadline(ev->deadline, EpochMs{now}, steady_now);
      EXPECT_GE(at, steady_now) << d;
      EXPECT_LE(at, steady_now + std::chrono::minutes(15)) << d;
    }
  }
  EXPECT_EQ(parse_lifecycle_event(R"({"eventType":"INVOKE","deadlineMs":1714644935515.7})")->deadline.value,
            1714644935516);
  const SteadyTime t0{std::chrono::hours(1)};
  EXPECT_EQ(steady_deadline(EpochMs{1500}, EpochMs{1000}, t0), t0 + std::chrono::milliseconds(500));
  EXPECT_EQ(steady_deadline(EpochMs{500}, EpochMs{1000}, t0), t0);
}

TEST(LifecycleEvent, RejectsUnknownOrMalformedEvents) {
  EXPECT_FALSE(parse_lifecycle_event("{}"));
  EXPECT_FALSE(parse_lifecycle_event(R"({"eventType":"RESTORE"})"));
  EXPECT_FALSE(parse_lifecycle_event("[]"));
}

// A scripted Extensions API: records each request and answers from a table.
struct ScriptedApi : ::testing::Test {
  asio::io_context io;
  std::vector<http::Request> seen;
  std::function<http::Response(const http::Request&)> answer;
  std::unique_ptr<http::Server> server;

  void SetUp() override {
    auto s = http::Server::start(io, {}, [this](http::Request r) -> asio::awaitable<http::Response> {
      seen.push_back(r);
      co_return answer(r);
    });
    ASSERT_TRUE(s) << s.error().message;
    server = std::move(*s);
  }
  ExtensionsApi api() { return ExtensionsApi(http::Endpoint{"127.0.0.1", server->port()}); }
};

TEST_F(ScriptedApi, RegistersWithItsNameAndEventsAndKeepsTheIdentifier) {
  answer = [](const http::Request&) {
    auto r = http::make_response(
        200, R"({"functionName":"fn","functionVersion":"$LATEST","handler":"h","accountId":"123456789012"})");
    r.headers.push_back({"Lambda-Extension-Identifier", "ext-uuid"});
    return r;
  };
  auto client = api();
  auto reg = test::run_sync(io, client.register_extension("elk-extension"));
  ASSERT_TRUE(reg) << reg.error().message;
  EXPECT_EQ(reg->id.value, "ext-uuid");
  EXPECT_EQ(reg->function_name, "fn");
  EXPECT_EQ(reg->account_id, "123456789012");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/2020-01-01/extension/register");
  EXPECT_EQ(seen[0].header("Lambda-Extension-Name"), "elk-extension");
  EXPECT_EQ(seen[0].header("Lambda-Extension-Accept-Feature"), "accountId");
  EXPECT_EQ(seen[0].body, R"({"events":["INVOKE","SHUTDOWN"]})");
}

TEST_F(ScriptedApi, ARefusedRegistrationSaysWhatLambdaAnswered) {
  answer = [](const http::Request&) { return http::make_response(403, R"({"errorType":"Extension.Forbidden"})"); };
  auto client = api();
  auto reg = test::run_sync(io, client.register_extension("x"));
  ASSERT_FALSE(reg);
  EXPECT_NE(reg.error().message.find("HTTP 403"), std::string::npos) << reg.error().message;
}

TEST_F(ScriptedApi, NextSendsTheIdentifierAndParsesTheEvent) {
  answer = [](const http::Request&) {
    return http::make_response(200, R"({"eventType":"SHUTDOWN","shutdownReason":"TIMEOUT","deadlineMs":5})");
  };
  auto client = api();
  auto ev = test::run_sync(io, client.next(ExtensionId{"ext-uuid"}));
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->shutdown_reason, "TIMEOUT");
  EXPECT_EQ(seen[0].target, "/2020-01-01/extension/event/next");
  EXPECT_EQ(seen[0].header("Lambda-Extension-Identifier"), "ext-uuid");
}

TEST_F(ScriptedApi, InitErrorCarriesTheErrorTypeHeaderAndMessage) {
  answer = [](const http::Request&) { return http::make_response(202, "{}"); };
  auto client = api();
  auto st =
      test::run_sync(io, client.init_error(ExtensionId{"id"}, "Extension.ConfigInvalid", "EXTENSION_LOG_X is bad"));
  ASSERT_TRUE(st);
  EXPECT_EQ(seen[0].target, "/2020-01-01/extension/init/error");
  EXPECT_EQ(seen[0].header("Lambda-Extension-Function-Error-Type"), "Extension.ConfigInvalid");
  EXPECT_NE(seen[0].body.find(R"("errorMessage":"EXTENSION_LOG_X is bad")"), std::string::npos) << seen[0].body;
}

TEST_F(ScriptedApi, SubscribeReturnsTheStatusForTheCallerToDecide) {
  answer = [](const http::Request&) { return http::make_response(404, "not found"); };
  auto client = api();
  auto req =
      telemetry::subscription_request(telemetry::Api::telemetry, {"platform", "function"}, {1000, 262144, 100}, 4243);
  auto ans = test::run_sync(io, client.subscribe(ExtensionId{"id"}, req.path, req.body));
  ASSERT_TRUE(ans);
  EXPECT_EQ(ans->status, 404);
  EXPECT_TRUE(telemetry::should_fall_back(ans->status));
  EXPECT_EQ(seen[0].method, "PUT");
  EXPECT_EQ(seen[0].target, "/2022-07-01/telemetry");
}

TEST(Subscription, TelemetryRequestFollowsTheSchema) {
  auto req =
      telemetry::subscription_request(telemetry::Api::telemetry, {"platform", "function"}, {1000, 262144, 100}, 4243);
  EXPECT_EQ(
      req.body,
      R"({"schemaVersion":"2022-12-13","types":["platform","function"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":100},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/"}})");
}

TEST(Subscription, LogsApiRequestUsesTheLogsPathAndSchema) {
  auto req = telemetry::subscription_request(telemetry::Api::logs, {"platform", "function"}, {1000, 262144, 100}, 80);
  EXPECT_EQ(req.path, "/2020-08-15/logs");
  EXPECT_NE(req.body.find(R"("schemaVersion":"2021-03-18")"), std::string::npos);
}

TEST_F(ScriptedApi, AnUnreachableApiIsAnErrorNotACrash) {
  auto port = server->port();
  server->stop();
  server.reset();
  io.run_for(std::chrono::milliseconds(10));
  ExtensionsApi client(http::Endpoint{"127.0.0.1", port});
  auto reg = test::run_sync(io, client.register_extension("x"));
  ASSERT_FALSE(reg);
  EXPECT_NE(reg.error().message.find("cannot register"), std::string::npos);
}

}  // namespace
}  // namespace elk::extension
