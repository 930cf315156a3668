#include "core/time.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace elk {
namespace {

TEST(Time, FormatsUnixMillisecondsAsIso8601Utc) {
  EXPECT_EQ(format_iso8601_ms(EpochMs{0}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601_ms(EpochMs{1714644930102}), "2024-05-02T10:15:30.102Z");
}

TEST(Time, ParsesWhatItFormats) {
  for (std::int64_t t : {0LL, 1714644930102LL, 951782400000LL /*2000-02-29*/, 4102444799999LL})
    EXPECT_EQ(parse_iso8601(format_iso8601_ms(EpochMs{t}))->value, t);
}

TEST(Time, ParsesOffsetsFractionsAndSpaceSeparator) {
  EXPECT_EQ(parse_iso8601("2024-05-02T12:15:30.102+02:00")->value, 1714644930102);
  EXPECT_EQ(parse_iso8601("2024-05-02T10:15:30Z")->value, 1714644930000);
  EXPECT_EQ(parse_iso8601("2024-05-02 10:15:30.102345Z")->value, 1714644930102);  // µs truncated
  EXPECT_EQ(parse_iso8601("2024-05-02T05:15:30.1-0500")->value, 1714644930100);
}

TEST(Time, RejectsWhatIsNotATime) {
  for (const char* s : {"", "2024-05-02", "2024-05-02T10:15:30", "2024-13-02T10:15:30Z", "2024-05-02T10:15:30.Z",
                        "2024-05-02T10:15:30Zjunk", "undefined", "2024/05/02 10:15:30Z"})
    EXPECT_FALSE(parse_iso8601(s).has_value()) << s;
}

// They used to become "000/-12-31T23:30:00.000Z" and year 0000 again: Elasticsearch refused the document and
// a partitioned S3 key got year=000/.
TEST(Time, TimesOutsideYears0000To9999AreNoTimes) {
  EXPECT_FALSE(parse_iso8601("0000-01-01T00:30:00.000+01:00"));
  EXPECT_FALSE(parse_iso8601("9999-12-31T23:30:00.000-01:00"));
  EXPECT_EQ(parse_iso8601("0000-01-01T00:00:00.000Z"), kFirstTime);
  EXPECT_EQ(parse_iso8601("9999-12-31T23:59:59.999Z"), kLastTime);
  EXPECT_EQ(format_iso8601_ms(kFirstTime), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601_ms(kLastTime), "9999-12-31T23:59:59.999Z");
}

TEST(Time, TheMinuteKeepingWriterWritesWhatFormatIso8601MsWrites) {
  Iso8601MsWriter writer;
  std::mt19937_64 rng(5);
  std::int64_t t = 1714644930102;
  for (int i = 0; i < 200000; ++i) {
    // Mostly small steps (within a minute, across minutes, backwards), some jumps, some before 1970.
    switch (rng() % 8) {
      case 0:
        t = static_cast<std::int64_t>(rng() % 400000000000000ULL) - 100000000000000LL;
        break;
      case 1:
        t -= static_cast<std::int64_t>(rng() % 120000);
        break;
      default:
        t += static_cast<std::int64_t>(rng() % 3000);
        break;
    }
    char got[iso8601_ms_length];
    writer.write(EpochMs{t}, got);
    ASSERT_EQ(std::string(got, sizeof got), format_iso8601_ms(EpochMs{t})) << t;
  }
}

}  // namespace
}  // namespace elk
