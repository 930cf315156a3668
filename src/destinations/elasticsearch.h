// `elasticsearch` (alias `opensearch`): the documents into a data stream or index through `_bulk`,
// with deterministic ids so that a retried bulk never indexes a line twice, per-item outcomes, and
// basic, API key or SigV4 (Amazon OpenSearch Service / Serverless) authentication.
#pragma once

#include <string>

#include "destinations/destination.h"

namespace elk::destinations {

[[nodiscard]] const DestinationType& elasticsearch_destination();

namespace elasticsearch {

// The `_id` of a document: a hash of the function, the environment, the record time and the
// document's sequence in the environment — the same on every retry, distinct for every document; for a
// document with a stable id of its source's (Document::id), a hash of that id alone, so that the record
// read again (another invocation, another process) is the same document.
[[nodiscard]] std::string document_id(std::string_view function, std::string_view environment,
                                      const pipeline::Document& doc);

// An index name with strftime-like %Y %m %d %H expanded from the document's time (UTC).
[[nodiscard]] std::string expand_index(std::string_view pattern, EpochMs time);

}  // namespace elasticsearch
}  // namespace elk::destinations
