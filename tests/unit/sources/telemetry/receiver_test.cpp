#include "sources/telemetry/receiver.h"

#include <gtest/gtest.h>

#include "../../test_util.h"

namespace elk::telemetry {
namespace {

struct ReceiverTest : ::testing::Test {
  std::vector<pipeline::Record> got;
  std::FILE* log_sink = std::tmpfile();
  Logger log{log_sink};
  Receiver receiver{[this](std::vector<pipeline::Record>&& events) {
                      for (auto& e : events) got.push_back(std::move(e));
                    },
                    log};
  ~ReceiverTest() override { std::fclose(log_sink); }

  http::Response post(std::string body, SteadyTime at = SteadyTime{}) {
    http::Request req;
    req.method = "POST";
    req.body = std::move(body);
    return receiver.handle(req, EpochMs{1}, at);
  }
  std::string logged() {
    std::fflush(log_sink);
    std::rewind(log_sink);
    std::string out(4096, '\0');
    out.resize(std::fread(out.data(), 1, out.size(), log_sink));
    return out;
  }
};

TEST_F(ReceiverTest, AcceptsADeliveryAndHandsOnEveryRecord) {
  const auto res = post(test::telemetry_sample("platform-cold-start-invocation.json"));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(got.size(), 12u);
  EXPECT_EQ(receiver.stats().deliveries, 1u);
  EXPECT_EQ(receiver.stats().events, 12u);
}

TEST_F(ReceiverTest, AnswersAnUnparseableBody200SoLambdaDoesNotResendItForever) {
  EXPECT_EQ(post("{garbage").status, 200);
  EXPECT_EQ(post("\"a string\"").status, 200);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(receiver.stats().bad_bodies, 2u);
}

TEST_F(ReceiverTest, ReportsBadBodiesAtMostOncePerMinute) {
  const SteadyTime t0{std::chrono::hours(1)};
  for (int i = 0; i < 50; ++i) (void)post("{", t0 + std::chrono::seconds(i));
  (void)post("{", t0 + std::chrono::seconds(61));
  const auto text = logged();
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 2u) << text;
  EXPECT_NE(text.find("51 such deliveries so far (49 not reported)"), std::string::npos) << text;
}

TEST_F(ReceiverTest, ABadRecordIsRepairedCountedAndReportedAndItsNeighboursHandedOn) {
  const SteadyTime t0{std::chrono::hours(1)};
  const std::string body =
      R"([{"type":"function","record":"good"},{"type":"function","record":"cut \ud83d"},)"
      "{\"type\":\"function\",\"record\":\"\xFF\"},{\"type\":},{\"type\":\"function\",\"record\":\"also good\"}]";
  EXPECT_EQ(post(body, t0).status, 200);
  EXPECT_EQ(post(body, t0 + std::chrono::seconds(1)).status, 200);
  ASSERT_EQ(got.size(), 8u);
  EXPECT_EQ(got[0].body.string(), "good");
  EXPECT_EQ(got[1].body.string(), "cut \xEF\xBF\xBD");
  EXPECT_EQ(got[3].body.string(), "also good");
  EXPECT_EQ(receiver.stats().repaired_items, 4u);
  EXPECT_EQ(receiver.stats().skipped_items, 2u);
  EXPECT_EQ(receiver.stats().bad_bodies, 0u);
  const auto text = logged();
  EXPECT_NE(text.find("repaired 2 of the 4 records of a telemetry delivery"), std::string::npos) << text;
  EXPECT_EQ(text.find("repaired 2 of the 4", text.find("repaired 2 of the 4") + 1), std::string::npos) << text;
}

TEST_F(ReceiverTest, CountsRefusedBodies) {
  receiver.refused(413, "body over the limit", SteadyTime{});
  EXPECT_EQ(receiver.stats().refused, 1u);
  EXPECT_NE(logged().find("413"), std::string::npos);
}

TEST_F(ReceiverTest, AnswersOtherMethods405) {
  http::Request req;
  req.method = "GET";
  EXPECT_EQ(receiver.handle(req, EpochMs{1}, SteadyTime{}).status, 405);
}

TEST(ReceiverLimit, AllowsWhatLambdaMaySendForTheSubscribedMaxBytes) {
  // Lambda sends up to 2 * maxBytes plus metadata.
  EXPECT_GT(Receiver::body_limit(262144), 2u * 262144 + 64 * 1024);
}

}  // namespace
}  // namespace elk::telemetry
