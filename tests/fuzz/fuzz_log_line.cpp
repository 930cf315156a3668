// libFuzzer target: parse_log_line and parse_platform_line on arbitrary bytes. Beyond "no crash" (ASan,
// UBSan), it checks what callers rely on: views lie inside the input, literals come from the documented
// sets, the message runs to the end of the record less its trailing line breaks, timestamps agree with
// core/time.h's parse_iso8601, and a platform line carries the fields its kind requires.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "check.h"
#include "core/time.h"
#include "core/time_text.h"
#include "pipeline/log_line.h"
#include "pipeline/platform_line.h"

namespace {

using elk::pipeline::ParsedLine;
using elk::pipeline::PlatformEvent;

using elk::fuzz::check;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool is_one_of(std::string_view v, std::initializer_list<std::string_view> set) {
  for (std::string_view s : set)
    if (v == s) return true;
  return false;
}

bool has_blank_or_eol(std::string_view s) {
  return s.find_first_of(" \t\r\n") != std::string_view::npos;
}

void check_log_line(std::string_view input) {
  const ParsedLine p = elk::pipeline::parse_log_line(input);
  std::string_view stripped = input;
  while (!stripped.empty() && (stripped.back() == '\n' || stripped.back() == '\r')) stripped.remove_suffix(1);

  check(is_one_of(p.format, {"nodejs", "python", "java", "dotnet", "ruby", "go", "plain"}), "format literal");
  check(is_one_of(p.level, {"", "trace", "debug", "info", "warn", "error", "fatal"}), "level literal");
  check(inside(p.message, input), "message inside input");
  check(p.message.data() + p.message.size() == stripped.data() + stripped.size(), "message runs to the end");
  check(p.message.empty() || (p.message.back() != '\n' && p.message.back() != '\r'), "no trailing line break");
  check(inside(p.request_id, input), "request id inside input");
  check(!has_blank_or_eol(p.request_id), "request id is one token");
  if (!p.request_id.empty() && p.format != "ruby")
    check(elk::pipeline::looks_like_request_id(p.request_id), "request id shape");
  check(p.error_type.empty() || p.error_type == "Sandbox.Timeout" || inside(p.error_type, input),
        "error type inside input");
  check(!has_blank_or_eol(p.error_type), "error type is one token");
  if (p.format == "plain" && p.request_id.empty() && !p.timestamp) check(p.message == stripped, "plain is whole");

  // Differential: a time at the start of a Node.js/.NET/platform line is what parse_iso8601 makes of it.
  if (p.timestamp && (p.format == "nodejs" || p.format == "dotnet" || p.format == "plain") && input.size() > 10 &&
      input[10] == 'T') {
    const std::string_view token = input.substr(0, input.find_first_of(" \t\r\n"));
    const auto reference = elk::parse_iso8601(token);
    check(reference.has_value() && *reference == *p.timestamp, "timestamp agrees with parse_iso8601");
  }

  const ParsedLine again = elk::pipeline::parse_log_line(input);
  check(again.message == p.message && again.level == p.level && again.request_id == p.request_id &&
            again.timestamp == p.timestamp && again.format == p.format && again.error_type == p.error_type,
        "deterministic");

  // With a time reader (as the enricher parses): the same result, whatever minute the reader kept from the
  // inputs before (a reader that lives across inputs, and a fresh one).
  static elk::LambdaTimeReader kept;
  elk::LambdaTimeReader fresh;
  for (auto* reader : {&kept, &fresh}) {
    const ParsedLine r = elk::pipeline::parse_log_line(input, reader);
    check(r.message == p.message && r.level == p.level && r.request_id == p.request_id && r.timestamp == p.timestamp &&
              r.format == p.format && r.error_type == p.error_type,
          "the same with a time reader");
  }
}

void check_duration(const std::optional<double>& v, const char* what) {
  if (v) check(std::isfinite(*v) && *v >= 0, what);
}

void check_platform_line(std::string_view input) {
  const auto p = elk::pipeline::parse_platform_line(input);
  if (!p) return;
  for (std::string_view v : {p->request_id, p->version, p->status, p->runtime_version, p->runtime_version_arn,
                             p->trace_id, p->span_id, p->phase, p->error_type}) {
    check(inside(v, input), "platform field inside input");
    check(!has_blank_or_eol(v), "platform field is one token");
  }
  check_duration(p->duration_ms, "duration");
  check_duration(p->billed_duration_ms, "billed duration");
  check_duration(p->init_duration_ms, "init duration");
  check_duration(p->restore_duration_ms, "restore duration");
  check_duration(p->billed_restore_duration_ms, "billed restore duration");
  check(!p->memory_size_mb || *p->memory_size_mb >= 0, "memory size");
  check(!p->max_memory_used_mb || *p->max_memory_used_mb >= 0, "max memory used");
  switch (p->type) {
    case PlatformEvent::Type::start:
    case PlatformEvent::Type::end:
    case PlatformEvent::Type::report:
      check(elk::pipeline::looks_like_request_id(p->request_id), "request id required");
      break;
    case PlatformEvent::Type::init_start:
      check(!p->runtime_version.empty(), "runtime version required");
      break;
    case PlatformEvent::Type::init_report:
      check(p->init_duration_ms.has_value(), "init duration required");
      break;
    case PlatformEvent::Type::xray:
      check(!p->trace_id.empty(), "trace id required");
      break;
    default:
      check(false, "a text line reads as a START, END, REPORT, INIT_START, INIT_REPORT or XRAY");
      break;
  }
}

// The request id rule as pipeline/log_line.h states it, byte by byte: 32 letters or digits, split by up to
// 4 single dashes (none first or last), at most 4 of the letters past f. The parser checks the usual UUID layout
// 16 bytes at a time; this is the reference it must agree with.
bool reference_request_id(std::string_view t) {
  if (t.size() < 32 || t.size() > 36 || t.front() == '-' || t.back() == '-') return false;
  int alnum = 0, non_hex = 0;
  char prev = 0;
  for (const char c : t) {
    const bool digit = c >= '0' && c <= '9';
    const bool hex_letter = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (digit || letter) {
      ++alnum;
      non_hex += letter && !hex_letter;
    } else if (c != '-' || prev == '-') {
      return false;
    }
    prev = c;
  }
  return alnum == 32 && non_hex <= 4;
}

void check_request_id(std::string_view input) {
  const std::string_view token = input.substr(0, input.find_first_of(" \t\r\n"));
  check(elk::pipeline::looks_like_request_id(token) == reference_request_id(token), "request id rule");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_log_line(input);
  check_platform_line(input);
  check_request_id(input);
  return 0;
}
