// Wall-clock helpers: Unix milliseconds and ISO 8601 (UTC, millisecond) text.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/types.h"

namespace elk {

using SteadyTime = std::chrono::steady_clock::time_point;

[[nodiscard]] EpochMs now_epoch_ms();

// "2024-05-02T11:00:00.102Z" for the given Unix milliseconds.
[[nodiscard]] std::string format_iso8601_ms(EpochMs t);
// The same written at `out`, which has room for iso8601_ms_length characters (no terminating NUL).
inline constexpr std::size_t iso8601_ms_length = 24;
void format_iso8601_ms(EpochMs t, char* out);

// format_iso8601_ms for times that come in runs within a minute (the records of a delivery): the text of the
// minute of the last time is kept, and only the seconds are written anew while the minute stays the same.
class Iso8601MsWriter {
 public:
  void write(EpochMs t, char* out);

 private:
  std::int64_t minute_ = 0;  // of the kept text, in minutes since the epoch
  bool have_minute_ = false;
  char minute_text_[17] = {};  // "YYYY-MM-DDTHH:MM:"
};

// The times a document may carry: years 0000 to 9999 in UTC, what ISO 8601's four-digit years (and
// Elasticsearch's date fields, and a year=YYYY partition) can say. A time given with an offset that lands
// outside (0000-01-01T00:30+01:00) is no time: the record takes Lambda's.
inline constexpr EpochMs kFirstTime{-62167219200000};  // 0000-01-01T00:00:00.000Z
inline constexpr EpochMs kLastTime{253402300799999};   // 9999-12-31T23:59:59.999Z
[[nodiscard]] constexpr bool in_time_range(std::int64_t ms) {
  return ms >= kFirstTime.value && ms <= kLastTime.value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): the one calendar
// of the project (parse_iso8601, Lambda's time form, the runtimes' line prefixes). A day past the month's end
// (Feb 31) counts on into the next month.
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  if (m <= 2) --y;  // a March-based year
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  if (y >= 0) [[likely]] {  // the same as the era arithmetic below, without its divisions of signed numbers
    const auto uy = static_cast<std::uint64_t>(y);
    return static_cast<std::int64_t>(uy * 365 + uy / 4 - uy / 100 + uy / 400 + doy) - 719468;
  }
  const std::int64_t era = (y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}
static_assert(days_from_civil(1970, 1, 1) == 0 && days_from_civil(2000, 3, 1) == 11017 &&
              days_from_civil(0, 1, 1) == -719528 && days_from_civil(-1, 12, 31) == -719529 &&
              days_from_civil(9999, 12, 31) == 2932896 && days_from_civil(2024, 2, 30) == days_from_civil(2024, 3, 1));

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (also with a space for T); fractions beyond
// milliseconds are truncated. nullopt when the text is not such a time, or names one out of range.
[[nodiscard]] std::optional<EpochMs> parse_iso8601(std::string_view text);

// Lambda's wall-clock deadline (an event's deadlineMs, a Runtime API deadline header) on the steady clock, given
// both clocks' `now`: at most 15 minutes away (Lambda's longest timeout), and not before `steady_now`, whatever
// the event said.
[[nodiscard]] SteadyTime steady_deadline(EpochMs deadline, EpochMs now, SteadyTime steady_now);

}  // namespace elk
