// What a record says, gathered before its document is written (Enricher::write). The enricher's parts fill
// it: log records (enrich.cpp) and platform events (platform_event.cpp). The texts are views: into the
// event's record, into literals, into the Enricher's state or into its working buffers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "core/time.h"
#include "json/tape.h"

namespace elk::pipeline {

// One aws.lambda.* field: a number, a string or a JSON value of the record (spans, the record itself).
// No default member initializers: a document's fields are left unset until used.
struct LambdaField {
  enum class Kind { number, integer, text, json };
  std::string_view key;
  Kind kind;
  double number;
  std::int64_t integer;
  std::string_view text;
  json_tape::JsonView json;
};

// The aws.lambda.* fields of one document, in order; a platform event has at most 10 of them.
class LambdaFields {
 public:
  void number(std::string_view k, double v) { add({k, LambdaField::Kind::number, v, 0, {}, {}}); }
  void integer(std::string_view k, std::int64_t v) { add({k, LambdaField::Kind::integer, 0, v, {}, {}}); }
  void text(std::string_view k, std::string_view v) { add({k, LambdaField::Kind::text, 0, 0, v, {}}); }
  void json(std::string_view k, json_tape::JsonView v) { add({k, LambdaField::Kind::json, 0, 0, {}, v}); }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] const LambdaField* begin() const { return &slots_[0].field; }
  [[nodiscard]] const LambdaField* end() const { return &slots_[0].field + size_; }

 private:
  void add(const LambdaField& f) {
    if (size_ < kMax) slots_[size_++].field = f;
  }
  // Slots left uninitialised until used: most records have no aws.lambda fields, and clearing 12 of them
  // (with their views) for every record costs more than writing a document's fields.
  static constexpr std::size_t kMax = 12;
  union Slot {
    Slot() {}
    LambdaField field;
  };
  static_assert(std::is_trivially_copyable_v<LambdaField> && std::is_trivially_destructible_v<LambdaField>);
  Slot slots_[kMax];
  std::size_t size_ = 0;
};

struct DocumentFields {
  EpochMs timestamp;
  std::string_view action;  // event.action
  std::string_view message;
  std::string_view level;
  bool metric = false;  // event.kind metric (reports) rather than event
  std::string_view request_id;
  std::string_view error_type, error_message, error_stack;
  std::optional<std::int64_t> duration_ns;
  std::optional<std::size_t> original_size;
  std::string_view trace_id, span_id;
  std::string_view event_id;  // the source's id of the record (aws.cloudwatch.event_id)
  LambdaFields lambda;        // aws.lambda.*, in order
  json_tape::JsonView extra;  // a JSON log record (its other keys)
};

// event.duration (ns) of a duration in ms; none when it is not a number a 64-bit count can hold (a
// malformed record must not make the conversion undefined).
[[nodiscard]] inline std::optional<std::int64_t> nanoseconds_of(double ms) {
  const double ns = ms * 1e6;
  if (!(ns > -9.2e18 && ns < 9.2e18)) return std::nullopt;
  return static_cast<std::int64_t>(ns);
}

}  // namespace elk::pipeline
