#!/usr/bin/env bash
# Fuzzes the log-line/platform-line parsers, the telemetry batch parser, the CloudWatch Logs decoders, the record path from the
# listener's body to the spill, the spill file reader and the processing rules (user patterns) with libFuzzer (clang, ASan +
# UBSan): builds tests/fuzz into build/fuzz, then runs each target for a fixed number of inputs over a
# temporary copy of its seed corpus (tests/fuzz/corpus/<target>/ and tests/data/telemetry/).
# Exits non-zero on any crash, leak, timeout or broken invariant; crashing inputs are kept in
# build/fuzz/artifacts/. Needs clang and libFuzzer: apt-get install -y clang libclang-rt-14-dev
# Usage: scripts/fuzz.sh [runs per target]   (default 20000; each target stops after 60 s at most)
set -euo pipefail
runs=${1:-20000}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
targets=(fuzz_log_line fuzz_telemetry_batch fuzz_receiver fuzz_spill fuzz_rules fuzz_cloudwatch)

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (apt-get install -y clang libclang-rt-14-dev)" >&2
  exit 2
fi
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi

work=$(mktemp -d /tmp/elk-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT

if ! cmake -S "$root/tests/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >"$work/configure.log" 2>&1 ||
   ! cmake --build "$build" -j 2 >"$work/build.log" 2>&1; then
  cat "$work/configure.log" "$work/build.log" 2>/dev/null | tail -n 60 >&2
  echo "fuzz: build failed" >&2
  exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=()
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  corpus=$work/$target/corpus
  artifacts=$work/$target/artifacts
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
  if [ "$name" != spill ] && [ "$name" != rules ] && [ "$name" != cloudwatch ]; then cp "$root/tests/data/telemetry/"*.json "$root/tests/data/telemetry/"*.ndjson "$corpus/"; fi
  dict=()
  if [ -f "$root/tests/fuzz/corpus/$name.dict" ]; then dict=(-dict="$root/tests/fuzz/corpus/$name.dict"); fi

  log=$work/$target.log
  rc=0
  "$build/$target" -runs="$runs" -max_total_time=60 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1 || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  if [ "$rc" -eq 0 ] && [ -z "$(ls -A "$artifacts")" ]; then
    summary+=("$target: OK, ${execs:-?} inputs (${done_line:-no summary})")
  else
    status=1
    mkdir -p "$build/artifacts"
    cp "$artifacts/"* "$build/artifacts/" 2>/dev/null || true
    echo "---- $target (exit $rc), last lines of its log ----" >&2
    tail -n 60 "$log" >&2
    summary+=("$target: FAILED (exit $rc), ${execs:-?} inputs; crashing inputs in build/fuzz/artifacts/")
  fi
done

for line in "${summary[@]}"; do echo "$line"; done
exit $status
