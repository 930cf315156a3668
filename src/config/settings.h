// The one table of settings. Every setting is declared once — name (the environment variable),
// kind, default, bounds, unit, help — and validated here, in one pass that reports every problem.
// General settings live in settings.cpp; each destination declares its own rows in its own file,
// and the destination registry joins them (destinations/registry.h: all_settings()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/getenv.h"

namespace elk::config {

enum class Kind {
  integer,   // decimal digits, within [min, max]
  text,      // any string
  list,      // comma-separated, each item one of `choices` when choices is set
  choice,    // one of `choices`
  regex,     // a regular expression in RE2 syntax (core/pattern.h); "" = none
  schedule,  // `auto`, `end`, or `periodic,<ms>` with <ms> within [min, max]
};

// What a bad value does: `clamp` uses the nearest bound (or the default when it is not a number) and
// warns; `reject` stops the extension at init with Extension.ConfigInvalid.
enum class OnInvalid { clamp, reject };

namespace detail {
// One address per enum type: which enum a Choice's value belongs to (no RTTI needed).
template <class E>
inline constexpr char enum_tag = 0;
}  // namespace detail

// One accepted value of a choice or list setting: the text a user writes and, for a setting the code reads back
// as an enum (Config::choice), the enumerator it stands for. Several texts may stand for one enumerator: an
// alias, e.g. a former name. Declared once per setting, in a table the row points to, so that validation, the
// README's table and the read-back all come from it.
struct Choice {
  std::string_view text;
  int value = 0;
  const void* type = nullptr;  // detail::enum_tag<E> of `value`'s enum; nullptr: read back as text

  constexpr Choice(std::string_view t) : text(t) {}  // implicit, so that a row of a table is {"text"}
  template <class E>
  requires std::is_enum_v<E>
  constexpr Choice(std::string_view t, E v) : text(t), value(static_cast<int>(v)), type(&detail::enum_tag<E>) {}
};

// The choices of a row that has none (text, integer, regex, schedule).
inline constexpr std::span<const Choice> no_choices{};

struct Setting {
  std::string_view name;
  Kind kind;
  std::string_view default_value;  // as the user would write it; "" = none
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::string_view unit;            // "ms", "bytes", "items", "" ...
  std::span<const Choice> choices;  // for choice and list, in the order they are shown
  OnInvalid on_invalid = OnInvalid::reject;
  std::string_view help;
  // "" = always applies; else the destination this setting belongs to: it is read (and, when
  // `required`, demanded) only while that destination is named in EXTENSION_LOG_DESTINATIONS.
  std::string_view destination;
  bool required = false;
  // The value names another destination (e.g. a dead letter) whose settings then apply too.
  // Its choices are then `none` (no_destination) and every destination; it is read back as text.
  bool names_destination = false;
  // For text: what else the value must be (an index name, a bucket name): "" when it is, else why not.
  // Every text value is refused when it holds a control character (CR, LF, ...), whatever its row.
  std::string (*check)(std::string_view value) = nullptr;
};

// Names of the general settings, so that call sites cannot misspell them.
namespace names {
inline constexpr std::string_view destinations = "EXTENSION_LOG_DESTINATIONS";
inline constexpr std::string_view max_items = "EXTENSION_LOG_MAX_ITEMS";
inline constexpr std::string_view max_bytes = "EXTENSION_LOG_MAX_BYTES";
inline constexpr std::string_view timeout_ms = "EXTENSION_LOG_TIMEOUT_MS";
inline constexpr std::string_view telemetry_timeout_ms = "EXTENSION_LOG_TELEMETRY_TIMEOUT_MS";
inline constexpr std::string_view types = "EXTENSION_LOG_TYPES";
inline constexpr std::string_view listener_port = "EXTENSION_LOG_LISTENER_PORT";
inline constexpr std::string_view runtime_done_wait_ms = "EXTENSION_LOG_RUNTIME_DONE_WAIT_MS";
inline constexpr std::string_view shutdown_quiet_ms = "EXTENSION_LOG_SHUTDOWN_QUIET_MS";
inline constexpr std::string_view retry_base_ms = "EXTENSION_LOG_RETRY_BASE_MS";
inline constexpr std::string_view retry_max_ms = "EXTENSION_LOG_RETRY_MAX_MS";
inline constexpr std::string_view retry_attempts = "EXTENSION_LOG_RETRY_ATTEMPTS";
inline constexpr std::string_view include = "EXTENSION_LOG_INCLUDE";
inline constexpr std::string_view exclude = "EXTENSION_LOG_EXCLUDE";
inline constexpr std::string_view redact = "EXTENSION_LOG_REDACT";
inline constexpr std::string_view redact_builtin = "EXTENSION_LOG_REDACT_BUILTIN";
inline constexpr std::string_view max_record_bytes = "EXTENSION_LOG_MAX_RECORD_BYTES";
inline constexpr std::string_view extra_fields_root = "EXTENSION_LOG_EXTRA_FIELDS_ROOT";
inline constexpr std::string_view flush = "EXTENSION_LOG_FLUSH";
inline constexpr std::string_view flush_max_wait_ms = "EXTENSION_LOG_FLUSH_MAX_WAIT_MS";
inline constexpr std::string_view max_buffer_bytes = "EXTENSION_LOG_MAX_BUFFER_BYTES";
inline constexpr std::string_view spill_directory = "EXTENSION_LOG_SPILL_DIRECTORY";
inline constexpr std::string_view spill_max_bytes = "EXTENSION_LOG_SPILL_MAX_BYTES";
}  // namespace names

// The value of a setting naming a destination (names_destination) that names none.
inline constexpr std::string_view no_destination = "none";

// EXTENSION_LOG_REDACT_BUILTIN's values.
enum class BuiltinRedaction { aws_access_key_id, bearer_token };
inline constexpr Choice builtin_redactions[] = {{"aws-access-key-id", BuiltinRedaction::aws_access_key_id},
                                                {"bearer-token", BuiltinRedaction::bearer_token}};

// The general rows (not the destinations').
[[nodiscard]] std::span<const Setting> general_settings();

// Validated values: every row of the table has one (its default when unset and not required).
class Config {
 public:
  [[nodiscard]] std::int64_t integer(std::string_view name) const;
  [[nodiscard]] const std::string& text(std::string_view name) const;
  [[nodiscard]] std::vector<std::string> list(std::string_view name) const;
  // A choice setting's value as the enumerator it stands for in `choices`, the table of its row.
  template <class E>
  requires std::is_enum_v<E>
  [[nodiscard]] E choice(std::string_view name, std::span<const Choice> choices) const {
    return static_cast<E>(value_of(name, text(name), choices, &detail::enum_tag<E>));
  }
  // A list setting's items as enumerators, in the order given.
  template <class E>
  requires std::is_enum_v<E>
  [[nodiscard]] std::vector<E> choices(std::string_view name, std::span<const Choice> choices) const {
    std::vector<E> out;
    for (const auto& item : list(name))
      out.push_back(static_cast<E>(value_of(name, item, choices, &detail::enum_tag<E>)));
    return out;
  }
  [[nodiscard]] bool has(std::string_view name) const { return values_.contains(std::string(name)); }

  void set(std::string_view name, std::string value) { values_[std::string(name)] = std::move(value); }

 private:
  // Throws std::logic_error when `text` is not in `choices` as a value of the enum `type` (a read-back with
  // another row's table or enum: a bug, like integer() of a text).
  [[nodiscard]] static int value_of(std::string_view name, std::string_view text, std::span<const Choice> choices,
                                    const void* type);

  std::map<std::string, std::string, std::less<>> values_;
};

struct Loaded {
  Config config;
  std::vector<std::string> warnings;  // clamped values: one line each
  std::vector<std::string> errors;    // rejected values and missing required settings: one line each
};

// Reads and validates every row. EXTENSION_LOG_DESTINATIONS may name any destination that has rows.
// Another name for a destination, e.g. opensearch for elasticsearch.
struct Alias {
  std::string_view alias;
  std::string_view name;
};
// `aliases` are accepted in EXTENSION_LOG_DESTINATIONS and stored under the name they stand for.
[[nodiscard]] Loaded load(std::span<const Setting> rows, const Getenv& env, std::span<const Alias> aliases = {});

// The process environment.
[[nodiscard]] Getenv process_environment();

// The configuration table in Markdown (for the README) and as plain text (for --help).
[[nodiscard]] std::string markdown_table(std::span<const Setting> rows);
[[nodiscard]] std::string help_text(std::span<const Setting> rows);

[[nodiscard]] std::vector<std::string> split_list(std::string_view text);

// A validated schedule setting: `auto`, `end` (interval 0 for both) or `periodic,<ms>`.
enum class FlushMode { automatic, end, periodic };
struct Schedule {
  FlushMode mode = FlushMode::automatic;
  std::chrono::milliseconds interval{0};
  [[nodiscard]] bool periodic() const { return mode == FlushMode::periodic; }
};
[[nodiscard]] std::optional<Schedule> parse_schedule(std::string_view text);

}  // namespace elk::config
