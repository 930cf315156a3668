// Times as Lambda writes them, "2024-05-02T11:00:00.102Z", read without the generality of parse_iso8601 (which
// every other form still goes through): the telemetry `time` of every record, the `timestamp` of JSON log
// lines. The results are parse_iso8601's. Header-only.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "core/time.h"
#include "core/types.h"

namespace elk {

// Lambda's own form of a time, "2024-05-02T11:00:00.102Z" (the 24 bytes at s), read at once: true and what
// parse_iso8601 gives for it, or false for anything else.
inline bool read_lambda_time(const char* s, EpochMs& out) {
  // The checks are expected to pass (the branch hints keep GCC from compiling the rest as cold code, with
  // divisions by constants left as divisions).
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[23] != 'Z')
      [[unlikely]]
    return false;
  const auto d = [s](int i) { return static_cast<unsigned>(static_cast<unsigned char>(s[i])) - '0'; };
  // Unsigned: a byte below '0' wraps around, so "> 9" catches every non-digit.
  if (d(0) > 9 || d(1) > 9 || d(2) > 9 || d(3) > 9 || d(5) > 9 || d(6) > 9 || d(8) > 9 || d(9) > 9 || d(11) > 9 ||
      d(12) > 9 || d(14) > 9 || d(15) > 9 || d(17) > 9 || d(18) > 9 || d(20) > 9 || d(21) > 9 || d(22) > 9) [[unlikely]]
    return false;
  const auto two = [&](int i) { return static_cast<int>(d(i) * 10 + d(i + 1)); };
  const int y = two(0) * 100 + two(2), mo = two(5), day = two(8), h = two(11), mi = two(14), sec = two(17);
  const int ms = two(20) * 10 + static_cast<int>(d(22));
  if (mo < 1 || mo > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60) [[unlikely]]
    return false;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(day));
  out = EpochMs{(days * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec) * 1000 + ms};
  return true;
}

// read_lambda_time for times that come in runs within a minute (the records of a delivery): the text of the
// minute of the last time read is kept with its value, and a time in the same minute has only its seconds read.
class LambdaTimeReader {
 public:
  bool read(const char* s, EpochMs& out) {
    if (have_minute_ && std::memcmp(s, minute_text_, sizeof minute_text_) == 0) [[likely]] {
      // "YYYY-MM-DDTHH:MM" as before (and so valid): ":SS.mmmZ" checked as read_lambda_time checks it.
      if (s[16] != ':' || s[19] != '.' || s[23] != 'Z') [[unlikely]]
        return false;
      const auto d = [s](int i) { return static_cast<unsigned>(static_cast<unsigned char>(s[i])) - '0'; };
      if (d(17) > 9 || d(18) > 9 || d(20) > 9 || d(21) > 9 || d(22) > 9) [[unlikely]]
        return false;
      const unsigned sec = d(17) * 10 + d(18);
      if (sec > 60) [[unlikely]]
        return false;
      out = EpochMs{minute_ms_ + static_cast<std::int64_t>(sec * 1000 + d(20) * 100 + d(21) * 10 + d(22))};
      return true;
    }
    if (!read_lambda_time(s, out)) return false;
    const auto d = [s](int i) { return static_cast<std::int64_t>(s[i] - '0'); };
    minute_ms_ = out.value - ((d(17) * 10 + d(18)) * 1000 + d(20) * 100 + d(21) * 10 + d(22));
    std::memcpy(minute_text_, s, sizeof minute_text_);
    have_minute_ = true;
    return true;
  }

 private:
  bool have_minute_ = false;
  char minute_text_[16] = {};   // "YYYY-MM-DDTHH:MM" of the last time read
  std::int64_t minute_ms_ = 0;  // its value
};

// parse_iso8601, with Lambda's own form read at once.
inline std::optional<EpochMs> parse_time(std::string_view text) {
  EpochMs t;
  if (text.size() == 24 && read_lambda_time(text.data(), t)) return t;
  return parse_iso8601(text);
}
// The same, with the minute of the last time kept by `reader`.
inline std::optional<EpochMs> parse_time(std::string_view text, LambdaTimeReader& reader) {
  EpochMs t;
  if (text.size() == 24 && reader.read(text.data(), t)) return t;
  return parse_iso8601(text);
}

}  // namespace elk
