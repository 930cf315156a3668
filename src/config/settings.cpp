#include "config/settings.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>

#include "core/pattern.h"
#include "pipeline/schema.h"

namespace elk::config {
namespace {

using namespace std::string_view_literals;

// Read back as text: they are the names the Telemetry API's subscription takes.
constexpr Choice telemetry_types[] = {{"platform"}, {"function"}, {"extension"}};

constexpr Setting general[] = {
    {names::destinations, Kind::list, "s3", 0, 0, "", no_choices, OnInvalid::reject,
     "Where the logs go: a comma-separated list of destination names; several at once are allowed. The "
     "default, s3, is the seed extension's one destination."},
    {names::max_items, Kind::integer, "10000", 1000, 10000, "items", no_choices, OnInvalid::clamp,
     "Most records in one batch of ours (one request to a destination)."},
    {names::max_bytes, Kind::integer, "262144", 262144, 1048576, "bytes", no_choices, OnInvalid::clamp,
     "Most bytes of records in one batch of ours."},
    {names::timeout_ms, Kind::integer, "1000", 100, 30000, "ms", no_choices, OnInvalid::clamp,
     "The oldest a batch of ours grows before it is sent (in the background, while the environment is "
     "thawed). Under EXTENSION_LOG_FLUSH=auto, invocations further apart than this count as rare."},
    {names::telemetry_timeout_ms, Kind::integer, "25", 25, 30000, "ms", no_choices, OnInvalid::clamp,
     "The subscription's buffering.timeoutMs: how long Lambda holds telemetry before it hands it to the "
     "extension (Lambda's buffer, not ours; its maxItems and maxBytes stay at Lambda's defaults, 10000 and "
     "262144). Longer means fewer deliveries, and a later platform.runtimeDone for every flush at the end "
     "of an invocation."},
    {names::types, Kind::list, "platform,function", 0, 0, "", telemetry_types, OnInvalid::reject,
     "Telemetry types to subscribe to. `extension` includes this extension's own output, so it is off by "
     "default."},
    {names::listener_port, Kind::integer, "4243", 0, 65535, "", no_choices, OnInvalid::reject,
     "Port of the local listener that receives telemetry (0: any free port)."},
    {names::runtime_done_wait_ms, Kind::integer, "500", 0, 10000, "ms", no_choices, OnInvalid::clamp,
     "When an invocation's records are sent before next (`end`, and `auto` for rare invocations), how long "
     "to wait for its platform.runtimeDone (and so all of its lines) before flushing; also bounded by the "
     "invocation's deadline."},
    {names::shutdown_quiet_ms, Kind::integer, "100", 0, 1000, "ms", no_choices, OnInvalid::clamp,
     "At SHUTDOWN, how long the telemetry stream must be silent (after the last invocation's report) "
     "before the final flush; always bounded by the shutdown deadline."},
    {names::retry_base_ms, Kind::integer, "100", 10, 10000, "ms", no_choices, OnInvalid::clamp,
     "First retry delay of a failed send within a flush; each retry waits a random time up to base x 2^n "
     "(full jitter), never past the flush's deadline."},
    {names::retry_max_ms, Kind::integer, "2000", 100, 60000, "ms", no_choices, OnInvalid::clamp,
     "Longest retry delay; a peer's Retry-After is honoured within the flush's deadline."},
    {names::retry_attempts, Kind::integer, "3", 1, 20, "", no_choices, OnInvalid::clamp,
     "Tries of one batch within one flush; what still fails waits for the next flush."},
    {names::include, Kind::regex, "", 0, 0, "", no_choices, OnInvalid::reject,
     "Keep only function/extension lines whose message matches this regular expression (RE2 syntax: "
     "Perl-like, no backreferences or lookaround; matched in linear time). Platform events are always kept."},
    {names::exclude, Kind::regex, "", 0, 0, "", no_choices, OnInvalid::reject,
     "Drop function/extension lines whose message matches this regular expression (RE2 syntax)."},
    {names::redact, Kind::regex, "", 0, 0, "", no_choices, OnInvalid::reject,
     "Replace every match of this regular expression (RE2 syntax; use | for several) in messages with "
     "[REDACTED]."},
    {names::redact_builtin, Kind::list, "", 0, 0, "", builtin_redactions, OnInvalid::reject,
     "Built-in redactions to switch on: AWS access key ids (AKIA.../ASIA...), the token of "
     "`Authorization: Bearer ...`."},
    {names::max_record_bytes, Kind::integer, "262144", 1024, 1048576, "bytes", no_choices, OnInvalid::clamp,
     "Longest message kept; longer ones are cut with a marker and their size kept in event.original_size."},
    {names::extra_fields_root, Kind::text, "labels", 0, 0, "", no_choices, OnInvalid::reject,
     "Where the other keys of a JSON-format log record go (the document's field of that name); not one of the "
     "fields every document has (@timestamp, message, log, event, faas, cloud, aws, ecs, error, trace, span)."},
    {names::flush, Kind::schedule, "auto", 100, 600000, "ms", no_choices, OnInvalid::reject,
     "When records leave. `auto`: when invocations come often (less than EXTENSION_LOG_TIMEOUT_MS apart) "
     "the extension never holds next and records leave in the background; when they are rare, each "
     "invocation's records are sent before next, so they arrive before the freeze. `end`: always before "
     "next (waiting at most EXTENSION_LOG_FLUSH_MAX_WAIT_MS). `periodic,<ms>`: always in the background, "
     "every <ms> (and when a batch is full)."},
    {names::flush_max_wait_ms, Kind::integer, "1000", 50, 30000, "ms", no_choices, OnInvalid::clamp,
     "Longest a flush waits for the destinations (always within the invocation's deadline); what is not "
     "delivered by then goes to the spill and leaves first at the next flush."},
    {names::max_buffer_bytes, Kind::integer, "16777216", 1048576, 1073741824, "bytes", no_choices, OnInvalid::clamp,
     "Most bytes of records held in memory, across the batch being filled and every destination's queue; "
     "past it the oldest go to the spill (and, when that is full too, are dropped, counted)."},
    {names::spill_directory, Kind::text, "/tmp/elk-extension", 0, 0, "", no_choices, OnInvalid::reject,
     "Where undelivered records are kept (one directory per destination) until they can be sent, also by "
     "the next extension process after a crash or timeout (Lambda keeps /tmp). `none`: no spill, records "
     "wait in memory."},
    {names::spill_max_bytes, Kind::integer, "67108864", 1048576, 8589934592, "bytes", no_choices, OnInvalid::clamp,
     "Largest size of the spill; when full, the oldest spilled records are dropped, counted."},
};

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (*b == '+') ++b;
  const auto [ptr, ec] = std::from_chars(b, e, out);
  if (ec == std::errc::result_out_of_range) {
    out = (*s.data() == '-') ? INT64_MIN : INT64_MAX;
    return ptr == e;
  }
  return ec == std::errc{} && ptr == e;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string range_text(const Setting& s) {
  std::string r = std::to_string(s.min) + ".." + std::to_string(s.max);
  if (!s.unit.empty()) r += " " + std::string(s.unit);
  return r;
}

std::vector<std::string> texts_of(std::span<const Choice> choices) {
  std::vector<std::string> out;
  for (const auto& c : choices) out.emplace_back(c.text);
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += sep;
    out += i;
  }
  return out;
}

// The destination names that have rows, for EXTENSION_LOG_DESTINATIONS.
std::vector<std::string> destination_names(std::span<const Setting> rows) {
  std::set<std::string> names;
  for (const auto& r : rows)
    if (!r.destination.empty()) names.emplace(r.destination);
  return {names.begin(), names.end()};
}

std::string allowed_text_of(const Setting& r) {
  return "auto, end, or periodic,<ms> with <ms> in " + range_text(r);
}

// The allowed values of a row: its own, or the destinations the registry has (`listed`: for
// EXTENSION_LOG_DESTINATIONS, with their aliases), or for a row naming another destination without a list of
// its own (a dead letter), none or any destination.
std::vector<std::string> effective_choices(const Setting& row, const std::vector<std::string>& listed,
                                           const std::vector<std::string>& names) {
  if (row.name == names::destinations) return listed;
  if (row.names_destination && row.choices.empty()) {
    std::vector<std::string> out{std::string(no_destination)};
    out.insert(out.end(), names.begin(), names.end());
    return out;
  }
  return texts_of(row.choices);
}

}  // namespace

std::span<const Setting> general_settings() {
  return general;
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = text.find(',', pos);
    auto item = trim(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::int64_t Config::integer(std::string_view name) const {
  std::int64_t v = 0;
  if (!parse_int(text(name), v)) throw std::logic_error("setting " + std::string(name) + " is not an integer");
  return v;
}

const std::string& Config::text(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("no setting named " + std::string(name));
  return it->second;
}

std::vector<std::string> Config::list(std::string_view name) const {
  return split_list(text(name));
}

int Config::value_of(std::string_view name, std::string_view text, std::span<const Choice> choices, const void* type) {
  for (const auto& c : choices)
    if (c.text == text) {
      if (c.type != type)
        throw std::logic_error("setting " + std::string(name) + " is read back as another enum than its table's");
      return c.value;
    }
  throw std::logic_error("setting " + std::string(name) + "='" + std::string(text) +
                         "' is not in the table it is read back with");
}

Loaded load(std::span<const Setting> rows, const Getenv& env_in, std::span<const Alias> aliases) {
  Loaded out;
  const auto plain_dest_choices = destination_names(rows);
  auto dest_choices = plain_dest_choices;
  for (const auto& a : aliases) dest_choices.emplace_back(a.alias);
  // EXTENSION_LOG_DESTINATIONS with aliases replaced by the names they stand for.
  const Getenv env = [&](std::string_view name) -> std::optional<std::string> {
    auto v = env_in(name);
    if (!v || name != names::destinations || aliases.empty()) return v;
    std::vector<std::string> items;
    for (auto& item : split_list(*v)) {
      for (const auto& a : aliases)
        if (item == a.alias) item = std::string(a.name);
      if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(item);
    }
    return join(items, ",");
  };

  // Which destinations are on decides which destination rows apply.
  std::set<std::string, std::less<>> enabled;
  auto chosen = env(names::destinations);
  if (!chosen || trim(*chosen).empty())
    for (const auto& r : rows)
      if (r.name == names::destinations) chosen = std::string(r.default_value);
  for (auto& d : split_list(chosen.value_or(""))) enabled.insert(d);
  // Destinations named by an enabled destination's settings (dead letters) need their settings too.
  for (const auto& row : rows)
    if (row.names_destination && enabled.contains(row.destination))
      if (auto v = env(row.name); v && !trim(*v).empty() && trim(*v) != no_destination) enabled.insert(trim(*v));

  for (const auto& row : rows) {
    if (!row.destination.empty() && !enabled.contains(row.destination)) continue;
    const std::string name(row.name);
    const auto raw = env(row.name);
    const std::string given = raw ? trim(*raw) : std::string();
    if (given.empty()) {
      if (row.required) {
        std::string msg = name + " is required";
        if (!row.destination.empty()) msg += " by the " + std::string(row.destination) + " destination";
        msg += ": " + std::string(row.help);
        out.errors.push_back(std::move(msg));
        continue;
      }
      out.config.set(row.name, std::string(row.default_value));
      continue;
    }
    switch (row.kind) {
      case Kind::text:
        // Sent in a header, a URL or a name: a CR or LF (a secret pasted with its newline) would be refused at
        // every send, as retryable. The value is not repeated: it may be a secret.
        if (const auto at = std::find_if(given.begin(), given.end(),
                                         [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; });
            at != given.end()) {
          char code[8];
          std::snprintf(code, sizeof code, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(*at)));
          out.errors.push_back(name + " holds a control character (" + code + " at byte " +
                               std::to_string(at - given.begin() + 1) + " of " + std::to_string(given.size()) +
                               "), which no header, URL or name may carry; remove it (a line break pasted with a "
                               "secret?)");
          break;
        }
        if (row.check) {
          if (const auto why = row.check(given); !why.empty()) {
            out.errors.push_back(name + "='" + given + "': " + why);
            break;
          }
        }
        if (row.name == names::extra_fields_root &&
            std::find(pipeline::kDocumentRoots.begin(), pipeline::kDocumentRoots.end(), given) !=
                pipeline::kDocumentRoots.end()) {
          std::string roots;
          for (const auto r : pipeline::kDocumentRoots) roots += (roots.empty() ? "" : ", ") + std::string(r);
          out.errors.push_back(name + "='" + given + "' is a field every document has (" + roots +
                               "), and the record's keys would collide with it: choose another name, such as labels");
          break;
        }
        out.config.set(row.name, given);
        break;
      case Kind::regex:
        if (auto p = Pattern::compile(given); p)
          out.config.set(row.name, given);
        else
          out.errors.push_back(name + "='" + given +
                               "' is not a valid regular expression (RE2 syntax): " + p.error().message);
        break;
      case Kind::integer: {
        std::int64_t v = 0;
        const bool numeric = parse_int(given, v);
        if (numeric && v >= row.min && v <= row.max) {
          out.config.set(row.name, std::to_string(v));
          break;
        }
        if (row.on_invalid == OnInvalid::reject) {
          out.errors.push_back(name + "='" + given + "' is " + (numeric ? "out of range" : "not a whole number") +
                               "; allowed: " + range_text(row));
          break;
        }
        const std::int64_t used = !numeric ? 0 : std::clamp(v, row.min, row.max);
        const std::string used_text = numeric ? std::to_string(used) : std::string(row.default_value);
        out.warnings.push_back(name + "='" + given + "' is " + (numeric ? "out of range" : "not a whole number") +
                               " (allowed: " + range_text(row) + "); using " + used_text);
        out.config.set(row.name, used_text);
        break;
      }
      case Kind::schedule: {
        const auto sched = parse_schedule(given);
        if (sched &&
            (!sched->periodic() || (sched->interval.count() >= row.min && sched->interval.count() <= row.max))) {
          out.config.set(row.name, given);
          break;
        }
        out.errors.push_back(name + "='" + given + "': allowed: " + allowed_text_of(row));
        break;
      }
      case Kind::choice:
      case Kind::list: {
        const auto allowed = effective_choices(row, dest_choices, plain_dest_choices);
        const auto items = row.kind == Kind::list ? split_list(given) : std::vector<std::string>{given};
        std::vector<std::string> bad;
        for (const auto& item : items)
          if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), item) == allowed.end()) bad.push_back(item);
        if (!bad.empty() || items.empty()) {
          const std::string what = row.name == names::destinations ? "unknown destination" : "unknown value";
          out.errors.push_back(name + "='" + given +
                               "': " + (items.empty() ? "empty" : what + " '" + join(bad, "', '") + "'") +
                               "; allowed: " + join(allowed, ", "));
          break;
        }
        out.config.set(row.name, join(items, ","));
        break;
      }
    }
  }
  // The backoff's first delay above its cap: each value in its range, but not together. (Only when both were
  // given in range: a value that was itself clamped already has its warning.)
  const auto given_in_range = [&](std::string_view n) {
    const auto v = env(n);
    std::int64_t parsed = 0;
    return v && parse_int(trim(*v), parsed) && out.config.has(n) && std::to_string(parsed) == out.config.text(n);
  };
  if (out.config.has(names::retry_base_ms) && out.config.has(names::retry_max_ms) &&
      out.config.integer(names::retry_base_ms) > out.config.integer(names::retry_max_ms) &&
      given_in_range(names::retry_base_ms) && (!env(names::retry_max_ms) || given_in_range(names::retry_max_ms))) {
    const auto cap = out.config.text(names::retry_max_ms);
    out.warnings.push_back(std::string(names::retry_base_ms) + "='" + out.config.text(names::retry_base_ms) +
                           "' is above " + std::string(names::retry_max_ms) + " (" + cap +
                           " ms), the longest wait between two tries; using " + cap + " for both");
    out.config.set(names::retry_base_ms, cap);
  }
  return out;
}

std::optional<Schedule> parse_schedule(std::string_view text) {
  if (text == "auto") return Schedule{};
  if (text == "end") return Schedule{FlushMode::end};
  constexpr std::string_view periodic = "periodic,";
  if (!text.starts_with(periodic)) return std::nullopt;
  std::int64_t ms = 0;
  if (!parse_int(trim(text.substr(periodic.size())), ms) || ms <= 0) return std::nullopt;
  return Schedule{FlushMode::periodic, std::chrono::milliseconds(ms)};
}

Getenv process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

namespace {
std::string default_text(const Setting& r) {
  if (r.required) return "(required)";
  if (r.default_value.empty()) return "(none)";
  return std::string(r.default_value);
}
std::string allowed_text(const Setting& r, const std::vector<std::string>& dest_choices) {
  switch (r.kind) {
    case Kind::integer:
      return range_text(r);
    case Kind::text:
      return "text";
    case Kind::regex:
      return "regular expression";
    case Kind::schedule:
      return allowed_text_of(r);
    case Kind::choice:
      return "one of " + join(effective_choices(r, dest_choices, dest_choices), ", ");
    case Kind::list: {
      const auto c = effective_choices(r, dest_choices, dest_choices);
      return c.empty() ? "comma list" : "comma list of " + join(c, ", ");
    }
  }
  return {};
}
}  // namespace

std::string markdown_table(std::span<const Setting> rows) {
  const auto dest_choices = destination_names(rows);
  std::string out = "| variable | default | allowed | bad value | description |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& r : rows) {
    std::string help;
    for (char c : r.help) help += c == '|' ? std::string("\\|") : std::string(1, c);  // a cell must not hold a bare |
    if (!r.destination.empty()) help = "(`" + std::string(r.destination) + "`) " + help;
    out += "| `" + std::string(r.name) + "` | " + default_text(r) + " | " + allowed_text(r, dest_choices) + " | " +
           (r.on_invalid == OnInvalid::clamp ? "clamped, warning" : "init error") + " | " + help + " |\n";
  }
  return out;
}

std::string help_text(std::span<const Setting> rows) {
  const auto dest_choices = destination_names(rows);
  std::string out;
  for (const auto& r : rows) {
    out += std::string(r.name) + "\n    default: " + default_text(r) + "; allowed: " + allowed_text(r, dest_choices);
    if (!r.destination.empty()) out += "; destination: " + std::string(r.destination);
    out += "\n    " + std::string(r.help) + "\n";
  }
  return out;
}

}  // namespace elk::config
