// Reading on-failure records for `replay`: every form they come in, and what is skipped, saying why.
#include "modes/forward/replay.h"

#include <gtest/gtest.h>

#include <fstream>

#include "../../test_util.h"

namespace elk::forward {
namespace {

constexpr std::string_view kRecord =
    R"({"requestContext":{"functionArn":"arn:aws:lambda:eu-west-1:123456789012:function:fwd"},)"
    R"("requestPayload":{"awslogs":{"data":"QUJD"}}})";

std::string write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = (dir.path / name).string();
  std::ofstream(path) << text;
  return path;
}

TEST(Replay, ReadsOneRecordAnArrayOrOnePerLineWithTheRegionOfTheFunction) {
  test::TempDir dir;
  for (const auto& text : {std::string(kRecord), "[" + std::string(kRecord) + "," + std::string(kRecord) + "]",
                           std::string(kRecord) + "\n\n" + std::string(kRecord) + "\n"}) {
    std::vector<std::string> skipped;
    const auto read = read_on_failure_records(write(dir, "records.json", text), skipped);
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_TRUE(skipped.empty());
    ASSERT_FALSE(read->empty());
    for (const auto& r : *read) {
      EXPECT_EQ(r.region, "eu-west-1");
      EXPECT_EQ(r.event, R"({"awslogs":{"data":"QUJD"}})");
    }
  }
}

TEST(Replay, ReadsSqsMessagesAsReceiveMessageWritesThem) {
  test::TempDir dir;
  std::string body = std::string(kRecord);
  std::string escaped;
  for (const char c : body) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
  std::vector<std::string> skipped;
  const auto read = read_on_failure_records(
      write(dir, "sqs.json", R"({"Messages":[{"MessageId":"1","Body":")" + escaped + R"("}]})"), skipped);
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ((*read)[0].event, R"({"awslogs":{"data":"QUJD"}})");
}

TEST(Replay, SkipsWhatIsNotAnOnFailureRecordSayingWhereAndWhyAndKeepsTheRest) {
  test::TempDir dir;
  std::vector<std::string> skipped;
  const auto path =
      write(dir, "mixed.jsonl", std::string(kRecord) + "\nnot json\n{\"other\":1}\n" + std::string(kRecord) + "\n");
  const auto read = read_on_failure_records(path, skipped);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->size(), 2u);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_NE(skipped[0].find(path + ":2: not JSON"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find(path + ":3: no requestPayload"), std::string::npos) << skipped[1];
  EXPECT_EQ((*read)[1].source, path + ":4");
}

TEST(Replay, AFileThatCannotBeReadIsAnErrorNamingIt) {
  std::vector<std::string> skipped;
  const auto read = read_on_failure_records("/nonexistent/failed.json", skipped);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "/nonexistent/failed.json: cannot be read");
}

}  // namespace
}  // namespace elk::forward
