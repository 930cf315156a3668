// The forwarder's record path: a CloudWatch Logs subscription payload (base64 of gzip of JSON) -> decoded ->
// records -> ECS documents. Throughput is of decompressed message text: the log bytes the user sent.
#include <benchmark/benchmark.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>

#include "core/base64.h"
#include "core/gzip.h"
#include "pipeline/enrich.h"
#include "sources/cloudwatch/payload.h"
#include "sources/cloudwatch/records.h"

namespace {

namespace json = boost::json;
namespace cw = elk::cloudwatch;

struct Sample {
  std::string data;  // awslogs.data
  std::size_t message_bytes = 0;
  std::size_t events = 0;
};

// A Lambda stream's lines, ~200 bytes each, Node.js and Python prefixes and plain prints in turn, with
// START/END/REPORT per 100 lines; `events` in all.
Sample make_sample(std::size_t events) {
  json::array log_events;
  Sample s;
  const std::string rid = "8f507cfc-0d1c-4697-b07a-ac58fc914c95";
  for (std::size_t i = 0; i < events; ++i) {
    std::string m;
    const std::string pad(120, 'x');
    switch (i % 100 == 0 ? 9 : i % 100 == 99 ? 8 : i % 3) {
      case 9:
        m = "START RequestId: " + rid + " Version: $LATEST\n";
        break;
      case 8:
        m = "REPORT RequestId: " + rid +
            "\tDuration: 15.74 ms\tBilled Duration: 16 ms\tMemory Size: 128 MB\tMax Memory Used: 56 MB\t\n";
        break;
      case 0:
        m = "2026-12-07T10:00:00.123Z\t" + rid + "\tINFO\tuser signed in " + std::to_string(i) + " " + pad + "\n";
        break;
      case 1:
        m = "[INFO]\t2026-12-07T10:00:00.124Z\t" + rid + "\tfetched rows " + std::to_string(i) + " " + pad + "\n";
        break;
      default:
        m = "plain print line " + std::to_string(i) + " " + pad + "\n";
        break;
    }
    s.message_bytes += m.size();
    std::string id = std::to_string(i);
    id.insert(0, 56 - id.size(), '0');  // CloudWatch Logs' ids are 56 decimal digits
    log_events.push_back(json::object{
        {"id", std::move(id)}, {"timestamp", 1765101600000 + static_cast<std::int64_t>(i)}, {"message", std::move(m)}});
  }
  s.events = events;
  s.data = elk::base64(
      elk::gzip(json::serialize(json::object{{"messageType", "DATA_MESSAGE"},
                                             {"owner", "123456789012"},
                                             {"logGroup", "/aws/lambda/orders"},
                                             {"logStream", "2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef"},
                                             {"subscriptionFilters", json::array{"elk"}},
                                             {"logEvents", std::move(log_events)}})));
  return s;
}

void BM_SubscriptionPayloadToDocuments(benchmark::State& state) {
  const auto sample = make_sample(static_cast<std::size_t>(state.range(0)));
  elk::pipeline::Enricher base(elk::pipeline::FunctionContext{"elk-forwarder", "$LATEST", "us-east-1", "", ""}, {});
  for (auto _ : state) {
    auto payload = cw::decode_payload(sample.data);
    auto enricher = base.for_source(cw::source_of(*payload, "us-east-1"));
    std::size_t bytes = 0;
    for (const auto& r : cw::records_of(*payload))
      if (auto d = enricher.enrich(r)) bytes += d->json.size();
    benchmark::DoNotOptimize(bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sample.message_bytes));
  state.counters["compressed_kb"] = static_cast<double>(sample.data.size()) / 1024.0;
  state.counters["events"] = static_cast<double>(sample.events);
}

void BM_DecodeOnly(benchmark::State& state) {
  const auto sample = make_sample(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(cw::decode_payload(sample.data));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sample.message_bytes));
}

}  // namespace

BENCHMARK(BM_SubscriptionPayloadToDocuments)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DecodeOnly)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
