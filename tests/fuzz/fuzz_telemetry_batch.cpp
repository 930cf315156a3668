// libFuzzer target: a Telemetry/Logs API delivery body through telemetry::parse_batch, then every string
// record (text-format function/extension lines, platform.fault) through the log-line parsers, as the
// pipeline does. No crash (ASan, UBSan), and the parsers' views stay inside the record.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "pipeline/log_line.h"
#include "pipeline/platform_line.h"
#include "telemetry/parse.h"

namespace {

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto batch = elk::telemetry::parse_batch(body, elk::EpochMs{0});
  if (!batch) return 0;
  for (const auto& event : batch->events) {
    check(!event.time.empty(), "time is set (from the body or the receive time)");
    const auto* record = event.record.if_string();
    if (record == nullptr) continue;
    const std::string_view text(record->data(), record->size());
    const auto line = elk::pipeline::parse_log_line(text);
    check(inside(line.message, text), "message inside record");
    check(inside(line.request_id, text), "request id inside record");
    if (const auto platform = elk::pipeline::parse_platform_line(text))
      check(inside(platform->request_id, text), "platform request id inside record");
  }
  return 0;
}
