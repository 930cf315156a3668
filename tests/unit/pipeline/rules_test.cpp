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
  r.include = Pattern::compile("order \\d+").value();
  EXPECT_TRUE(r.keep("processing order 42"));
  EXPECT_FALSE(r.keep("health check"));
}

TEST(Rules, ExcludeDropsMatchingMessages) {
  Rules r;
  r.exclude = Pattern::compile("^health").value();
  EXPECT_FALSE(r.keep("health check ok"));
  EXPECT_TRUE(r.keep("order 1"));
}

TEST(Rules, RedactsEveryMatchOfTheUsersPattern) {
  Rules r;
  r.redact = Pattern::compile("\\d{4}-\\d{4}-\\d{4}-\\d{4}|password=\\S+").value();
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
      "Authorization: Bearer eyJhbGciOi.J9eyJzdWIi.Ok_x-y= next; {\"authorization\":\"bearer abc\"} "
      "AUTHORIZATION=Bearer q";
  EXPECT_TRUE(r.apply_redactions(m));
  EXPECT_EQ(m,
            "Authorization: Bearer [REDACTED] next; {\"authorization\":\"bearer [REDACTED]\"} AUTHORIZATION=Bearer "
            "[REDACTED]");
}

TEST(Rules, LeavesMessagesAloneWhenNothingMatches) {
  Rules r;
  r.redact_bearer_tokens = r.redact_aws_access_keys = true;
  std::string m = "a bearer of good news; no authorization needed; AKIA is a prefix";
  EXPECT_FALSE(r.apply_redactions(m));
  EXPECT_EQ(m, "a bearer of good news; no authorization needed; AKIA is a prefix");
}

// What crashed std::regex (SIGSEGV: it recursed per character) or stalled it for seconds: long lines at
// EXTENSION_LOG_MAX_RECORD_BYTES' largest, greedy and nested patterns. RE2 matches them in linear time.
TEST(Rules, HostilePatternsOnLinesOfTheLargestRecordSizeNeitherCrashNorLoseTheLine) {
  const std::size_t largest = 1048576;  // EXTENSION_LOG_MAX_RECORD_BYTES' maximum
  std::string line(largest, 'a');
  line.replace(largest / 2, 8, "password");
  Rules exclude;
  exclude.exclude = Pattern::compile(".*password.*").value();
  EXPECT_FALSE(exclude.keep(line));
  Rules include;
  include.include = Pattern::compile("(a*)*b").value();  // catastrophic for a backtracking engine
  EXPECT_FALSE(include.keep(std::string(largest, 'a')));
  include.include = Pattern::compile("(a|aa)+$").value();
  EXPECT_TRUE(include.keep(std::string(largest, 'a')));

  Rules redact;
  redact.redact = Pattern::compile("token=\\S+").value();
  std::string jwt = "before token=" + std::string(largest - 40, 'x') + " after";
  EXPECT_TRUE(redact.apply_redactions(jwt));
  EXPECT_EQ(jwt, "before [REDACTED] after");
  // Every match of many, and a literal marker (RE2's rewrite escapes do not apply to it).
  redact.redact = Pattern::compile("k\\d").value();
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "k" + std::to_string(i % 10) + " ";
  EXPECT_TRUE(redact.apply_redactions(many));
  EXPECT_EQ(many.find("k"), std::string::npos);
  EXPECT_EQ(many.substr(0, 22), "[REDACTED] [REDACTED] ");
}

TEST(Rules, BytesThatAreNotUtf8StillMatchAndSurvive) {
  Rules r;
  r.redact = Pattern::compile("secret=\\w+").value();
  std::string m = "\xff\xfe secret=abc \xc3";
  EXPECT_TRUE(r.apply_redactions(m));
  EXPECT_EQ(m, "\xff\xfe [REDACTED] \xc3");
}

TEST(Pattern, ReplacesWithTheTextTakenLiterallyBackslashesIncluded) {
  const auto p = Pattern::compile("(k)ey").value();
  std::string m = "key, key";
  EXPECT_EQ(p.replace_all(m, "\\1\\\\"), 2u);
  EXPECT_EQ(m, "\\1\\\\, \\1\\\\");
}

TEST(Rules, PatternsRE2CannotMatchInLinearTimeAreRefusedWithTheReason) {
  const auto backreference = Pattern::compile("(a)\\1");
  ASSERT_FALSE(backreference);
  EXPECT_NE(backreference.error().message.find("escape"), std::string::npos) << backreference.error().message;
  EXPECT_FALSE(Pattern::compile("(?=look)ahead"));
  EXPECT_FALSE(Pattern::compile("unclosed("));
  EXPECT_TRUE(Pattern::compile("(?i)order \\d+|health"));
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
