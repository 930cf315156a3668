// The body the s3, logstash and file destinations send: documents as NDJSON lines, one per document.
#pragma once

#include <cstddef>
#include <limits>
#include <string>

#include "buffer/batcher.h"

namespace elk::destinations {

// Appends the documents of `batch` from `begin` as NDJSON lines (each document's json, or its raw record when
// `raw`) while `body` stays within `max_bytes`, always at least one (a document too large alone travels
// alone); returns the end of what was appended.
inline std::size_t append_ndjson(const buffer::Batch& batch, std::size_t begin, std::string& body,
                                 std::size_t max_bytes = std::numeric_limits<std::size_t>::max(), bool raw = false) {
  std::size_t end = begin;
  for (; end < batch.documents.size(); ++end) {
    const auto& d = batch.documents[end];
    const std::string& line = raw ? d.raw : d.json;
    if (end > begin && body.size() + line.size() + 1 > max_bytes) break;
    body += line;
    body += '\n';
  }
  return end;
}

}  // namespace elk::destinations
