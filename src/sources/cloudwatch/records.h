// A CloudWatch Logs payload as the pipeline takes it: its source (the function and version Lambda's names for
// the group and stream give — a custom log group's streams name their function —, the account from `owner`,
// this Region) and its events as records — a text line,
// a JSON-log-format function record, or a JSON-log-format platform event ({"time","type","record"}) — each
// with its event id, so that a document is the same one however often the payload is read.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/enrich.h"
#include "pipeline/record.h"
#include "sources/cloudwatch/payload.h"

namespace elk::cloudwatch {

// "/aws/lambda/<name>" -> name; nullopt for any other group.
[[nodiscard]] std::optional<std::string_view> function_of_group(std::string_view log_group);

// What Lambda's stream names say: "YYYY/MM/DD/[<version>]<environment>" in a function's own group, and
// "YYYY/MM/DD/<function>[<version>]<environment>" (the environment perhaps in brackets too) in a custom log
// group, which several functions may share. nullopt when the name is not one of Lambda's.
struct LambdaStream {
  std::string_view function;  // "" in the function's own group
  std::string_view version;
};
[[nodiscard]] std::optional<LambdaStream> lambda_stream(std::string_view log_stream);
// The version of a Lambda stream name; "" when the name is not one.
[[nodiscard]] std::string_view version_of_stream(std::string_view log_stream);

// The payload's source; `region` is where the payload was read (CloudWatch Logs does not say).
[[nodiscard]] pipeline::SourceContext source_of(const Payload& payload, std::string_view region);

// Its events, in order, in one storage.
[[nodiscard]] std::vector<pipeline::Record> records_of(const Payload& payload);

}  // namespace elk::cloudwatch
