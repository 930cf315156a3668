// libFuzzer target: the CloudWatch Logs decoders on arbitrary bytes; the first byte picks which. Beyond "no
// crash" (ASan, UBSan) and bounded memory (-rss_limit_mb), it checks what callers rely on: base64 decoding is
// strict (what decodes encodes back to the same text), gunzip never returns more than its bound, a payload's
// records are its events in order with their ids, and every record becomes a JSON document naming its event.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.h"
#include "core/base64.h"
#include "core/gzip.h"
#include "pipeline/enrich.h"
#include "sources/cloudwatch/payload.h"
#include "sources/cloudwatch/records.h"

namespace {

using elk::fuzz::check;
namespace cw = elk::cloudwatch;

constexpr std::size_t kBound = 1024 * 1024;

void check_payload(const cw::Payload& p) {
  const auto records = cw::records_of(p);
  check(records.size() == p.events.size(), "one record per event");
  elk::pipeline::Enricher base(elk::pipeline::FunctionContext{"self", "", "us-east-1", "", ""}, {});
  auto enricher = base.for_source(cw::source_of(p, "us-east-1"));
  for (std::size_t i = 0; i < records.size(); ++i) {
    check(records[i].id == p.events[i].id, "a record carries its event's id");
    const auto d = enricher.enrich(records[i]);
    check(d.has_value(), "no rules: every record is a document");
    boost::system::error_code ec;
    const auto v = boost::json::parse(d->json, ec);
    check(!ec && v.is_object(), "a document is a JSON object");
    check(d->id.ends_with(p.events[i].id), "a document's id is its event's, qualified");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (const auto p = cw::parse_payload(in)) check_payload(*p);
      break;
    case 1:
      if (const auto out = elk::gunzip(in, kBound)) check(out->size() <= kBound, "gunzip keeps to its bound");
      break;
    case 2:
      if (const auto bytes = elk::decode_base64(in)) check(elk::base64(*bytes) == in, "strict base64");
      if (const auto p = cw::decode_payload(in, kBound)) check_payload(*p);
      break;
    default:
      if (const auto e = cw::parse_event(in)) {
        if (e->type == cw::Event::Type::kinesis)
          for (const auto& r : e->records) check(!r.sequence_number.empty(), "a Kinesis record has its number");
      }
      break;
  }
  return 0;
}
