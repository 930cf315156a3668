#!/usr/bin/env bash
# make bench: the extension's cost to a function, measured under the bundled emulator with the
# release binary and the file destination: init time (spawn -> first next), RSS, CPU per invocation,
# and the latency it adds to each invocation (the acknowledgement of the delivery carrying
# platform.runtimeDone -> the extension's next `next`, which includes the end-of-invocation flush).
# Usage: scripts/bench.sh <release build dir> [invocations] [lines per invocation]
set -euo pipefail
build=${1:-build/release}
n=${2:-200}
lines=${3:-10}
dir=$(mktemp -d /tmp/elk-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/extensions" "$dir/out"
cp "$build/elk-extension" "$dir/extensions/elk-extension"

runs=5
for i in $(seq 1 $runs); do
  rm -rf "$dir/out"/*
  EXTENSION_LOG_DESTINATIONS=file EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$dir/out" EXTENSION_LOG_SPILL_DIRECTORY="$dir/spill" \
  EXTENSION_LOG_TIMEOUT_MS=100 EXTENSION_LOG_LISTENER_PORT=0 \
    "$build/lambda-emulator" --quiet --extensions-dir "$dir/extensions" --invocations "$n" --lines "$lines" \
      --runtime mixed --invoke-ms 1 --report "$dir/report-$i.json" 2>"$dir/stderr-$i.txt" \
    || { cat "$dir/stderr-$i.txt"; exit 1; }
done

jq -s --argjson n "$n" --argjson lines "$lines" '
  def pct(p): sort | .[((length - 1) * p | floor)];
  def ms: . / 1000 | (. * 1000 | round) / 1000;
  {
    init_ms:      [.[].extensions[0].initUs] | {p50: (pct(0.5) | ms), max: (max | ms)},
    latency_ms:   [.[].invocations[].addedLatencyUs | select(. != null)] | {p50: (pct(0.5) | ms), p99: (pct(0.99) | ms), max: (max | ms)},
    rss_kb:       [.[].extensions[0].rssKb] | max,
    peak_rss_kb:  [.[].extensions[0].hwmKb] | max,
    cpu_us_per_invocation: ([.[].extensions[0].cpuUs] | add / length / $n | round),
    invocations: ($n * length), lines_per_invocation: $lines
  }' "$dir"/report-*.json
