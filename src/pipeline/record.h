// One record as a source hands it to the pipeline, whichever way it came in (an item of a Telemetry or Logs API
// delivery, {"time": ..., "type": ..., "record": ...}, today): what it is, when it was written, its body and,
// where the source has one, its stable id. Where it came from (function, stream) is the SourceContext
// (pipeline/enrich.h) it is offered with.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <memory>
#include <string_view>

#include "core/types.h"
#include "json/tape.h"

namespace elk::pipeline {

// Its texts and its body are views into storage it shares with the other records of its delivery (so that
// reading a delivery allocates nothing per record); copies of a record share it too.
struct Record {
  // What the enricher renders differently: a log line of the function or of an extension, or an event of the
  // platform (its type_name says which).
  enum class Type : std::uint8_t { function, extension, platform };
  [[nodiscard]] static Type type_of(std::string_view type_name) {
    return type_name == "function" ? Type::function : type_name == "extension" ? Type::extension : Type::platform;
  }

  Type type = Type::function;
  std::string_view type_name;  // as the source names it: "function", "extension", "platform.report", ...
  std::string_view time;       // as sent: ISO 8601, milliseconds, UTC
  EpochMs time_ms;             // parsed `time`; the receive time when `time` is missing or malformed
  json_tape::JsonView body;    // a string (a text line), an object (JSON log format, platform event), ...; null: none
  // A stable id the source gives the record, the same however often it is read, unique within its stream (a
  // CloudWatch Logs event's id; the enricher qualifies it with the SourceContext's account, region, group and
  // stream); "": none (the batcher's origin and sequence name it).
  std::string_view id;
  std::shared_ptr<const json_tape::RecordStorage> storage;  // what the texts and the body point into

  Record() = default;
  // A record with storage of its own (tests; records not read from a delivery): the texts and the body copied.
  Record(std::string_view type_name, std::string_view time, EpochMs time_ms, const boost::json::value& body);
};

}  // namespace elk::pipeline
