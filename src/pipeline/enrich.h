// Turns telemetry events into documents: one compact JSON object per record, with Elastic Common
// Schema names, knowing its function and its invocation. The README's "Document schema" section
// describes the fields; tests/unit/pipeline/enrich_test.cpp pins them.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/time.h"
#include "core/time_text.h"
#include "core/types.h"
#include "pipeline/json_writer.h"
#include "pipeline/record.h"
#include "pipeline/rules.h"

namespace elk::pipeline {

struct DocumentFields;
struct PlatformEvent;

inline constexpr std::string_view ecs_version = "8.11.0";

struct Document {
  std::string json;  // one JSON object, no trailing newline
  EpochMs timestamp;
  std::string raw;             // the telemetry record as received ({"time","type","record"}), when asked for
  std::uint64_t sequence = 0;  // unique within the environment, set once by the batcher (document ids)
  // The execution environment (extension process) that made it, set with the sequence: (origin, sequence)
  // names the record for good, also when another process replays it from the spill.
  std::uint64_t origin = 0;
  // The record's stable id when its source gave one (Record::id): document ids come from it instead of the
  // origin and sequence, so a record read twice (a retried invocation, an overlapping poll) is one document.
  std::string id;
  // The function the document belongs to when it is not the process's own (a record offered with a
  // SourceContext); "": the function of the destinations' context (the extension's).
  std::string function;

  // Memory held by the texts.
  [[nodiscard]] std::size_t bytes() const { return json.size() + raw.size() + id.size() + function.size(); }
};

struct FunctionContext {
  std::string function_name;
  std::string function_version;
  std::string region;
  std::string account_id;           // "" when unknown (registration's accountId, else the invoke ARN)
  std::string initialization_type;  // AWS_LAMBDA_INITIALIZATION_TYPE; platform.initStart overrides
};

// Where records come from: the function they belong to and the stream that wrote them (one execution
// environment: a CloudWatch Logs stream). The pipeline keeps invocation state (the current request, cold
// start) per stream, since the records of two environments interleave.
struct SourceContext {
  FunctionContext function;  // function_name "": not a Lambda function's records (no faas fields)
  std::string stream;        // unique per source: "<log group>\n<log stream>"; "": the process's own records
  // CloudWatch Logs names, when the records came from there: documents get aws.cloudwatch.log_group,
  // log_stream and event_id (the record's id), and their stable id is qualified by account, region, group
  // and stream.
  std::string log_group, log_stream;
};

struct EnrichStats {
  std::uint64_t filtered = 0;   // lines dropped by EXTENSION_LOG_INCLUDE / EXCLUDE
  std::uint64_t redacted = 0;   // messages with at least one redaction
  std::uint64_t truncated = 0;  // messages cut to EXTENSION_LOG_MAX_RECORD_BYTES
};

class Enricher {
 public:
  Enricher(FunctionContext context, Rules rules, std::string extra_fields_root = "labels", bool keep_raw = false)
      : context_(std::move(context)),
        rules_(std::move(rules)),
        extra_root_(std::move(extra_fields_root)),
        keep_raw_(keep_raw) {
    render_constant_fields();
  }

  // An enricher for another source's records: the same rules and options, that source's function, fresh
  // invocation state. Its documents name their function (Document::function).
  [[nodiscard]] Enricher for_source(const SourceContext& source) const;

  // The document for one record; nullopt when the rules filter the record out.
  [[nodiscard]] std::optional<Document> enrich(const Record& record);

  // A document of the extension's own, with event.action `action` (e.g. "extension.shutdown" when Lambda
  // ended the environment after a timeout, "extension.summary" with the delivery counters); `fields` go
  // under the extra-fields root, as a JSON record's other keys do.
  [[nodiscard]] Document extension_document(std::string_view action, std::string_view level, std::string_view message,
                                            std::string_view request_id, const boost::json::object& fields,
                                            EpochMs time);

  // Called with every platform event enriched (record or text line) and the time its record carries (views
  // valid during the call): what an input's lifecycle needs to know of invocations (runtime done, reported).
  void on_platform_events(std::function<void(const PlatformEvent&, EpochMs)> observer) {
    observer_ = std::move(observer);
  }

  // An INVOKE event: its function ARN gives faas.id, and the account id when registration did not.
  void on_invoke(std::string_view invoked_function_arn);

  [[nodiscard]] const EnrichStats& stats() const { return stats_; }

 private:
  bool log_record(const Record& record, DocumentFields& f);  // false when the rules filter it out
  void platform_record(const Record& record, DocumentFields& f);
  void text_platform_line(std::string_view line, const PlatformEvent& event, DocumentFields& f);
  void on_platform_event(const PlatformEvent& event);
  void write(const DocumentFields& f, std::string& document);  // the document's text, at its exact size
  void render_constant_fields();
  void render_invocation_fields(std::string_view request_id, bool coldstart);

  FunctionContext context_;
  Rules rules_;
  std::string extra_root_;
  bool keep_raw_;               // fill Document::raw (a destination ships records as received)
  bool name_function_ = false;  // set Document::function (an enricher made for_source)
  bool lambda_ = true;          // a Lambda function's records (false: another service's log group: no faas)
  std::string function_id_;     // faas.id: the function ARN without version or alias
  // A source's records (for_source): the text their ids are qualified with, and the constant start of their
  // aws.cloudwatch object ("" when they did not come from CloudWatch Logs).
  std::string id_prefix_;
  std::string cloudwatch_constant_;
  // The fields every document shares, rendered once: faas.name/version/id and the cloud object.
  std::string faas_constant_;
  std::string cloud_constant_;
  // The faas object (with faas.execution and faas.coldstart) and the cloud object as one text, for the
  // request id (and cold start) it was rendered for: the records of an invocation share it. Rendered anew
  // with the constants, for no request.
  std::string invocation_fields_;
  std::string invocation_fields_request_;
  bool invocation_fields_coldstart_ = false;
  std::string current_request_;  // between START (platform.start) and END (platform.runtimeDone, platform.end)
  bool ending_request_ = false;  // the record being enriched ends current_request_
  std::function<void(const PlatformEvent&, EpochMs)> observer_;
  std::string first_request_;  // the first invocation of this environment
  bool seen_start_ = false;
  EnrichStats stats_;
  // Working memory kept from one record to the next, so that enriching one allocates only its document:
  // texts built for a record (a platform event's message, a redacted or cut message, a joined stack trace,
  // a lower-cased level) and the document being written.
  std::string message_buffer_, stack_buffer_, level_buffer_;
  JsonBuffer document_buffer_;
  // Times read and written: the records of a delivery come in runs within a minute.
  LambdaTimeReader time_reader_;
  Iso8601MsWriter time_writer_;
};

}  // namespace elk::pipeline
