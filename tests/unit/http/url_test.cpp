#include "http/url.h"

#include <gtest/gtest.h>

namespace elk::http {
namespace {

Url parsed(std::string_view text) {
  auto url = parse_url(text);
  EXPECT_TRUE(url) << text << ": " << (url ? "" : url.error().message);
  return url ? *url : Url{};
}

std::string error_of(std::string_view text) {
  auto url = parse_url(text);
  EXPECT_FALSE(url) << text << " parsed";
  return url ? "" : url.error().message;
}

TEST(ParseUrl, TakesHttpsWithTheDefaultPortAndNoPath) {
  const auto u = parsed("https://bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_TRUE(u.tls());
  EXPECT_EQ(u.host, "bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path, "");
  EXPECT_EQ(u.host_header(), "bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(u.origin(), "https://bucket.s3.eu-west-1.amazonaws.com");
}

TEST(ParseUrl, TakesHttpWithAPortAndAPathPrefixWithoutItsTrailingSlash) {
  const auto u = parsed("http://logstash.internal:8080/ingest/");
  EXPECT_FALSE(u.tls());
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/ingest");
  EXPECT_EQ(u.host_header(), "logstash.internal:8080");
  EXPECT_EQ(u.origin(), "http://logstash.internal:8080");
  EXPECT_EQ(parsed("http://x/").path, "");
  EXPECT_EQ(parsed("http://x/a%20b").path, "/a%20b");
}

TEST(ParseUrl, LeavesTheDefaultPortOutOfTheHostHeaderEvenWhenWritten) {
  EXPECT_EQ(parsed("https://es.example:443").host_header(), "es.example");
  EXPECT_EQ(parsed("http://es.example:80").host_header(), "es.example");
  EXPECT_EQ(parsed("http://es.example:443").host_header(), "es.example:443");
  EXPECT_EQ(parsed("https://es.example:80").host_header(), "es.example:80");
}

TEST(ParseUrl, TakesIpv6InBrackets) {
  const auto u = parsed("http://[::1]:9200/x");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9200);
  EXPECT_EQ(u.host_header(), "[::1]:9200");
  EXPECT_EQ(u.origin(), "http://[::1]:9200");
  EXPECT_EQ(parsed("https://[2001:db8::1]").host_header(), "[2001:db8::1]");
}

TEST(ParseUrl, LowerCasesSchemeAndHost) {
  const auto u = parsed("HTTPS://ES.Example.COM:9243");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.host, "es.example.com");
}

TEST(ParseUrl, RefusesOtherSchemesNamingTheText) {
  EXPECT_EQ(error_of("ftp://x"), "'ftp://x' is not an http:// or https:// URL");
  EXPECT_EQ(error_of("localhost:9200"), "'localhost:9200' is not an http:// or https:// URL");
  EXPECT_EQ(error_of(""), "'' is not an http:// or https:// URL");
}

TEST(ParseUrl, RefusesBadHostsAndPorts) {
  EXPECT_NE(error_of("http://").find("no host"), std::string::npos);
  EXPECT_NE(error_of("http://:80").find("no host"), std::string::npos);
  EXPECT_NE(error_of("http://x:0").find("port '0'"), std::string::npos);
  EXPECT_NE(error_of("http://x:65536").find("port '65536'"), std::string::npos);
  EXPECT_NE(error_of("http://x:").find("port ''"), std::string::npos);
  EXPECT_NE(error_of("http://x:8a").find("port '8a'"), std::string::npos);
  EXPECT_NE(error_of("http://::1:80").find("brackets"), std::string::npos);
  EXPECT_NE(error_of("http://[::1").find("']'"), std::string::npos);
  EXPECT_NE(error_of("http://[::1]x").find("after the IPv6"), std::string::npos);
  EXPECT_NE(error_of("http://[zz]").find("not an IPv6"), std::string::npos);
  EXPECT_NE(error_of("http://a b").find("space"), std::string::npos);
  EXPECT_NE(error_of("http://a!b").find("'a!b' is not a host name"), std::string::npos);
}

TEST(ParseUrl, RefusesQueriesAndFragments) {
  EXPECT_NE(error_of("http://x/a?b=1").find("query"), std::string::npos);
  EXPECT_NE(error_of("http://x?b=1").find("query"), std::string::npos);
  EXPECT_NE(error_of("http://x/#f").find("fragment"), std::string::npos);
}

TEST(ParseUrl, RefusesUserInformationWithoutRepeatingThePassword) {
  const auto e = error_of("https://elastic:s3cret@es.example:9243/");
  EXPECT_NE(e.find("user information"), std::string::npos) << e;
  EXPECT_NE(e.find("'https://***@es.example:9243/'"), std::string::npos) << e;
  EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
  // Whatever else is wrong with it: no scheme, another scheme, a bad port, an '@' in the password.
  for (const char* url :
       {"elastic:s3cret@es.example:9243", "ftp://elastic:s3cret@es.example", "https://elastic:s3cret@es.example:99999",
        "https://elastic:s3@cret@es.example", "https://elastic:s3cret@@es.example/a@b"}) {
    const auto message = error_of(url);
    EXPECT_EQ(message.find("s3cret"), std::string::npos) << message;
    EXPECT_EQ(message.find("cret"), std::string::npos) << message;
    EXPECT_NE(message.find("***@"), std::string::npos) << message;
  }
}

TEST(WithoutUserinfo, MasksUpToTheLastAtOfTheAuthorityOnly) {
  EXPECT_EQ(without_userinfo("https://u:p@h:1/x@y"), "https://***@h:1/x@y");
  EXPECT_EQ(without_userinfo("u:p@h:1"), "***@h:1");
  EXPECT_EQ(without_userinfo("tcp://u:p@q@h:1"), "tcp://***@h:1");
  EXPECT_EQ(without_userinfo("https://h:1/a@b"), "https://h:1/a@b");
  EXPECT_EQ(without_userinfo("https://h"), "https://h");
}

}  // namespace
}  // namespace elk::http
