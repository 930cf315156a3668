// libFuzzer target: an arbitrary body POSTed to the telemetry listener, through the whole record path as
// the extension runs it — Receiver::handle, Enricher::enrich (with redaction and truncation rules on),
// the Batcher — and then through the spill's encoding and back. No crash (ASan, UBSan); the listener
// always answers 200; every document is one valid JSON object; the spill gives back every document as it
// was, byte for byte.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "buffer/batcher.h"
#include "check.h"
#include "delivery/spill.h"
#include "pipeline/enrich.h"
#include "sources/telemetry/receiver.h"

namespace {

using elk::fuzz::check;

elk::pipeline::Rules fuzz_rules() {
  elk::pipeline::Rules r;
  r.redact = elk::Pattern::compile("secret[0-9]*").value();
  r.redact_aws_access_keys = true;
  r.redact_bearer_tokens = true;
  r.max_message_bytes = 2048;
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const elk::Logger log(nullptr);
  static const elk::pipeline::Rules rules = fuzz_rules();  // compiled once; copies share the automaton
  elk::pipeline::Enricher enricher({"fuzz-fn", "$LATEST", "eu-west-1", "123456789012", "on-demand"}, rules, "labels",
                                   true);
  elk::buffer::Batcher batcher({10000, 1 << 20, std::chrono::milliseconds(1000)}, 42);
  elk::telemetry::Receiver receiver(
      [&](std::vector<elk::pipeline::Record>&& events) {
        for (const auto& ev : events)
          if (auto doc = enricher.enrich(ev)) batcher.add(std::move(*doc), elk::SteadyTime{});
      },
      log);
  elk::http::Request req;
  req.method = "POST";
  req.target = "/telemetry";
  req.body.assign(reinterpret_cast<const char*>(data), size);
  const auto res = receiver.handle(req, elk::EpochMs{1714644930000}, elk::SteadyTime{});
  check(res.status == 200, "the listener answers 200 to any body");
  for (auto& batch : batcher.drain()) {
    for (const auto& d : batch.documents) {
      boost::system::error_code ec;
      const auto v = boost::json::parse(d.json, ec);
      check(!ec && v.is_object(), "a document is one JSON object");
      if (!d.raw.empty()) {
        boost::json::parse(d.raw, ec);
        check(!ec, "the raw record is JSON");
      }
    }
    const auto read = elk::delivery::decode_spill(elk::delivery::encode_spill(batch));
    check(read.torn_bytes == 0 && !read.bad_header, "a spill file read back whole");
    check(read.batch.documents.size() == batch.documents.size(), "every document comes back from the spill");
    for (std::size_t i = 0; i < batch.documents.size(); ++i) {
      const auto &a = batch.documents[i], &b = read.batch.documents[i];
      check(a.json == b.json && a.raw == b.raw && a.sequence == b.sequence && a.origin == b.origin &&
                a.timestamp == b.timestamp,
            "a document comes back from the spill as it was");
    }
  }
  return 0;
}
