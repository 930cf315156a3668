#include "sources/telemetry/parse.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstring>
#include <random>

#include "../../test_util.h"
#include "core/time.h"
#include "core/time_text.h"
#include "sources/telemetry/salvage.h"

namespace elk::telemetry {
namespace {

constexpr EpochMs received{1700000000000};

// Everything an event carries, records serialized (so that the members' order counts too).
std::string describe(const Delivery& b) {
  std::string out = "skipped " + std::to_string(b.skipped) + "\n";
  for (const auto& e : b.events)
    out += std::string(e.type_name) + " | " + std::string(e.time) + " | " + std::to_string(e.time_ms.value) + " | " +
           boost::json::serialize(e.body.to_value()) + "\n";
  return out;
}

// The streaming reader must agree with Boost.JSON's DOM parse of the whole body: the same verdict, the same
// events. And it must read by itself every body the DOM parse accepts (parse_batch's fallback to the DOM
// parse is for error messages, not a crutch). A body the DOM refuses is read item by item by parse_batch
// (salvage), which gives an error only for a body that is not an array at all, with the DOM's message.
void expect_same_as_dom(std::string_view body) {
  const auto dom = detail::parse_batch_dom(body, received);
  const auto streamed = detail::read_batch_streaming(body, received);
  const auto parsed = parse_batch(body, received);
  ASSERT_EQ(dom.has_value(), streamed.has_value()) << "body: " << body;
  if (!dom) {
    if (!parsed) {
      EXPECT_EQ(parsed.error().message, dom.error().message);
      EXPECT_FALSE(detail::salvage_items(body)) << "an array is read item by item: " << body;
    }
    return;
  }
  ASSERT_TRUE(parsed) << "body: " << body;
  EXPECT_EQ(describe(*streamed), describe(*dom)) << "body: " << body;
  EXPECT_EQ(describe(*parsed), describe(*dom)) << "body: " << body;
  EXPECT_EQ(parsed->repaired, 0u);
}

std::string one_record(std::string_view record_json) {
  return R"([{"time":"2024-05-02T11:00:00.102Z","type":"function","record":)" + std::string(record_json) + "}]";
}

// The record of a one-item body, which must parse.
boost::json::value record_of(std::string_view record_json) {
  const auto batch = parse_batch(one_record(record_json), received);
  EXPECT_TRUE(batch) << record_json;
  if (!batch || batch->events.size() != 1) return nullptr;
  return batch->events[0].body.to_value();
}

struct SampleCase {
  std::string file;
  std::size_t events;
};

class Samples : public ::testing::TestWithParam<SampleCase> {};

TEST_P(Samples, EveryRecordOfTheReferenceBatchesParses) {
  const auto batch = parse_batch(test::telemetry_sample(GetParam().file), received);
  ASSERT_TRUE(batch) << batch.error().message;
  EXPECT_EQ(batch->events.size(), GetParam().events);
  EXPECT_EQ(batch->skipped, 0u);
  for (const auto& e : batch->events) {
    EXPECT_FALSE(e.type_name.empty());
    EXPECT_NE(e.time_ms, received) << "the sample's own time is used: " << e.time;
  }
}

INSTANTIATE_TEST_SUITE_P(Telemetry, Samples,
                         ::testing::Values(SampleCase{"function-json-logs.json", 13},
                                           SampleCase{"function-text-logs-multi-runtime.json", 15},
                                           SampleCase{"logs-api-batch-2021-03-18.json", 14},
                                           SampleCase{"platform-cold-start-invocation.json", 12},
                                           SampleCase{"platform-restore-timeout-errors.json", 13}));

TEST(ParseBatch, KeepsStringAndObjectRecordsAsTheyCame) {
  const auto batch = parse_batch(test::telemetry_sample("function-json-logs.json"), received);
  ASSERT_TRUE(batch);
  std::size_t objects = 0, strings = 0;
  for (const auto& e : batch->events) {
    if (e.type_name != "function") continue;
    objects += e.body.is_object();
    strings += e.body.is_string();
  }
  EXPECT_GT(objects, 0u);
  EXPECT_EQ(strings, 1u);  // the bare print() line
}

TEST(ParseBatch, ABodyThatIsNotAnArrayIsAnError) {
  EXPECT_FALSE(parse_batch("", received));
  EXPECT_FALSE(parse_batch("not json", received));
  EXPECT_FALSE(parse_batch(R"({"time":"x","type":"function","record":"a"})", received));
  // Truncated, but an array: what is whole is kept.
  const auto truncated = parse_batch(R"([{"type":"function"})", received);
  ASSERT_TRUE(truncated);
  EXPECT_EQ(truncated->events.size(), 1u);
}

TEST(ParseBatch, ItemsThatAreNotRecordsAreSkippedAndCounted) {
  const auto batch = parse_batch(R"([1, "x", null, {"record":"no type"}, {"type":7},
                                    {"type":"function","time":"2024-05-02T10:15:30.520Z","record":"ok"}])",
                                 received);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->skipped, 5u);
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].body.string(), "ok");
}

TEST(ParseBatch, AMissingOrMalformedTimeTakesTheReceiveTime) {
  const auto batch = parse_batch(
      R"([{"type":"function","record":"a"},{"type":"function","time":"yesterday","record":"b"}])", received);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 2u);
  for (const auto& e : batch->events) {
    EXPECT_EQ(e.time_ms, received);
    EXPECT_EQ(e.time, "2023-11-14T22:13:20.000Z");
  }
}

TEST_P(Samples, TheStreamingReaderGivesWhatTheDomParseGives) {
  const auto body = test::telemetry_sample(GetParam().file);
  ASSERT_TRUE(detail::read_batch_streaming(body, received)) << "read without the DOM fallback";
  expect_same_as_dom(body);
}

TEST(ParseBatch, ABodyThatIsNotAnArraySaysWhy) {
  EXPECT_EQ(parse_batch(R"({"type":"function"})", received).error().message, "telemetry body is JSON but not an array");
  EXPECT_EQ(parse_batch("42", received).error().message, "telemetry body is JSON but not an array");
  EXPECT_TRUE(parse_batch("nul", received).error().message.starts_with("telemetry body is not JSON ("));
  for (const char* body : {"",
                           " ",
                           "[",
                           "]",
                           "[}",
                           "[1,]",
                           "[,1]",
                           "[1 2]",
                           "[] []",
                           "[]x",
                           "\xEF\xBB\xBF[]",
                           "nul",
                           "[{\"type\":\"function\",}]",
                           "[{\"type\" \"function\"}]",
                           "[{type:\"function\"}]",
                           "[{\"type\":\"function\"]",
                           "[{\"type\":\"function\"}",
                           "[\"a\"",
                           "[01]",
                           "[-]",
                           "[tru]"})
    expect_same_as_dom(body);
}

TEST(ParseBatch, UnescapesEveryJsonEscapeIntoUtf8) {
  EXPECT_EQ(record_of(R"("q\" b\\ s\/ \b\f\n\r\t")").as_string(), "q\" b\\ s/ \b\f\n\r\t");
  EXPECT_EQ(record_of(R"("\u0041\u00e9\u00E9\u20ac\uFFFF")").as_string(), "A\xC3\xA9\xC3\xA9\xE2\x82\xAC\xEF\xBF\xBF");
  EXPECT_EQ(record_of(R"("\ud83d\ude00 \uD834\uDD1E")").as_string(),
            "\xF0\x9F\x98\x80 \xF0\x9D\x84\x9E");  // surrogate pairs
  EXPECT_EQ(record_of(R"("nul\u0000here")").as_string(), std::string_view("nul\0here", 8));
  EXPECT_EQ(record_of(R"("")").as_string(), "");
  EXPECT_EQ(record_of(R"("\n")").as_string(), "\n");
  // Text that is not escaped is kept as it is, UTF-8 included.
  EXPECT_EQ(record_of("\"h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80\"").as_string(),
            "h\xC3\xA9llo \xE2\x9C\x93 \xF0\x9F\x98\x80");
  for (const char* r : {R"("a\"b")", R"("\\\\")", R"("\u00e9\n\u00e9")", "\"\xF4\x8F\xBF\xBF\"", R"("x\/y")"})
    expect_same_as_dom(one_record(r));
}

// A string that is not valid JSON costs no record: invalid UTF-8 bytes and lone surrogate escapes become U+FFFD,
// control characters are kept (escaped), a backslash that starts no escape stands for itself; the record is kept
// and counted as repaired. Only a string that never closes leaves nothing to read.
TEST(ParseBatch, AnInvalidStringIsRepairedAndTheRecordKept) {
  const std::string fffd = "\xEF\xBF\xBD";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("\x")", "\\x"},
      {R"("\u12")", "\\u12"},
      {R"("\u12G4")", "\\u12G4"},
      {R"("\uZZZZ")", "\\uZZZZ"},
      {R"("\ud83d")", fffd},  // JSON.stringify of a string cut inside an emoji
      {R"("\ud83d x")", fffd + " x"},
      {R"("\ud83d\u0041")", fffd + "A"},
      {R"("\ude00")", fffd},
      {R"("\ud83d\n")", fffd + "\n"},
      {"\"tab\tinside\"", "tab\tinside"},
      {"\"line\nbreak\"", "line\nbreak"},
      {"\"\x01\"", "\x01"},
      {"\"\xFF\"", fffd},
      {"\"\xC0\xAF\"", fffd + fffd},
      {"\"\xED\xA0\x80\"", fffd + fffd + fffd},
      {"\"\xE2\x9C\"", fffd + fffd},
      {"\"\xF4\x90\x80\x80\"", fffd + fffd + fffd + fffd},
      {"\"\x80\"", fffd},
      {"\"caf\xC3\xA9 \xFF \\ud83d\"", "caf\xC3\xA9 " + fffd + " " + fffd},
  };
  for (const auto& [record, text] : cases) {
    expect_same_as_dom(one_record(record));
    const auto batch = parse_batch(one_record(record), received);
    ASSERT_TRUE(batch) << record;
    ASSERT_EQ(batch->events.size(), 1u) << record;
    EXPECT_EQ(batch->repaired, 1u) << record;
    EXPECT_EQ(batch->skipped, 0u) << record;
    EXPECT_EQ(batch->events[0].type_name, "function");
    EXPECT_EQ(batch->events[0].time, "2024-05-02T11:00:00.102Z");
    EXPECT_EQ(batch->events[0].body.string(), text) << record;
  }
  // Never closed: nothing to read, counted.
  for (const char* record : {R"("\)", "\"cut"}) {
    const auto batch = parse_batch(one_record(record), received);
    ASSERT_TRUE(batch) << record;
    EXPECT_TRUE(batch->events.empty());
    EXPECT_EQ(batch->skipped, 1u);
  }
  // The same repairs hold for the time, the type, keys and values nobody reads.
  for (const char* body :
       {R"([{"time":"\x","type":"function"}])", R"([{"type":"func\ud800tion"}])", R"([{"typ\e":"function"}])",
        R"([{"type":"function","other":"\u12"}])", "[{\"type\":\"function\",\"other\":\"\xFF\"}]", "[\"\xFF\"]"})
    expect_same_as_dom(body);
  const auto type = parse_batch(R"([{"type":"func\ud800tion","record":"r"}])", received);
  ASSERT_TRUE(type);
  ASSERT_EQ(type->events.size(), 1u);
  EXPECT_EQ(type->events[0].type_name, "func" + fffd + "tion");
}

// One bad record among good ones costs none of the good ones (issue: up to 10,000 good records were lost with
// the body): each good item is read as it came, each repairable one repaired, each unreadable one counted.
TEST(ParseBatch, BadItemsCostNoneOfTheirNeighbours) {
  const std::string good1 = R"({"time":"2024-05-02T11:00:00.102Z","type":"function","record":"first"})";
  const std::string good2 =
      R"({"time":"2024-05-02T11:00:00.103Z","type":"function","record":{"level":"INFO","message":"second"}})";
  const std::string good3 =
      R"({"time":"2024-05-02T11:00:00.104Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"success"}})";
  std::string deep = R"({"level":"ERROR","message":"deep","requestId":"r2","data":)";
  for (int i = 0; i < 40; ++i) deep += R"({"a":)";
  deep += "1";
  for (int i = 0; i < 40; ++i) deep += "}";
  deep += "}";
  const std::vector<std::string> bad = {
      R"({"time":"2024-05-02T11:00:00.105Z","type":"function","record":"cut \ud83d"})",
      "{\"time\":\"2024-05-02T11:00:00.106Z\",\"type\":\"function\",\"record\":\"bytes \xC3\x28 here\"}",
      R"({"time":"2024-05-02T11:00:00.107Z","type":"function","record":)" + deep + "}",
      R"({"type": })",                         // not JSON, beyond repair
      R"({"type":"function","record":[1,2})",  // a bracket that does not match
  };
  const std::string goods = "[" + good1 + "," + good2 + "," + good3 + "]";
  const auto expected = parse_batch(goods, received);
  ASSERT_TRUE(expected);
  for (std::size_t b = 0; b < bad.size(); ++b) {
    // The bad item first, between good ones, and last.
    for (int at = 0; at < 3; ++at) {
      std::vector<std::string> items = {good1, good2, good3};
      items.insert(items.begin() + at + (at == 2 ? 1 : 0), bad[b]);
      std::string body = "[";
      for (const auto& item : items) body += item + ",\n";
      body.resize(body.size() - 2);
      body += "]";
      const auto batch = parse_batch(body, received);
      ASSERT_TRUE(batch) << body;
      Delivery goods_only;
      for (const auto& e : batch->events)
        if (e.time != "2024-05-02T11:00:00.105Z" && e.time != "2024-05-02T11:00:00.106Z" &&
            e.time != "2024-05-02T11:00:00.107Z")
          goods_only.events.push_back(e);
      EXPECT_EQ(describe(goods_only), describe(*expected)) << body;
      const bool repairable = b < 3;
      EXPECT_EQ(batch->events.size(), repairable ? 4u : 3u) << body;
      EXPECT_EQ(batch->repaired, repairable ? 1u : 0u) << body;
      EXPECT_EQ(batch->skipped, repairable ? 0u : 1u) << body;
    }
  }
  // The deep record keeps its fields; past the limit its value is kept as its JSON text.
  const auto batch = parse_batch("[" + good1 + "," + bad[2] + "]", received);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 2u);
  const auto record = batch->events[1].body.to_value();
  EXPECT_EQ(record.at("level").as_string(), "ERROR");
  EXPECT_EQ(record.at("message").as_string(), "deep");
  EXPECT_EQ(record.at("requestId").as_string(), "r2");
  const boost::json::value* v = &record.at("data");
  std::size_t objects = 0;
  while (v->is_object()) v = &v->as_object().at("a"), ++objects;
  ASSERT_TRUE(v->is_string());
  EXPECT_EQ(objects, 29u);  // 32 levels: the body's array, the item, the record and 29 under `data`
  std::string rest;
  for (std::size_t i = 0; i < 40 - objects; ++i) rest += R"({"a":)";
  rest += "1" + std::string(40 - objects, '}');
  EXPECT_EQ(v->as_string(), rest);
}

TEST(ParseBatch, ObjectRecordsAndOtherValuesAreKeptWhole) {
  const auto r =
      record_of(R"({"a":{"b":[1,-2,3.5,1e3,18446744073709551615,-9223372036854775808,true,null,"x"]},"c":{}})");
  const auto& b = r.at("a").at("b").as_array();
  ASSERT_EQ(b.size(), 9u);
  EXPECT_EQ(b[0].as_int64(), 1);
  EXPECT_EQ(b[1].as_int64(), -2);
  EXPECT_EQ(b[2].as_double(), 3.5);
  EXPECT_EQ(b[3].as_double(), 1000.0);
  EXPECT_EQ(b[4].as_uint64(), 18446744073709551615u);
  EXPECT_EQ(b[5].as_int64(), INT64_MIN);
  EXPECT_TRUE(b[6].as_bool());
  EXPECT_TRUE(b[7].is_null());
  EXPECT_EQ(b[8].as_string(), "x");
  EXPECT_TRUE(r.at("c").as_object().empty());
  for (const char* v :
       {"null", "true", "false", "0", "-0", "12", "-12", "1.5", "-1.5e-7", "1E400", "123456789012345678901", "[]", "{}",
        "[[],[{}]]", R"({"message":"hi","level":"INFO","n":{"deep":[1,{"x":null}]}})"})
    expect_same_as_dom(one_record(v));
}

// Records that are not strings, of every kind and shape, valid or not: what the DOM parse makes of them.
TEST(ParseBatch, ObjectRecordsAreWhatBoostJsonBuilds) {
  for (const char* v : {"0",
                        "7",
                        "-7",
                        "999999999999999999",
                        "-999999999999999999",
                        "1000000000000000000",
                        "-1000000000000000000",
                        "9223372036854775807",
                        "9223372036854775808",
                        "-9223372036854775808",
                        "-9223372036854775809",
                        "18446744073709551615",
                        "18446744073709551616",
                        "-0",
                        "01",
                        "-01",
                        "00",
                        "-",
                        "+1",
                        "1.",
                        ".5",
                        "1.0",
                        "1e5",
                        "1E+5",
                        "-1e-5",
                        "1e",
                        "0.1e1",
                        "[1 2]",
                        "[1,]",
                        "[,]",
                        "{\"a\":}",
                        "{\"a\" 1}",
                        "{a:1}",
                        "{\"a\":1,}",
                        "[true,false,null]",
                        "[tru]",
                        "[nul]",
                        "[truex]",
                        "[[],{},[[]],{\"\":{}}]",
                        R"({"a":1,"b":2,"a":3})",
                        R"({"x":{"a":1,"a":{"b":2},"c":[{"d":1,"d":2}]}})",
                        R"({"k\u00e9y":"v\n","\"":"\\"})",
                        R"({"":""})",
                        R"({"message":{"errorType":"E","stackTrace":["a","b"]},"n":[1,-2,3]})",
                        R"({"a":[1,2.5,3]})",
                        R"({"a":"\ud800"})",
                        "{\"a\":\"\xFF\"}",
                        R"({"a":1} )",
                        "[ 1 , 2 ]",
                        "{\"a\":1\n,\t\"b\"\r:\n[ ]}"})
    expect_same_as_dom(one_record(v));
  const auto r = record_of(R"({"a":1,"b":2,"a":3})");
  EXPECT_EQ(boost::json::serialize(r), R"({"a":3,"b":2})");  // the first one's place, the last one's value
}

TEST(ParseBatch, ObjectRecordsNestAsDeepAsBoostJsonAllows) {
  // 32 levels in all, the body's array and the item's object included.
  for (int depth : {1, 29, 30, 31, 40}) {
    std::string nested =
        std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
    expect_same_as_dom(one_record(nested));
    expect_same_as_dom("[" + nested + "]");                                 // a skipped item
    expect_same_as_dom(R"([{"type":"function","other":)" + nested + "}]");  // an ignored value
  }
  EXPECT_TRUE(parse_batch(one_record(std::string(30, '[') + std::string(30, ']')), received));
  EXPECT_EQ(parse_batch(one_record(std::string(30, '[') + std::string(30, ']')), received)->repaired, 0u);
  // Deeper: the record is kept, its innermost levels as their JSON text.
  const auto deeper = parse_batch(one_record(std::string(31, '[') + std::string(31, ']')), received);
  ASSERT_TRUE(deeper);
  EXPECT_EQ(deeper->repaired, 1u);
  ASSERT_EQ(deeper->events.size(), 1u);
  EXPECT_EQ(boost::json::serialize(deeper->events[0].body.to_value()),
            std::string(30, '[') + "\"[]\"" + std::string(30, ']'));
}

TEST(ParseBatch, WhitespaceMayBeAnywhere) {
  const std::string body =
      " \t\r\n[ \n{ \"time\" :\t\"2024-05-02T11:00:00.102Z\" ,\r\n \"type\"\n:\"function\" , \"record\" : { \"a\" : [ "
      "1 , 2 ] } } ,"
      "\n{\"type\":\"extension\",\"record\":\"x\"}\n]\n\t ";
  const auto batch = parse_batch(body, received);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 2u);
  EXPECT_EQ(boost::json::serialize(batch->events[0].body.to_value()), R"({"a":[1,2]})");
  expect_same_as_dom(body);
  expect_same_as_dom("[ ]");
  expect_same_as_dom(" [\n] ");
}

TEST(ParseBatch, KeysComeInAnyOrderAndOtherKeysAreIgnored) {
  const auto batch = parse_batch(R"([{"record":"r","extra":[1,{"x":"\u00e9"}],"type":"function","n":-1.5e3,
                                      "time":"2024-05-02T10:15:30.520Z","t":true,"z":null,"o":{}}])",
                                 received);
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->events.size(), 1u);
  EXPECT_EQ(batch->events[0].type_name, "function");
  EXPECT_EQ(batch->events[0].time, "2024-05-02T10:15:30.520Z");
  EXPECT_EQ(batch->events[0].body.string(), "r");
  // Keys written with escapes are the same keys.
  const auto escaped =
      parse_batch(R"([{"t\u0079pe":"function","\u0072ecord":"r","tim\u0065":"2024-05-02T10:15:30.520Z"}])", received);
  ASSERT_TRUE(escaped);
  ASSERT_EQ(escaped->events.size(), 1u);
  EXPECT_EQ(escaped->events[0].body.string(), "r");
  EXPECT_EQ(escaped->events[0].time, "2024-05-02T10:15:30.520Z");
  expect_same_as_dom(R"([{"t\u0079pe":"function","\u0072ecord":"r","tim\u0065":"2024-05-02T10:15:30.520Z"}])");
  expect_same_as_dom(R"([{"types":"function","type":"extension","records":1,"timer":"x","time ":"y"}])");
}

// Of duplicate keys the last one counts, as in a Boost.JSON object (and so as before): a later non-string `type`
// skips the item, a later `record` replaces the earlier one, a later malformed `time` makes it the receive time.
TEST(ParseBatch, OfDuplicateKeysTheLastCounts) {
  const auto batch = parse_batch(R"([{"type":"function","type":7,"record":"a"},
                                     {"type":7,"type":"extension","record":{"x":1},"record":"b"},
                                     {"type":"function","time":"2024-05-02T10:15:30.520Z","time":"later"},
                                     {"type":"function","time":"yesterday","time":"2024-05-02T10:15:30.520Z"}])",
                                 received);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->skipped, 1u);
  ASSERT_EQ(batch->events.size(), 3u);
  EXPECT_EQ(batch->events[0].type_name, "extension");
  EXPECT_EQ(batch->events[0].body.string(), "b");
  EXPECT_EQ(batch->events[1].time_ms, received);
  EXPECT_TRUE(batch->events[1].body.is_null());
  EXPECT_EQ(batch->events[2].time, "2024-05-02T10:15:30.520Z");
  expect_same_as_dom(
      R"([{"type":"function","type":7,"record":"a"},{"type":7,"type":"extension","record":{"x":1},"record":"b"},
                        {"type":"function","time":"2024-05-02T10:15:30.520Z","time":"later"},{"record":[],"record":{"a":1,"a":2}}])");
}

TEST(ParseBatch, TimesInLambdasFormAndInOthersReadAsParseIso8601ReadsThem) {
  std::mt19937 rng(7);
  const char* other_forms[] = {
      "2024-05-02 11:00:00.102Z",    "2024-05-02T11:00:00Z",           "2024-05-02T11:00:00.1Z",
      "2024-05-02T11:00:00.123456Z", "2024-05-02T11:00:00.102+02:00",  "2024-05-02T11:00:00.102",
      "2024-05-02T11:00:00.102z",    "2024-05-02T11:00:00.102Z ",      "x024-05-02T11:00:00.102Z",
      "2024-05-02T11:00:00.1025",    "\\u0032024-05-02T11:00:00.102Z", ""};
  std::string body = "[";
  for (const char* t : other_forms) body += std::string(R"({"type":"function","time":")") + t + "\"},";
  for (int i = 0; i < 3000; ++i) {
    // Mostly valid dates; some out of range (month 13, day 32, hour 24, second 61...), leap days, year 0000.
    char t[32];
    std::snprintf(t, sizeof t, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", static_cast<int>(rng() % 10000),
                  static_cast<int>(rng() % 14), static_cast<int>(rng() % 33), static_cast<int>(rng() % 25),
                  static_cast<int>(rng() % 61), static_cast<int>(rng() % 62), static_cast<int>(rng() % 1000));
    body += std::string(R"({"type":"function","time":")") + t + "\"},";
  }
  body.back() = ']';
  const auto batch = parse_batch(body, received);
  ASSERT_TRUE(batch);
  for (const auto& e : batch->events) {
    if (const auto expected = parse_iso8601(e.time); expected && e.time != format_iso8601_ms(received)) {
      EXPECT_EQ(e.time_ms, *expected) << e.time;
    } else {
      EXPECT_EQ(e.time_ms, received) << e.time;
      EXPECT_EQ(e.time, format_iso8601_ms(received));
    }
  }
  expect_same_as_dom(body);
}

TEST(ParseTime, GivesWhatParseIso8601Gives) {
  std::mt19937 rng(11);
  const std::string shape = "0000-00-00T00:00:00.000Z";
  for (int i = 0; i < 200000; ++i) {
    std::string t = shape;
    for (std::size_t k = 0; k < t.size(); ++k)
      if (t[k] == '0') t[k] = static_cast<char>('0' + rng() % 10);
    if (i % 4 == 0) t[rng() % t.size()] = "0123456789-T:.Z z+/"[rng() % 19];  // and some that are not times
    EXPECT_EQ(parse_time(t), parse_iso8601(t)) << t;
  }
  for (const char* t : {"2024-02-29T23:59:60.999Z", "0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
                        "2023-02-31T00:00:00.000Z", "2024-05-02T11:00:00.102Z", "2024-05-02T11:00:00.10Z"})
    EXPECT_EQ(parse_time(t), parse_iso8601(t)) << t;
}

TEST(ParseTime, TheMinuteKeepingReaderReadsAsReadLambdaTimeReads) {
  std::mt19937 rng(13);
  LambdaTimeReader reader;
  std::string t = "2024-05-02T11:00:00.102Z";
  for (int i = 0; i < 200000; ++i) {
    // Runs within a minute, new minutes, and damage anywhere (the minute kept must not vouch for it).
    switch (rng() % 10) {
      case 0:
        t = "0000-00-00T00:00:00.000Z";
        for (auto& c : t)
          if (c == '0') c = static_cast<char>('0' + rng() % 10);
        break;
      case 1:
        t[rng() % t.size()] = "0123456789-T:.Z z\x01"[rng() % 18];
        break;
      default:
        for (std::size_t k : {17u, 18u, 20u, 21u, 22u}) t[k] = static_cast<char>('0' + rng() % 10);
        t[16] = ':', t[19] = '.', t[23] = 'Z';
        break;
    }
    EpochMs a{1}, b{2};
    const bool read = reader.read(t.data(), a);
    ASSERT_EQ(read, read_lambda_time(t.data(), b)) << t;
    if (read) {
      ASSERT_EQ(a, b) << t;
    }
  }
}

// Cut anywhere, a body keeps every item before the cut and nothing else (the cut item is counted as
// unreadable), or is an error when cut before its array begins: never a different record, never a crash.
TEST(ParseBatch, ATruncatedBodyKeepsTheItemsBeforeTheCut) {
  for (const char* file :
       {"function-text-logs-multi-runtime.json", "function-json-logs.json", "platform-cold-start-invocation.json"}) {
    const auto body = test::telemetry_sample(file);
    const auto whole = parse_batch(body, received);
    ASSERT_TRUE(whole);
    const auto whole_text = describe(*whole);
    const auto open = body.find('[');
    const auto last = body.find_last_of(']');
    for (std::size_t n = 0; n < body.size(); ++n) {
      const auto cut = parse_batch(std::string_view(body).substr(0, n), received);
      if (n <= open) {
        ASSERT_FALSE(cut) << file << " cut at " << n;
        continue;
      }
      ASSERT_TRUE(cut) << file << " cut at " << n;
      if (n > last) {
        EXPECT_EQ(cut->events.size(), whole->events.size());
      } else {
        ASSERT_LE(cut->events.size(), whole->events.size());
        auto text = describe(*cut);
        text = text.substr(text.find('\n'));
        ASSERT_EQ(whole_text.find(text), whole_text.find('\n')) << file << " cut at " << n << ": " << text;
      }
      ASSERT_FALSE(detail::read_batch_streaming(std::string_view(body).substr(0, n), received).has_value() &&
                   n <= last);
    }
  }
}

TEST(ParseBatch, HugeRecordsAndManyItems) {
  // A record of 1 MiB of text with an escape every few bytes, and one of 100000 array elements.
  std::string text, escaped;
  for (int i = 0; i < 150000; ++i)
    text += "line \"" + std::to_string(i) + "\"\n", escaped += "line \\\"" + std::to_string(i) + "\\\"\\n";
  const auto big = record_of("\"" + escaped + "\"");
  EXPECT_EQ(big.as_string(), text);
  std::string array = "[";
  for (int i = 0; i < 100000; ++i) array += std::to_string(i) + ",";
  array.back() = ']';
  EXPECT_EQ(record_of(array).as_array().size(), 100000u);
  expect_same_as_dom(one_record(array));
  // Many small items: the event vector grows past its first guess.
  std::string body = "[";
  for (int i = 0; i < 20000; ++i) body += R"({"type":"function","record":"r"},)";
  body.back() = ']';
  const auto many = parse_batch(body, received);
  ASSERT_TRUE(many);
  EXPECT_EQ(many->events.size(), 20000u);
}

// Random damage to the samples: whatever the bytes, the streaming reader agrees with the DOM parse.
TEST(ParseBatch, DamagedSamplesReadAsTheDomParseReadsThem) {
  std::mt19937 rng(42);
  const char* alphabet = "{}[]\",:\\ \t\nu0aZ9.-+eE\x80\xC3\xFF";
  for (const char* file :
       {"function-text-logs-multi-runtime.json", "function-json-logs.json", "logs-api-batch-2021-03-18.json",
        "platform-cold-start-invocation.json", "platform-restore-timeout-errors.json"}) {
    const auto sample = test::telemetry_sample(file);
    for (int i = 0; i < 300; ++i) {
      std::string body = sample;
      for (int k = static_cast<int>(rng() % 3); k >= 0; --k) {
        const auto at = rng() % body.size();
        switch (rng() % 3) {
          case 0:
            body[at] = alphabet[rng() % std::strlen(alphabet)];
            break;
          case 1:
            body.erase(at, 1 + rng() % 8);
            break;
          default:
            body.insert(at, 1, alphabet[rng() % std::strlen(alphabet)]);
            break;
        }
      }
      expect_same_as_dom(body);
      if (HasFailure()) return;
    }
  }
}

TEST(ParseBatch, AnEmptyArrayIsAnEmptyBatch) {
  const auto batch = parse_batch("[]", received);
  ASSERT_TRUE(batch);
  EXPECT_TRUE(batch->events.empty());
}

}  // namespace
}  // namespace elk::telemetry
