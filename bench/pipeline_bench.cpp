// Throughput of the record path on the reference samples: parse a delivery body, enrich every
// record into an ECS document, encode it as NDJSON. Reported as bytes of telemetry body per second.
#include <benchmark/benchmark.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>
#include <vector>

#include "pipeline/enrich.h"
#include "pipeline/log_line.h"
#include "sources/telemetry/parse.h"

namespace {

std::string sample(const std::string& name) {
  std::ifstream in(std::string(ELK_TEST_DATA) + "/telemetry/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A delivery body of about 1 MB (Lambda's largest is 2 x maxBytes) made of one sample's records.
std::string big_body(const std::string& name) {
  const auto records = boost::json::parse(sample(name)).as_array();
  const auto one_round = boost::json::serialize(records).size();
  boost::json::array out;
  for (std::size_t size = 0; size < 1024 * 1024; size += one_round)
    for (const auto& r : records) out.push_back(r);
  return boost::json::serialize(out);
}

// As the extension does it: the documents of a delivery are held (the batcher), then encoded into one NDJSON
// body sized from their byte count (the file, Logstash and S3 destinations).
void run(benchmark::State& state, const std::string& file) {
  const auto body = big_body(file);
  elk::pipeline::Enricher enricher({"bench-fn", "$LATEST", "us-east-1", "123456789012", "on-demand"}, {});
  std::size_t docs = 0;
  for (auto _ : state) {
    auto batch = elk::telemetry::parse_batch(body, elk::EpochMs{0});
    std::vector<elk::pipeline::Document> held;
    held.reserve(batch->events.size());
    std::size_t bytes = 0;
    for (const auto& ev : batch->events)
      if (auto d = enricher.enrich(ev)) {
        bytes += d->json.size();
        held.push_back(std::move(*d));
      }
    std::string ndjson;
    ndjson.reserve(bytes + held.size());
    for (const auto& d : held) {
      ndjson += d.json;
      ndjson += '\n';
    }
    docs += held.size();
    benchmark::DoNotOptimize(ndjson.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));  // printed in MiB/s
  // The same rate in decimal megabytes (the target is 300 MB/s): "MB=312.4/s" is 312.4 MB/s.
  state.counters["MB"] =
      benchmark::Counter(static_cast<double>(state.iterations() * body.size()) / 1e6, benchmark::Counter::kIsRate);
  state.counters["docs/s"] = benchmark::Counter(static_cast<double>(docs), benchmark::Counter::kIsRate);
}

void BM_TextLogs(benchmark::State& s) {
  run(s, "function-text-logs-multi-runtime.json");
}
void BM_JsonLogs(benchmark::State& s) {
  run(s, "function-json-logs.json");
}
void BM_ColdStartInvocation(benchmark::State& s) {
  run(s, "platform-cold-start-invocation.json");
}

void parse_only(benchmark::State& state, const std::string& file) {
  const auto body = big_body(file);
  for (auto _ : state) benchmark::DoNotOptimize(elk::telemetry::parse_batch(body, elk::EpochMs{0}));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
void BM_ParseBatchOnly(benchmark::State& s) {
  parse_only(s, "function-text-logs-multi-runtime.json");
}
void BM_ParseBatchOnlyJsonLogs(benchmark::State& s) {
  parse_only(s, "function-json-logs.json");
}
void BM_ParseBatchOnlyColdStart(benchmark::State& s) {
  parse_only(s, "platform-cold-start-invocation.json");
}

void BM_ParseLogLine(benchmark::State& state) {
  const std::string line =
      "2024-05-02T11:00:00.102Z\tc0ffee00-1111-4222-8333-944455556666\tINFO\tuser signed in with a message of "
      "ordinary length, as most lines are\n";
  for (auto _ : state) benchmark::DoNotOptimize(elk::pipeline::parse_log_line(line));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * line.size()));
}

BENCHMARK(BM_TextLogs)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_JsonLogs)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ColdStartInvocation)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseBatchOnly)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseBatchOnlyJsonLogs)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseBatchOnlyColdStart)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseLogLine);

}  // namespace

BENCHMARK_MAIN();
