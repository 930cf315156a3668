// `elk-extension replay FILE...`: ships again the events Lambda gave up on. Each file holds on-failure records
// (what an asynchronous invocation's on-failure destination or DLQ receives after the retries: one JSON object,
// a JSON array of them, or one per line), whose requestPayload is the original event; each event goes through
// the forwarder as if Lambda handed it again, with the same settings, and so to the same documents and ids (a
// replay over what did arrive doubles nothing where the destination dedupes: Elasticsearch, S3, files).
#pragma once

#include <string>
#include <vector>

#include "core/getenv.h"
#include "core/log.h"
#include "core/result.h"
#include "core/types.h"

namespace elk::forward {

struct ReplayInput {
  std::string source;  // the file it came from, and where in it ("failed.jsonl:3")
  std::string region;  // of the forwarder that failed (requestContext.functionArn), "" when unknown
  std::string event;   // requestPayload, serialized
};

// The events of a file's on-failure records; an error names the file and what is wrong with it. Records
// without a requestPayload are skipped, each said in `skipped`.
[[nodiscard]] Result<std::vector<ReplayInput>> read_on_failure_records(const std::string& path,
                                                                       std::vector<std::string>& skipped);

// 0 when every event was delivered, 1 when one was not (it says which), 2 on bad usage or settings.
[[nodiscard]] int replay(const std::vector<std::string>& files, const Getenv& environment, const Logger& log);

}  // namespace elk::forward
