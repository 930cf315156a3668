#include "pipeline/rules.h"

#include <gtest/gtest.h>

namespace elk::pipeline {
namespace {

TEST(Rules, KeepsEverythingByDefault) {
  Rules r;
  EXPECT_TRUE(r.keep("anything"));
}

TEST(Rules, IncludeKeepsOnlyMatchingMessages) {
  Rules r;
  r.include = std::regex("order \\d+");
  EXPECT_TRUE(r.keep("processing order 42"));
  EXPECT_FALSE(r.keep("health check"));
}

TEST(Rules, ExcludeDropsMatchingMessages) {
  Rules r;
  r.exclude = std::regex("^health");
  EXPECT_FALSE(r.keep("health check ok"));
  EXPECT_TRUE(r.keep("order 1"));
}

TEST(Rules, RedactsEveryMatchOfTheUsersPattern) {
  Rules r;
  r.redact = std::regex("\\d{4}-\\d{4}-\\d{4}-\\d{4}|password=\\S+");
  std::string m = "card 1234-5678-9012-3456 and password=hunter2 end";
  EXPECT_TRUE(r.apply_redactions(m));
  EXPECT_EQ(m, "card [REDACTED] and [REDACTED] end");
}

TEST(Rules, RedactsAwsAccessKeyIdsWhenSwitchedOn) {
  Rules r;
  r.redact_aws_access_keys = true;
  std::string m = "key AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A, not AKIAshort or XAKIAIOSFODNN7EXAMPLE";
  EXPECT_TRUE(r.apply_redactions(m));
  EXPECT_EQ(m, "key [REDACTED] and [REDACTED], not AKIAshort or XAKIAIOSFODNN7EXAMPLE");
}

TEST(Rules, RedactsBearerTokensWhenSwitchedOn) {
  Rules r;
  r.redact_bearer_tokens = true;
  std::string m =
      "Authorization: Bearer eyJhbGciOi.J9eyJzdWIi.Ok_x-y= next; {\"authorization\":\"bearer abc\"} AUTHORIZATION=Bearer q";
  EXPECT_TRUE(r.apply_redactions(m));
  EXPECT_EQ(m, "Authorization: Bearer [REDACTED] next; {\"authorization\":\"bearer [REDACTED]\"} AUTHORIZATION=Bearer [REDACTED]");
}

TEST(Rules, LeavesMessagesAloneWhenNothingMatches) {
  Rules r;
  r.redact_bearer_tokens = r.redact_aws_access_keys = true;
  std::string m = "a bearer of good news; no authorization needed; AKIA is a prefix";
  EXPECT_FALSE(r.apply_redactions(m));
  EXPECT_EQ(m, "a bearer of good news; no authorization needed; AKIA is a prefix");
}

TEST(Truncate, CutsLongMessagesWithAMarkerAndReportsTheOriginalSize) {
  std::string m(100, 'x');
  EXPECT_EQ(truncate_message(m, 10), 100u);
  EXPECT_EQ(m, std::string(10, 'x') + std::string(truncated_marker));
  std::string s = "short";
  EXPECT_FALSE(truncate_message(s, 10));
  EXPECT_EQ(s, "short");
}

TEST(Truncate, NeverSplitsAUtf8Character) {
  std::string m = "ab✓✓✓";  // ✓ is 3 bytes
  (void)truncate_message(m, 4);
  EXPECT_EQ(m, "ab" + std::string(truncated_marker));
}

}  // namespace
}  // namespace elk::pipeline
