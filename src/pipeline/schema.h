// The top-level fields of every document the enricher writes (Elastic Common Schema names and ours). The
// other keys of a JSON-format record go under EXTENSION_LOG_EXTRA_FIELDS_ROOT, which must not be one of
// these: a second top-level key of the same name is a document Elasticsearch rejects. A unit test checks this
// list against what the enricher writes.
#pragma once

#include <array>
#include <string_view>

namespace elk::pipeline {

inline constexpr std::array<std::string_view, 11> kDocumentRoots = {
    "@timestamp", "message", "log", "event", "faas", "cloud", "aws", "ecs", "error", "trace", "span"};

}  // namespace elk::pipeline
