#include "pipeline/platform_line.h"

#include <charconv>
#include <cmath>
#include <cstddef>

#include "pipeline/log_line.h"

namespace elk::pipeline {
namespace {

using std::size_t;
using std::string_view;

enum class Field {
  request_id,
  version,
  duration,
  billed_duration,
  memory_size,
  max_memory_used,
  init_duration,
  restore_duration,
  billed_restore_duration,
  status,
  error_type,
  phase,
  runtime_version,
  runtime_version_arn,
  trace_id,
  segment_id,
  sampled,
};

struct Key {
  string_view name;
  Field field;
};

constexpr Key kKeys[] = {
    {"RequestId", Field::request_id},
    {"Version", Field::version},
    {"Duration", Field::duration},
    {"Billed Duration", Field::billed_duration},
    {"Memory Size", Field::memory_size},
    {"Max Memory Used", Field::max_memory_used},
    {"Init Duration", Field::init_duration},
    {"Restore Duration", Field::restore_duration},
    {"Billed Restore Duration", Field::billed_restore_duration},
    {"Status", Field::status},
    {"Error Type", Field::error_type},
    {"Phase", Field::phase},
    {"Runtime Version", Field::runtime_version},
    {"Runtime Version ARN", Field::runtime_version_arn},
    {"TraceId", Field::trace_id},
    {"SegmentId", Field::segment_id},
    {"Sampled", Field::sampled},
};

struct Prefix {
  string_view keyword;
  PlatformEvent::Type type;
};

constexpr Prefix kPrefixes[] = {
    {"START", PlatformEvent::Type::start},
    {"END", PlatformEvent::Type::end},
    {"REPORT", PlatformEvent::Type::report},
    {"INIT_START", PlatformEvent::Type::init_start},
    {"INIT_REPORT", PlatformEvent::Type::init_report},
    {"XRAY", PlatformEvent::Type::xray},
};

constexpr size_t kMaxKey = 40;

constexpr bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
constexpr bool is_eol(char c) {
  return c == '\n' || c == '\r';
}
constexpr bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

size_t skip_blanks(string_view s, size_t pos) {
  while (pos < s.size() && is_blank(s[pos])) ++pos;
  return pos;
}

size_t token_end(string_view s, size_t pos) {
  while (pos < s.size() && !is_blank(s[pos]) && !is_eol(s[pos])) ++pos;
  return pos;
}

// A duration or memory value: a finite, non-negative number filling the whole token.
std::optional<double> to_double(string_view t) {
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || end != t.data() + t.size() || !std::isfinite(v) || v < 0) return std::nullopt;
  return v;
}

// A memory size in MB: a non-negative whole number filling the whole token.
std::optional<double> to_whole(string_view t) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc{} || end != t.data() + t.size() || v < 0) return std::nullopt;
  return static_cast<double>(v);
}

// Skips the unit after a number ("15.74 ms", "128 MB") when it is there.
size_t skip_unit(string_view s, size_t pos, string_view unit) {
  const size_t at = skip_blanks(s, pos);
  if (s.substr(at).starts_with(unit) && token_end(s, at) == at + unit.size()) return at + unit.size();
  return pos;
}

const Key* known_key(string_view s, size_t pos) {
  const string_view rest = s.substr(pos);
  for (const Key& key : kKeys)
    if (rest.size() > key.name.size() && rest.starts_with(key.name) && rest[key.name.size()] == ':') return &key;
  return nullptr;
}

// The name of an unknown field: a letter, then letters, digits, spaces or underscores, then ':'. Returns
// the position of the ':', or npos.
size_t unknown_key_end(string_view s, size_t pos) {
  if (pos >= s.size() || !is_alpha(s[pos])) return string_view::npos;
  for (size_t i = pos; i < s.size() && i < pos + kMaxKey; ++i) {
    const char c = s[i];
    if (c == ':') return i;
    if (!is_alpha(c) && !is_digit(c) && c != ' ' && c != '_') return string_view::npos;
  }
  return string_view::npos;
}

void assign(PlatformEvent& out, Field field, string_view s, size_t& pos) {
  const size_t end = token_end(s, pos);
  const string_view value = s.substr(pos, end - pos);
  pos = end;
  switch (field) {
    case Field::request_id:
      out.request_id = value;
      break;
    case Field::version:
      out.version = value;
      break;
    case Field::status:
      out.status = value;
      break;
    case Field::error_type:
      out.error_type = value;
      break;
    case Field::phase:
      out.phase = value;
      break;
    case Field::runtime_version:
      out.runtime_version = value;
      break;
    case Field::runtime_version_arn:
      out.runtime_version_arn = value;
      break;
    case Field::trace_id:
      out.trace_id = value;
      break;
    case Field::segment_id:
      out.span_id = value;
      break;
    case Field::sampled:  // known, so that its value is read as one; not rendered (ECS has no field for it)
      break;
    case Field::duration:
      out.duration_ms = to_double(value);
      pos = skip_unit(s, pos, "ms");
      break;
    case Field::billed_duration:
      out.billed_duration_ms = to_double(value);
      pos = skip_unit(s, pos, "ms");
      break;
    case Field::init_duration:
      out.init_duration_ms = to_double(value);
      pos = skip_unit(s, pos, "ms");
      break;
    case Field::restore_duration:
      out.restore_duration_ms = to_double(value);
      pos = skip_unit(s, pos, "ms");
      break;
    case Field::billed_restore_duration:
      out.billed_restore_duration_ms = to_double(value);
      pos = skip_unit(s, pos, "ms");
      break;
    case Field::memory_size:
      out.memory_size_mb = to_whole(value);
      pos = skip_unit(s, pos, "MB");
      break;
    case Field::max_memory_used:
      out.max_memory_used_mb = to_whole(value);
      pos = skip_unit(s, pos, "MB");
      break;
  }
}

bool has_required_fields(const PlatformEvent& p) {
  switch (p.type) {
    case PlatformEvent::Type::start:
    case PlatformEvent::Type::end:
    case PlatformEvent::Type::report:
      return looks_like_request_id(p.request_id);
    case PlatformEvent::Type::init_start:
      return !p.runtime_version.empty();
    case PlatformEvent::Type::init_report:
      return p.init_duration_ms.has_value();
    case PlatformEvent::Type::xray:
      return !p.trace_id.empty();
    default:  // no text line of ours is read as any other
      return false;
  }
}

}  // namespace

std::optional<PlatformEvent> parse_platform_line(std::string_view line) {
  while (!line.empty() && (is_eol(line.back()) || is_blank(line.back()))) line.remove_suffix(1);

  const Prefix* prefix = nullptr;
  for (const Prefix& p : kPrefixes) {
    if (line.size() > p.keyword.size() && line.starts_with(p.keyword) && is_blank(line[p.keyword.size()])) {
      prefix = &p;
      break;
    }
  }
  if (prefix == nullptr) return std::nullopt;

  PlatformEvent out{};
  out.type = prefix->type;
  size_t pos = skip_blanks(line, prefix->keyword.size());
  while (pos < line.size()) {
    if (const Key* key = known_key(line, pos)) {
      pos += key->name.size() + 1;
      while (pos < line.size() && line[pos] == ' ') ++pos;  // not tabs: "Status:\t" is an empty value
      assign(out, key->field, line, pos);
    } else if (const size_t colon = unknown_key_end(line, pos); colon != string_view::npos) {
      pos = colon + 1;
      while (pos < line.size() && line[pos] != '\t') {  // an unknown value: up to the next tab
        if (is_eol(line[pos])) return std::nullopt;
        ++pos;
      }
    } else {
      return std::nullopt;
    }
    if (pos < line.size() && !is_blank(line[pos])) return std::nullopt;  // "Duration: 15.74 ms" + junk
    pos = skip_blanks(line, pos);
  }
  if (!has_required_fields(out)) return std::nullopt;
  return out;
}

}  // namespace elk::pipeline
