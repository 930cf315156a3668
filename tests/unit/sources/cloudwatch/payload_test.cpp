#include "sources/cloudwatch/payload.h"

#include <gtest/gtest.h>

#include "core/base64.h"
#include "core/gzip.h"

namespace elk::cloudwatch {
namespace {

std::string data_of(std::string_view json) {
  return base64(gzip(json));
}

constexpr std::string_view kData = R"({"messageType":"DATA_MESSAGE","owner":"123456789012",
  "logGroup":"/aws/lambda/orders","logStream":"2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef",
  "subscriptionFilters":["elk"],"logEvents":[
  {"id":"37000000000000000000000000000000000000000000000000000000","timestamp":1765100000000,"message":"one\n"},
  {"id":"37000000000000000000000000000000000000000000000000000001","timestamp":1765100000000,"message":"two"}]})";

TEST(Base64, DecodesWhatItEncodes) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x80", 3)})
    EXPECT_EQ(decode_base64(base64(s)), s);
}

TEST(Base64, RefusesWhatIsNotStrictBase64) {
  EXPECT_FALSE(decode_base64("Zm9"));       // length
  EXPECT_FALSE(decode_base64("Zm9v\n"));    // whitespace
  EXPECT_FALSE(decode_base64("Zm*v"));      // alphabet
  EXPECT_FALSE(decode_base64("Zg==Zm9v"));  // padding inside
  EXPECT_FALSE(decode_base64("Zh=="));      // bits after the last byte
  EXPECT_FALSE(decode_base64("===="));
  EXPECT_EQ(decode_base64("Zg=="), "f");
}

TEST(Gunzip, InflatesOneMemberOrSeveral) {
  EXPECT_EQ(gunzip(gzip("hello"), 100), "hello");
  EXPECT_EQ(gunzip(gzip("hello ") + gzip("world"), 100), "hello world");
  EXPECT_EQ(gunzip(gzip(""), 100), "");
}

TEST(Gunzip, SaysWhatIsWrong) {
  EXPECT_NE(gunzip("plain text, not gzip at all", 100).error().message.find("not gzip"), std::string::npos);
  const auto z = gzip(std::string(1000, 'x'));
  const auto cut = gunzip(z.substr(0, z.size() - 4), 10000);
  ASSERT_FALSE(cut);
  EXPECT_NE(cut.error().message.find("cut short"), std::string::npos) << cut.error().message;
  std::string corrupt = z;
  corrupt[12] = static_cast<char>(corrupt[12] ^ 0x5a);
  corrupt[13] = static_cast<char>(corrupt[13] ^ 0x5a);
  EXPECT_FALSE(gunzip(corrupt, 10000));
  EXPECT_NE(gunzip(z + "trailing junk", 10000).error().message.find("something else"), std::string::npos);
}

TEST(Gunzip, StopsAtItsBoundWhateverTheRatio) {
  const auto bomb = gzip(std::string(8 * 1024 * 1024, '\0'));  // about 8 KB that inflate a thousand times
  const auto r = gunzip(bomb, 1024 * 1024);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("past 1048576 bytes"), std::string::npos);
  EXPECT_EQ(gunzip(gzip(std::string(1024, 'a')), 1024)->size(), 1024u);
}

TEST(Payload, DecodesADataMessage) {
  const auto p = decode_payload(data_of(kData));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->type, Payload::Type::data);
  EXPECT_EQ(p->owner, "123456789012");
  EXPECT_EQ(p->log_group, "/aws/lambda/orders");
  EXPECT_EQ(p->subscription_filters, std::vector<std::string>{"elk"});
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[0].id, "37000000000000000000000000000000000000000000000000000000");
  EXPECT_EQ(p->events[0].timestamp, 1765100000000);
  EXPECT_EQ(p->events[0].message, "one\n");
  EXPECT_EQ(p->events[1].message, "two");
}

TEST(Payload, DecodesAControlMessage) {
  const auto p = decode_payload(
      data_of(R"({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",)"
              R"("subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1765100000000,)"
              R"("message":"CWL CONTROL MESSAGE: Checking health of destination Lambda function."}]})"));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->type, Payload::Type::control);
}

TEST(Payload, SkipsMalformedEventsAndKeepsTheGoodOnes) {
  const auto p = parse_payload(R"({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",
    "logEvents":[{"id":"1","timestamp":5,"message":"good"},{"id":2,"timestamp":5,"message":"x"},
    {"id":"3","message":"no time"},7,{"id":"4","timestamp":6.0,"message":"good too"}]})");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[1].message, "good too");
  EXPECT_EQ(p->events[1].timestamp, 6);
  EXPECT_EQ(p->malformed_events, 3u);
}

TEST(Payload, RefusesWhatIsNotAPayloadSayingWhy) {
  auto why = [](std::string_view data) {
    const auto p = decode_payload(data);
    return p ? std::string("decoded") : p.error().message;
  };
  EXPECT_NE(why("not base64!").find("not base64"), std::string::npos);
  EXPECT_NE(why(base64("plain")).find("not gzip"), std::string::npos);
  EXPECT_NE(why(data_of("{not json")).find("not JSON"), std::string::npos);
  EXPECT_NE(why(data_of("[1,2]")).find("not a JSON object"), std::string::npos);
  EXPECT_NE(why(data_of(R"({"messageType":"OTHER"})")).find("messageType is 'OTHER'"), std::string::npos);
  EXPECT_NE(why(data_of(R"({"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s"})")).find("no logEvents"),
            std::string::npos);
  EXPECT_NE(why(base64(gzip(std::string(64 * 1024 * 1024, ' ')))).find("inflates past"), std::string::npos);
  const auto empty = decode_payload(data_of(R"({"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s",)"
                                            R"("logEvents":[]})"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->events.empty());
}

TEST(Event, TellsASubscriptionEventFromAKinesisBatch) {
  const auto s = parse_event(R"({"awslogs":{"data":"QUJD"}})");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, Event::Type::subscription);
  EXPECT_EQ(s->data, "QUJD");
  const auto k = parse_event(R"({"Records":[{"kinesis":{"data":"QUJD","sequenceNumber":"4959"},"eventID":"x"},)"
                             R"({"kinesis":{"data":"REVG","sequenceNumber":"4960"}}]})");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->type, Event::Type::kinesis);
  ASSERT_EQ(k->records.size(), 2u);
  EXPECT_EQ(k->records[1].sequence_number, "4960");
  EXPECT_EQ(k->records[1].data, "REVG");
  EXPECT_FALSE(parse_event(R"({"hello":"world"})"));
  EXPECT_FALSE(parse_event(R"({"awslogs":{}})"));
  EXPECT_FALSE(parse_event(R"({"Records":[{"kinesis":{"data":"QUJD"}}]})"));
  EXPECT_FALSE(parse_event("not json"));
}

}  // namespace
}  // namespace elk::cloudwatch
