#include "pipeline/log_line.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/time.h"
#include "core/time_text.h"
#include "pipeline/level.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace elk::pipeline {
namespace {

using std::size_t;
using std::string_view;

constexpr string_view kNodejs = "nodejs";
constexpr string_view kPython = "python";
constexpr string_view kJava = "java";
constexpr string_view kDotnet = "dotnet";
constexpr string_view kRuby = "ruby";
constexpr string_view kGo = "go";
constexpr string_view kPlain = "plain";

constexpr string_view kError = level::error;
constexpr string_view kFatal = level::fatal;
using level::from_dotnet;
using level::from_upper;

constexpr string_view kSandboxTimeout = "Sandbox.Timeout";

// Character classes, looked up in one table: the scanners below run on every record.
enum CharClass : unsigned char {
  kOther = 32,
  kHexDigit = 1,     // 0-9 a-f A-F
  kOtherLetter = 2,  // g-z G-Z
  kDash = 4,
  kBlank = 8,  // space, tab
  kEol = 16,   // \n, \r
};

constexpr auto kCharClass = [] {
  std::array<unsigned char, 256> t{};
  t.fill(kOther);
  for (int c = '0'; c <= '9'; ++c) t[c] = kHexDigit;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = c <= 'f' ? kHexDigit : kOtherLetter;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = c <= 'F' ? kHexDigit : kOtherLetter;
  t['-'] = kDash;
  t[' '] = t['\t'] = kBlank;
  t['\n'] = t['\r'] = kEol;
  return t;
}();

#if !defined(__SSE2__)
// The same classes as counters that add up over a token without overflow (36 chars at most).
constexpr auto kUuidCount = [] {
  std::array<std::uint32_t, 256> t{};
  for (std::size_t c = 0; c < 256; ++c) {
    switch (kCharClass[c]) {
      case kHexDigit:
        t[c] = 0x000001;
        break;
      case kOtherLetter:
        t[c] = 0x000101;
        break;
      case kDash:
        t[c] = 0x010000;
        break;
      default:
        t[c] = 0x1000000;
        break;
    }
  }
  return t;
}();
#endif

constexpr unsigned char char_class(char c) {
  return kCharClass[static_cast<unsigned char>(c)];
}
constexpr bool is_blank(char c) {
  return char_class(c) == kBlank;
}
constexpr bool is_eol(char c) {
  return char_class(c) == kEol;
}
constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_alnum(char c) {
  return (char_class(c) & (kHexDigit | kOtherLetter)) != 0;
}

string_view strip_trailing_newlines(string_view s) {
  while (!s.empty() && is_eol(s.back())) s.remove_suffix(1);
  return s;
}

size_t skip_blanks(string_view s, size_t pos) {
  while (pos < s.size() && is_blank(s[pos])) ++pos;
  return pos;
}

// End of the token starting at pos: the next blank or line break, or the end.
size_t token_end(string_view s, size_t pos) {
  while (pos < s.size() && (char_class(s[pos]) & (kBlank | kEol)) == 0) ++pos;
  return pos;
}

bool request_id_chars(string_view t) {
  if (t.size() < 32 || t.size() > 36 || t.front() == '-' || t.back() == '-') return false;
  int alnum = 0, non_hex = 0;
  unsigned char prev = 0;
  for (const char c : t) {
    const unsigned char cls = char_class(c);
    if (cls == kHexDigit) {
      ++alnum;
    } else if (cls == kOtherLetter) {
      ++alnum;
      ++non_hex;
    } else if (cls != kDash || prev == kDash) {
      return false;
    }
    prev = cls;
  }
  return alnum == 32 && non_hex <= 4;
}

// The token at pos (up to a blank, a line break or the end), and whether it looks like a request id (see
// looks_like_request_id): the request id is on nearly every record, so the usual 8-4-4-4-12 layout is
// checked in one branch-free pass.
struct Token {
  size_t end;
  bool request_id;
};

Token scan_token(string_view s, size_t pos) {
  const size_t n = s.size() - pos;
  if (n >= 36 && s[pos + 8] == '-' && s[pos + 13] == '-' && s[pos + 18] == '-' && s[pos + 23] == '-' &&
      (n == 36 || (char_class(s[pos + 36]) & (kBlank | kEol)) != 0)) {
#if defined(__SSE2__)
    // The dashes are where they belong: the other 32 bytes must be letters or digits, at most 4 of them
    // letters past f. Three loads cover the 36 bytes (the third overlaps the second; its last 4 count).
    const char* p = s.data() + pos;
    const auto classes = [](const char* at, unsigned& alnum, unsigned& non_hex) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at));
      const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));  // letters to lower case
      const __m128i digit =
          _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
      const __m128i letter =
          _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)), _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
      alnum = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(digit, letter)));
      non_hex =
          static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(letter, _mm_cmpgt_epi8(folded, _mm_set1_epi8('f')))));
    };
    unsigned a0, n0, a1, n1, a2, n2;
    classes(p, a0, n0), classes(p + 16, a1, n1), classes(p + 20, a2, n2);
    const std::uint64_t alnum = a0 | (std::uint64_t{a1} << 16) | (std::uint64_t{a2 >> 12} << 32);
    constexpr std::uint64_t kAllButDashes =
        ((std::uint64_t{1} << 36) - 1) &
        ~((std::uint64_t{1} << 8) | (std::uint64_t{1} << 13) | (std::uint64_t{1} << 18) | (std::uint64_t{1} << 23));
    // At most 4 bits set: none left once the lowest is cleared 4 times (popcount is a call on baseline x86-64).
    std::uint64_t non_hex = n0 | (std::uint64_t{n1} << 16) | (std::uint64_t{n2 >> 12} << 32);
    for (int i = 0; i < 4; ++i) non_hex &= non_hex - 1;
    if (alnum == kAllButDashes && non_hex == 0) return {pos + 36, true};
#else
    std::uint32_t sum = 0;  // per byte: letters/digits, non-hex letters, dashes, anything else
    for (size_t i = pos; i < pos + 36; ++i) sum += kUuidCount[static_cast<unsigned char>(s[i])];
    if ((sum & 0xff) == 32 && ((sum >> 8) & 0xff) <= 4 && ((sum >> 16) & 0xff) == 4 && (sum >> 24) == 0)
      return {pos + 36, true};
#endif
  }
  const size_t end = token_end(s, pos);
  return {end, request_id_chars(s.substr(pos, end - pos))};
}

// A field separator: exactly one tab (the runtimes' own), or a run of blanks starting with a space (a
// tab-less copy). Sets `tab` to which it was; false when there is none at pos.
bool skip_separator(string_view s, size_t& pos, bool& tab) {
  if (pos >= s.size()) return false;
  if (s[pos] == '\t') {
    tab = true;
    ++pos;
    return true;
  }
  if (s[pos] != ' ') return false;
  tab = false;
  pos = skip_blanks(s, pos);
  return true;
}

// The separator between a level and the message: one tab, a run of spaces, or one line break (a message
// that starts on the next line). Nothing at the end of the line.
size_t skip_message_separator(string_view s, size_t pos) {
  if (pos >= s.size()) return pos;
  if (s[pos] == '\t') return pos + 1;
  if (s[pos] == ' ') return skip_blanks(s, pos);
  if (s[pos] == '\r' && pos + 1 < s.size() && s[pos + 1] == '\n') return pos + 2;
  if (is_eol(s[pos])) return pos + 1;
  return pos;
}

constexpr int digit(char c) {
  return c - '0';
}
constexpr int two_digits(string_view s, size_t at) {
  return digit(s[at]) * 10 + digit(s[at + 1]);
}

// "YYYY<d>MM<d>DD<t>HH:MM:SS[(.|,)digits]" at the start of s, <t> being `time_sep` or `alt_time_sep`. Returns the
// length matched, 0 when s does not start with such a date and time (ranges are checked by civil_time).
size_t match_datetime(string_view s, char date_sep, char time_sep, char alt_time_sep) {
  if (s.size() < 19) return 0;
  if (!is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) || s[4] != date_sep || !is_digit(s[5]) ||
      !is_digit(s[6]) || s[7] != date_sep || !is_digit(s[8]) || !is_digit(s[9]) ||
      (s[10] != time_sep && s[10] != alt_time_sep) || !is_digit(s[11]) || !is_digit(s[12]) || s[13] != ':' ||
      !is_digit(s[14]) || !is_digit(s[15]) || s[16] != ':' || !is_digit(s[17]) || !is_digit(s[18]))
    return 0;
  size_t pos = 19;
  if (pos + 1 < s.size() && (s[pos] == '.' || s[pos] == ',') && is_digit(s[pos + 1])) {
    pos += 2;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
  }
  return pos;
}

// The time of a date and time matched by match_datetime (length `len`), at `offset_min` minutes east of
// UTC. The same ranges and arithmetic as parse_iso8601 (core/time.h), without its re-scan: the
// timestamp is on nearly every record. Fractions beyond milliseconds are truncated.
std::optional<EpochMs> civil_time(string_view s, size_t len, int offset_min) {
  const int year = digit(s[0]) * 1000 + digit(s[1]) * 100 + two_digits(s, 2);
  const int month = two_digits(s, 5), day = two_digits(s, 8);
  const int hour = two_digits(s, 11), minute = two_digits(s, 14), second = two_digits(s, 17);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  int ms = 0;
  for (size_t i = 20, scale = 100; i < len && scale > 0; ++i, scale /= 10) ms += digit(s[i]) * static_cast<int>(scale);
  // For a day past the month's end (Feb 31) this counts on into the next month, as parse_iso8601 does.
  const std::int64_t date = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t secs =
      date * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second - std::int64_t{offset_min} * 60;
  if (!in_time_range(secs * 1000 + ms)) return std::nullopt;  // no year 0000 minus an hour, no year 10000
  return EpochMs{secs * 1000 + ms};
}

// The time of a zone-less date and time matched by match_datetime, taken as UTC (Lambda's TZ).
std::optional<EpochMs> utc_from_local(string_view dt) {
  return civil_time(dt, dt.size(), 0);
}

// An ISO 8601 time with a zone ("2024-05-02T11:00:00.102Z", "...+02:00") as the first token of s: its time,
// and its length in `len`. nullopt when s does not start with one, followed by a blank, a line break or
// the end.
std::optional<EpochMs> leading_iso_time(string_view s, size_t& len, LambdaTimeReader* times) {
  if (times != nullptr && s.size() >= 24 && s[23] == 'Z' &&
      (s.size() == 24 || (char_class(s[24]) & (kBlank | kEol)) != 0)) {
    // Lambda's own form: the time of the same minute as the last one read costs its seconds only.
    EpochMs t;
    if (times->read(s.data(), t)) {
      len = 24;
      return t;
    }
  }
  const size_t dt_len = match_datetime(s, '-', 'T', 'T');
  if (dt_len == 0 || dt_len >= s.size()) return std::nullopt;
  size_t pos = dt_len;
  int offset_min = 0;
  if (s[pos] == 'Z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {  // +HH:MM or +HHMM
    const int sign = s[pos] == '-' ? -1 : 1;
    size_t p = pos + 1;
    if (p + 2 > s.size() || !is_digit(s[p]) || !is_digit(s[p + 1])) return std::nullopt;
    const int oh = two_digits(s, p);
    p += 2;
    if (p < s.size() && s[p] == ':') ++p;
    if (p + 2 > s.size() || !is_digit(s[p]) || !is_digit(s[p + 1])) return std::nullopt;
    offset_min = sign * (oh * 60 + two_digits(s, p));
    pos = p + 2;
  } else {
    return std::nullopt;
  }
  if (pos < s.size() && (char_class(s[pos]) & (kBlank | kEol)) == 0) return std::nullopt;
  len = pos;
  return civil_time(s, dt_len, offset_min);
}

bool is_identifier_char(char c) {
  return is_alnum(c) || c == '_' || c == '.' || c == '$' || c == '-';
}

// "Task timed out after 5.01 seconds" (the platform's line at a timeout).
bool is_timeout_message(string_view s) {
  constexpr string_view kTimedOut = "Task timed out after ";
  return s.size() > kTimedOut.size() && s.starts_with(kTimedOut) && is_digit(s[kTimedOut.size()]);
}

// errorType of a Node.js runtime error line's message: "Invoke Error \t{"errorType":"TypeError",...}"
// (also "Uncaught Exception", "Unhandled Promise Rejection"): JSON after a tab on the first line.
string_view node_error_type(string_view msg) {
  constexpr size_t kMaxLabel = 64;  // "Unhandled Promise Rejection " and the like
  const size_t brace = msg.substr(0, kMaxLabel).find("\t{");
  if (brace == string_view::npos) return {};
  if (msg.substr(0, brace).find_first_of("\r\n") != string_view::npos) return {};
  constexpr string_view kKey = "\"errorType\":\"";
  const size_t key = msg.find(kKey, brace);
  if (key == string_view::npos) return {};
  const size_t start = key + kKey.size();
  size_t end = start;
  while (end < msg.size() && is_identifier_char(msg[end])) ++end;
  if (end == start || end >= msg.size() || msg[end] != '"') return {};
  return msg.substr(start, end - start);
}

// Whether a line "Traceback (most recent call last):" follows somewhere after the first line.
bool has_python_traceback(string_view s) {
  constexpr string_view kTraceback = "Traceback (most recent call last):";
  for (size_t at = s.find(kTraceback); at != string_view::npos; at = s.find(kTraceback, at + 1))
    if (at > 0 && is_eol(s[at - 1])) return true;
  return false;
}

// The Python runtime's uncaught-error record, text after "[ERROR] ": "Type: message\nTraceback ...", or
// "Runtime.ImportModuleError: ..." (the bootstrap's own). Sets the type ("" when the record has none).
bool python_uncaught_error(string_view rest, string_view& error_type) {
  size_t i = 0;
  if (i < rest.size() && (is_alpha(rest[i]) || rest[i] == '_')) {
    while (i < rest.size() && (is_alnum(rest[i]) || rest[i] == '_' || rest[i] == '.')) ++i;
  }
  string_view ident = rest.substr(0, i);
  const bool ident_form =
      !ident.empty() && ident.back() != '.' && (i == rest.size() || rest[i] == ':' || is_eol(rest[i]));
  if (!ident_form) ident = {};
  const bool runtime_error = ident.starts_with("Runtime.") && ident.size() > 8;
  if (!runtime_error && !has_python_traceback(rest)) return false;
  error_type = ident;
  return true;
}

// Node.js and .NET: <ISO>\t<rid>\t<LEVEL>\t<msg> ("undefined" or "" for no request id; .NET may omit the
// level); also the platform's "<ISO> <rid> Task timed out after N seconds".
bool parse_iso_prefixed(string_view line, ParsedLine& out, LambdaTimeReader* times) {
  size_t pos = 0;
  const auto ts = leading_iso_time(line, pos, times);
  if (!ts) return false;
  bool tab1 = false, tab2 = false;
  if (!skip_separator(line, pos, tab1)) return false;

  const Token rid_scan = scan_token(line, pos);
  const size_t rid_end = rid_scan.end;
  const string_view rid_token = line.substr(pos, rid_end - pos);
  string_view rid;
  bool rid_field = true;  // false: the level stands where the request id would (an empty id, collapsed)
  if (rid_token.empty()) {
    if (!tab1 || rid_end >= line.size() || line[rid_end] != '\t') return false;
  } else if (rid_token == "undefined") {
  } else if (rid_scan.request_id) {
    rid = rid_token;
  } else if (!from_upper(rid_token).empty() || !from_dotnet(rid_token).empty()) {
    rid_field = false;
  } else {
    return false;
  }
  if (rid_field) {
    pos = rid_end;
    if (pos == line.size()) {
      out.timestamp = ts;
      out.request_id = rid;
      out.format = kPlain;
      out.message = line.substr(pos);
      return true;
    }
    if (!skip_separator(line, pos, tab2)) return false;
  }

  out.timestamp = ts;
  out.request_id = rid;
  const string_view rest = line.substr(pos);
  if (is_timeout_message(rest)) {
    out.format = kPlain;
    out.level = kError;
    out.error_type = kSandboxTimeout;
    out.message = rest;
    return true;
  }
  const size_t level_end = token_end(line, pos);
  const string_view level_token = line.substr(pos, level_end - pos);
  if (const auto level = from_upper(level_token); !level.empty()) {
    out.format = kNodejs;
    out.level = level;
  } else if (const auto label = from_dotnet(level_token); !label.empty()) {
    out.format = kDotnet;
    out.level = label;
  } else {
    // No level: .NET's LambdaLogger.Log(message) when tab-separated, else a platform-prefixed line.
    out.format = rid_field && tab1 && tab2 ? kDotnet : kPlain;
    out.message = rest;
    return true;
  }
  out.message = line.substr(skip_message_separator(line, level_end));
  if (out.format == kNodejs && (out.level == kError || out.level == kFatal))
    out.error_type = node_error_type(out.message);
  return true;
}

// Java log4j2 (aws-lambda-java-log4j2 layout): "2020-03-18 08:52:43 <rid> INFO  Handler - msg", zone-less.
bool parse_log4j(string_view line, ParsedLine& out) {
  const size_t dt_len = match_datetime(line, '-', ' ', ' ');
  if (dt_len == 0 || dt_len >= line.size() || !is_blank(line[dt_len])) return false;
  size_t pos = skip_blanks(line, dt_len);
  const Token first = scan_token(line, pos);
  size_t end = first.end;
  string_view rid;
  if (first.request_id) {
    rid = line.substr(pos, end - pos);
    if (end >= line.size() || !is_blank(line[end])) return false;
    pos = skip_blanks(line, end);
    end = token_end(line, pos);
  }
  const string_view level = from_upper(line.substr(pos, end - pos));
  if (level.empty()) return false;
  out.timestamp = utc_from_local(line.substr(0, dt_len));
  out.request_id = rid;
  out.level = level;
  out.format = kJava;
  out.message = line.substr(skip_message_separator(line, end));
  return true;
}

// Go's standard log: "2020/03/27 03:40:05 msg" (optionally with microseconds), local time = UTC.
bool parse_go(string_view line, ParsedLine& out) {
  const size_t dt_len = match_datetime(line, '/', ' ', ' ');
  if (dt_len == 0) return false;
  size_t pos = dt_len;
  if (pos < line.size()) {
    if (!is_blank(line[pos])) return false;
    ++pos;
  }
  out.timestamp = utc_from_local(line.substr(0, dt_len));
  if (!out.timestamp) return false;
  out.format = kGo;
  out.message = line.substr(pos);
  return true;
}

// "[LEVEL]\t<ISO>\t<rid>\t<msg>" (Python logging), "[ERROR] Type: msg\nTraceback..." (Python uncaught
// error), "[LEVEL] msg" / "[LEVEL]\tmsg" (Java LambdaLogger.log(msg, level)).
bool parse_bracketed(string_view line, ParsedLine& out, LambdaTimeReader* times) {
  size_t close = 1;
  while (close < line.size() && close < 10 && line[close] != ']') ++close;
  if (close >= line.size() || line[close] != ']') return false;
  const string_view level = from_upper(line.substr(1, close - 1));
  if (level.empty()) return false;
  size_t pos = close + 1;
  out.level = level;
  out.format = kJava;
  if (pos == line.size()) {
    out.message = line.substr(pos);
    return true;
  }
  if (!is_blank(line[pos])) return false;
  const size_t after_bracket = pos + 1;  // the message of the Java forms: after one blank

  // Python logging: time, request id ("" before the first invoke), message.
  bool tab = false;
  if (skip_separator(line, pos, tab)) {
    size_t ts_len = 0;
    const auto ts = leading_iso_time(line.substr(pos), ts_len, times);
    size_t p = pos + ts_len;
    bool tab1 = false, tab2 = false;
    if (ts && skip_separator(line, p, tab1)) {
      const Token rid_scan = scan_token(line, p);
      const size_t rid_end = rid_scan.end;
      const string_view rid = line.substr(p, rid_end - p);
      if ((rid.empty() && tab1 && rid_end < line.size() && line[rid_end] == '\t') || rid_scan.request_id) {
        p = rid_end;
        if (p == line.size() || skip_separator(line, p, tab2)) {
          out.timestamp = ts;
          out.request_id = rid;
          out.format = kPython;
          out.message = line.substr(std::min(p, line.size()));
          return true;
        }
      }
    }
  }

  const string_view rest = line.substr(after_bracket);
  if (level == kError && line[close + 1] == ' ' && python_uncaught_error(rest, out.error_type)) out.format = kPython;
  out.message = rest;
  return true;
}

// Ruby's Logger as the runtime patches it: "I, [2024-05-02T11:00:00.112345 #8]  INFO <rid> -- prog: msg".
bool parse_ruby(string_view line, ParsedLine& out) {
  if (line.size() < 8 || line[1] != ',' || line[2] != ' ' || line[3] != '[') return false;
  const char sev1 = line[0];
  constexpr size_t kMaxTime = 48;
  const size_t hash = line.substr(0, 4 + kMaxTime).find(" #", 4);
  if (hash == string_view::npos) return false;
  const string_view dt = line.substr(4, hash - 4);
  size_t pos = hash + 2;
  const size_t pid_start = pos;
  while (pos < line.size() && is_digit(line[pos])) ++pos;
  if (pos == pid_start || pos >= line.size() || line[pos] != ']') return false;
  ++pos;
  if (pos >= line.size() || !is_blank(line[pos])) return false;
  pos = skip_blanks(line, pos);

  size_t end = token_end(line, pos);
  const string_view severity = line.substr(pos, end - pos);
  if (severity.empty() || severity[0] != sev1) return false;
  string_view level;
  if (severity == "ANY") {
  } else if (level = from_upper(severity); level.empty() || severity.size() > 5) {
    return false;
  }
  if (end >= line.size() || line[end] != ' ') return false;
  pos = skip_blanks(line, end);

  string_view rid;
  if (!line.substr(pos).starts_with("-- ")) {
    end = token_end(line, pos);
    rid = line.substr(pos, end - pos);
    if (rid.empty()) return false;
    pos = skip_blanks(line, end);
    if (!line.substr(pos).starts_with("-- ")) return false;
  }
  pos += 3;
  // progname, then ": "
  size_t colon = pos;
  while (colon < line.size() && line[colon] != ':' && !is_eol(line[colon])) ++colon;
  if (colon >= line.size() || line[colon] != ':') return false;
  pos = colon + 1;
  if (pos < line.size() && line[pos] == ' ') ++pos;

  if (const size_t dt_len = match_datetime(dt, '-', 'T', ' '); dt_len != 0 && dt_len == dt.size()) {
    out.timestamp = utc_from_local(dt);
  } else {
    out.timestamp = parse_iso8601(dt);  // a custom datetime_format with a zone; else none
  }
  out.request_id = rid;
  out.level = level;
  out.format = kRuby;
  out.message = line.substr(pos);
  return true;
}

// The platform's lines as CloudWatch shows them: "RequestId: <rid> Error: Runtime exited with error: ...
// \nRuntime.ExitError", "RequestId: <rid> Process exited before completing request".
bool parse_request_id_prefixed(string_view line, ParsedLine& out) {
  constexpr string_view kPrefix = "RequestId: ";
  if (!line.starts_with(kPrefix)) return false;
  const Token rid_scan = scan_token(line, kPrefix.size());
  const size_t end = rid_scan.end;
  const string_view rid = line.substr(kPrefix.size(), end - kPrefix.size());
  if (!rid_scan.request_id) return false;
  if (end < line.size() && !is_blank(line[end])) return false;
  const string_view rest = line.substr(skip_blanks(line, end));
  out.request_id = rid;
  out.format = kPlain;
  out.message = rest;
  if (rest.starts_with("Error:") || rest.starts_with("Process exited before completing request")) {
    out.level = kError;
    const size_t nl = rest.find_last_of("\r\n");
    if (nl != string_view::npos) {
      const string_view last = rest.substr(nl + 1);
      if (last.starts_with("Runtime.") && last.size() > 8 &&
          std::all_of(last.begin(), last.end(), [](char c) { return is_alnum(c) || c == '.' || c == '_'; }))
        out.error_type = last;
    }
  }
  return true;
}

}  // namespace

bool looks_like_request_id(std::string_view token) {
  const Token t = scan_token(token, 0);
  return t.request_id && t.end == token.size();
}

ParsedLine parse_log_line(std::string_view record, LambdaTimeReader* times) {
  // One ParsedLine, built where the caller wants it (a copy of it is a dozen words, on every record).
  ParsedLine out;
  const string_view line = strip_trailing_newlines(record);
  bool ok = false;
  const char c = line.empty() ? '\0' : line[0];
  if (is_digit(c)) {
    if (line.size() >= 19) {
      if (line[4] == '/') {
        ok = parse_go(line, out);
      } else if (line[10] == 'T') {
        ok = parse_iso_prefixed(line, out, times);
      } else if (line[10] == ' ') {
        ok = parse_log4j(line, out);
      }
    }
  } else if (c == '[') {
    ok = parse_bracketed(line, out, times);
  } else if (c == 'T') {
    if (is_timeout_message(line)) {
      out.format = kPlain;
      out.level = kError;
      out.error_type = kSandboxTimeout;
      out.message = line;
      ok = true;
    }
  } else if (c == 'R') {
    ok = parse_request_id_prefixed(line, out);
  } else if (line.size() > 1 && line[1] == ',') {
    ok = parse_ruby(line, out);
  }
  if (!ok) [[unlikely]] {
    out = ParsedLine{};  // a parser that gave up may have set some fields
    out.format = kPlain;
    out.message = line;
  }
  return out;
}

}  // namespace elk::pipeline
