// Turns telemetry events into documents: one compact JSON object per record, with Elastic Common
// Schema field names, knowing its function and (where known) its invocation's request id.
#pragma once

#include <string>

#include "core/types.h"
#include "telemetry/event.h"

namespace elk::pipeline {

struct Document {
  std::string json;  // one JSON object, no trailing newline
  EpochMs timestamp;
};

struct FunctionContext {
  std::string function_name;
  std::string function_version;
  std::string region;
  std::string account_id;  // "" when unknown
};

class Enricher {
 public:
  explicit Enricher(FunctionContext context) : context_(std::move(context)) {}

  [[nodiscard]] Document enrich(const telemetry::Event& event);

 private:
  FunctionContext context_;
  std::string current_request_;  // between platform.start and platform.runtimeDone
};

}  // namespace elk::pipeline
