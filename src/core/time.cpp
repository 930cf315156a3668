#include "core/time.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace elk {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

}  // namespace

EpochMs now_epoch_ms() {
  using namespace std::chrono;
  return EpochMs{duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()};
}

void format_iso8601_ms(EpochMs t, char* out) {
  // Written by hand: this runs once per document.
  std::int64_t ms = t.value % 1000, secs = t.value / 1000;
  if (ms < 0) ms += 1000, --secs;
  std::int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) rem += 86400, --days;
  // Howard Hinnant's civil_from_days.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  auto put = [&](int pos, int width, std::int64_t v) {
    for (int i = pos + width - 1; i >= pos; --i, v /= 10) out[i] = static_cast<char>('0' + v % 10);
  };
  out[4] = out[7] = '-', out[10] = 'T', out[13] = out[16] = ':', out[19] = '.', out[23] = 'Z';
  put(0, 4, y);
  put(5, 2, m);
  put(8, 2, d);
  put(11, 2, rem / 3600);
  put(14, 2, rem / 60 % 60);
  put(17, 2, rem % 60);
  put(20, 3, ms);
}

void Iso8601MsWriter::write(EpochMs t, char* out) {
  std::int64_t minute = t.value / 60000, in_minute = t.value % 60000;
  if (in_minute < 0) in_minute += 60000, --minute;
  if (!have_minute_ || minute != minute_) [[unlikely]] {
    format_iso8601_ms(t, out);
    std::memcpy(minute_text_, out, sizeof minute_text_);
    minute_ = minute, have_minute_ = true;
    return;
  }
  std::memcpy(out, minute_text_, sizeof minute_text_);
  const auto ms = static_cast<unsigned>(in_minute);
  const unsigned sec = ms / 1000, milli = ms % 1000;
  out[17] = static_cast<char>('0' + sec / 10);
  out[18] = static_cast<char>('0' + sec % 10);
  out[19] = '.';
  out[20] = static_cast<char>('0' + milli / 100);
  out[21] = static_cast<char>('0' + milli / 10 % 10);
  out[22] = static_cast<char>('0' + milli % 10);
  out[23] = 'Z';
}

std::string format_iso8601_ms(EpochMs t) {
  std::string out(iso8601_ms_length, '\0');
  format_iso8601_ms(t, out.data());
  return out;
}

std::optional<EpochMs> parse_iso8601(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !digits(s, 11, 2, h) || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::size_t pos = 19;
  int ms = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    int scale = 100, n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return std::nullopt;
  }
  std::int64_t offset_min = 0;
  if (pos == s.size()) return std::nullopt;  // a time without a zone is ambiguous
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    const int sign = s[pos] == '-' ? -1 : 1;
    if (!digits(s, pos + 1, 2, oh)) return std::nullopt;
    std::size_t p = pos + 3;
    if (p < s.size() && s[p] == ':') ++p;
    if (!digits(s, p, 2, om)) return std::nullopt;
    offset_min = std::int64_t{sign} * (oh * 60 + om);
    pos = p + 2;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t secs = days * 86400 + std::int64_t{h} * 3600 + std::int64_t{mi} * 60 + sec - offset_min * 60;
  if (!in_time_range(secs * 1000 + ms)) return std::nullopt;
  return EpochMs{secs * 1000 + ms};
}

SteadyTime steady_deadline(EpochMs deadline, EpochMs now, SteadyTime steady_now) {
  constexpr std::uint64_t longest = 15ull * 60 * 1000;
  if (deadline.value <= now.value) return steady_now;
  // In unsigned arithmetic the difference of any two int64 values, the first larger, is exact.
  const std::uint64_t left = static_cast<std::uint64_t>(deadline.value) - static_cast<std::uint64_t>(now.value);
  return steady_now + std::chrono::milliseconds(static_cast<std::int64_t>(std::min(left, longest)));
}

}  // namespace elk
