// `s3`: one object per flush (split past a bound), SigV4-signed PutObject, NDJSON documents or the
// raw telemetry records, optionally gzip'd, under the seed's key names or Athena-ready partitions.
#pragma once

#include <string>

#include "destinations/destination.h"

namespace elk::destinations {

[[nodiscard]] const DestinationType& s3_destination();

namespace s3 {

// The object key of one object (exposed for tests): named after its first document's time and
// `unique` = batch_unique(first document) (destination.h), so that it is the same on every retry and replay and
// distinct for every object of every environment of the function.
struct KeyParts {
  std::string prefix;    // EXTENSION_LOG_DESTINATION_S3_OBJECT_NAME (default: the function name)
  std::string function;  // the function name
  bool partitioned = false;
  bool gzip = false;
  bool raw = false;
};
[[nodiscard]] std::string object_key(const KeyParts& parts, EpochMs first_time, std::string_view unique);

// The Code and Message of an S3 XML error body ("" when absent).
struct S3Error {
  std::string code;
  std::string message;
};
[[nodiscard]] S3Error parse_error(std::string_view xml);

}  // namespace s3
}  // namespace elk::destinations
