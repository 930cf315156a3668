// What the spill costs: writing a batch of typical documents to /tmp (encode + one file), and reading it
// back (read + CRC check + decode) and deleting it, as a replay does. Reported as bytes of documents per
// second; a batch is 1 MB (about one delivery's documents).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "delivery/spill.h"

namespace {

elk::buffer::Batch batch_of(std::size_t bytes) {
  elk::buffer::Batch b;
  const std::string doc =
      R"({"@timestamp":"2024-05-02T11:00:00.102Z","message":"user signed in inv=1 line=1 padding padding padding",)"
      R"("log":{"level":"info"},"event":{"dataset":"aws.lambda","kind":"event","action":"function"},)"
      R"("faas":{"name":"bench-fn","version":"$LATEST","execution":"3b2e7a0c-5d2b-4d6c-9a57-5bd0e1d1c0a1",)"
      R"("coldstart":false},"cloud":{"provider":"aws","region":"us-east-1","account":{"id":"123456789012"}}})";
  for (std::uint64_t seq = 1; b.bytes < bytes; ++seq) {
    b.documents.push_back({doc, elk::EpochMs{1714644000000 + static_cast<std::int64_t>(seq)}, "", seq, 42});
    b.bytes += doc.size();
  }
  return b;
}

std::filesystem::path scratch() {
  auto dir = std::filesystem::temp_directory_path() / ("elk-spill-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

void SpillWrite(benchmark::State& state) {
  const auto dir = scratch();
  auto spill = elk::delivery::Spill::open(dir, std::uint64_t{1} << 40).value();
  const auto b = batch_of(1 << 20);
  for (auto _ : state) {
    if (!spill.append("bench", b)) state.SkipWithError("append failed");
    state.PauseTiming();
    auto e = spill.front("bench");
    spill.remove("bench", e->id);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.bytes));
  state.counters["docs/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * b.documents.size()), benchmark::Counter::kIsRate);
  std::filesystem::remove_all(dir);
}

void SpillReplay(benchmark::State& state) {
  const auto dir = scratch();
  auto spill = elk::delivery::Spill::open(dir, std::uint64_t{1} << 40).value();
  const auto b = batch_of(1 << 20);
  for (auto _ : state) {
    state.PauseTiming();
    if (!spill.append("bench", b)) state.SkipWithError("append failed");
    state.ResumeTiming();
    auto e = spill.front("bench");
    benchmark::DoNotOptimize(e->batch.documents.data());
    spill.remove("bench", e->id);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * b.bytes));
  state.counters["docs/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * b.documents.size()), benchmark::Counter::kIsRate);
  std::filesystem::remove_all(dir);
}

BENCHMARK(SpillWrite)->Unit(benchmark::kMicrosecond);
BENCHMARK(SpillReplay)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
