#!/usr/bin/env bash
# make bench: the extension's cost to a function, measured under the bundled emulator with the release
# binary, the `file` destination and DEFAULT settings unless a row says otherwise. Per row:
#   added   time added to each invocation as Lambda bills it: the runtime's end (platform.runtimeDone as the
#           emulator emits it, before the Telemetry API's buffering) -> the extension's next `event/next`
#   fresh   every function line: written by the runtime -> in a file of the destination (the file's mtime,
#           the kernel's coarse clock: up to ~4 ms early); p50 is the median of the runs', p99 and max the worst
#   before  share of each invocation's lines at the destination before the next INVOKE (worst invocation, mean)
#   once    lines missing / doubled at the destination, over all runs
#   init    process start -> first `event/next`; rss at SHUTDOWN; cpu per invocation
# Usage: scripts/bench.sh <release build dir> [runs scale: 1 = the full set]
set -euo pipefail
build=${1:-build/release}
dir=$(mktemp -d /tmp/elk-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/extensions"
cp "$build/elk-extension" "$dir/extensions/elk-extension"

printf '| row | added p50 / p99 / max | fresh p50 / p99 / max | before next INVOKE: worst / mean | missing / doubled | init p50 | rss | cpu / invocation |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'

# row NAME RUNS INVOCATIONS LINES IDLE_MS [VAR=VALUE ...]: invocations IDLE_MS apart (frozen in between), each
# running 1 ms and writing LINES lines.
row() {
  local name=$1 runs=$2 n=$3 lines=$4 idle=$5
  shift 5
  rm -f "$dir"/report-*.json
  for i in $(seq 1 "$runs"); do
    rm -rf "$dir/out" "$dir/spill"
    mkdir -p "$dir/out"
    env EXTENSION_LOG_DESTINATIONS=file EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$dir/out" \
      EXTENSION_LOG_SPILL_DIRECTORY="$dir/spill" EXTENSION_LOG_LISTENER_PORT=0 "$@" \
      "$build/lambda-emulator" --quiet --extensions-dir "$dir/extensions" --invocations "$n" --lines "$lines" \
      --runtime mixed --invoke-ms 1 --idle-ms "$idle" --arrivals-dir "$dir/out" --report "$dir/report-$i.json" \
      2>"$dir/stderr-$i.txt" || { cat "$dir/stderr-$i.txt" >&2; exit 1; }
  done
  jq -rs --arg name "$name" --argjson n "$n" '
    def pct(p): sort | .[((length - 1) * p | floor)];
    def ms: (. * 100 | round) / 100;
    def us2ms: . / 1000 | ms;
    ([.[].invocations[].addedLatencyUs | select(. != null)]) as $added
    | ([.[].invocations[].linesBeforeNextInvoke | select(. != null)]) as $before
    | "| \($name) | \($added | pct(0.5) | us2ms) / \($added | pct(0.99) | us2ms) / \($added | max | us2ms) ms"
      + " | \([.[].arrivals.freshnessMs.p50] | pct(0.5) | ms) / \([.[].arrivals.freshnessMs.p99] | max | ms)"
      + " / \([.[].arrivals.freshnessMs.max] | max | ms) ms"
      + " | \(if ($before | length) > 0 then "\($before | min * 100 | ms) % / \($before | add / length * 100 | ms) %" else "—" end)"
      + " | \([.[].arrivals.missing] | add) / \([.[].arrivals.doubled] | add)"
      + " | \([.[].extensions[0].initUs] | pct(0.5) | us2ms) ms"
      + " | \([.[].extensions[0].rssKb] | max / 1024 * 10 | round / 10) MB"
      + " | \([.[].extensions[0].cpuUs] | add / length / $n | us2ms) ms |"' "$dir"/report-*.json
  echo "  $name: lambda-emulator --invocations $n --lines $lines --invoke-ms 1 --idle-ms $idle ($runs runs)${*:+, $*}" >>"$dir/commands"
}

row "frequent: 100 ms apart, 100 lines (defaults)" 3 200 100 99
row "rare: 5 s apart, 100 lines (defaults)" 2 10 100 5000
row "back to back, 10 lines (defaults)" 3 200 10 0
row "frequent, EXTENSION_LOG_FLUSH=end" 2 200 100 99 EXTENSION_LOG_FLUSH=end
echo
echo "Rows (release build, file destination, each invocation runs 1 ms):"
cat "$dir/commands"

# The forwarder (the same binary as a function's bootstrap) under the emulator's function mode: init (process
# start -> first next), each payload's time from hand-out to answer, peak memory.
echo
printf '| forwarder row | init p50 | per payload p50 / max | lines missing / doubled | peak rss |\n'
printf '| --- | --- | --- | --- | --- |\n'
ln -sf "$(realpath "$build/elk-extension")" "$dir/bootstrap"
frow() {
  local name=$1 runs=$2 n=$3 lines=$4 bytes=$5
  rm -f "$dir"/freport-*.json
  for i in $(seq 1 "$runs"); do
    rm -rf "$dir/out" && mkdir -p "$dir/out"
    EXTENSION_LOG_DESTINATIONS=file EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$dir/out" \
      "$build/lambda-emulator" --quiet --function "$dir/bootstrap" --invocations "$n" --lines "$lines" \
      --line-bytes "$bytes" --streams 4 --report "$dir/freport-$i.json" --summarize-dir "$dir/out" \
      >"$dir/fsummary-$i.txt" 2>"$dir/stderr-$i.txt" || { cat "$dir/stderr-$i.txt" >&2; exit 1; }
  done
  missing=$(grep -h '^  missing:' "$dir"/fsummary-*.txt | grep -vc 'none' || true)
  doubled=$(grep -h '^  doubled:' "$dir"/fsummary-*.txt | grep -vc 'none' || true)
  jq -rs --arg name "$name" --arg md "$missing / $doubled runs" '
    def pct(p): sort | .[((length - 1) * p | floor)];
    def ms: (. * 100 | round) / 100;
    ([.[].function.inits[0].ms]) as $init
    | ([.[].function.invocations[] | select(.kind == "data") | .durationUs / 1000]) as $d
    | "| \($name) | \($init | pct(0.5) | ms) ms | \($d | pct(0.5) | ms) / \($d | max | ms) ms | \($md)"
      + " | \([.[].function.hwmKb] | max / 1024 * 10 | round / 10) MB |"' "$dir"/freport-*.json
  echo "  $name: lambda-emulator --function bootstrap --invocations $n --lines $lines --line-bytes $bytes --streams 4 ($runs runs)" >>"$dir/fcommands"
}
frow "20 payloads of 1,000 200-byte lines (defaults)" 3 20 1000 200
frow "5 payloads of 20,000 200-byte lines (defaults)" 2 5 20000 200

# Peak memory of the forwarder's path for one subscription payload of about 1 MB compressed (10,000 lines of
# random text, 3.3 MB inflated), replayed from a file as an on-failure record (the same path as an invocation):
# /usr/bin/time's maximum resident set size.
python3 - "$dir/one-mb.json" <<'PY'
import base64, gzip, json, random, string, sys
random.seed(1)
rid = "8f507cfc-0d1c-4697-b07a-ac58fc914c95"
events = [{"id": str(i).zfill(56), "timestamp": 1765101600000 + i,
           "message": f"2026-12-07T10:00:00.123Z\t{rid}\tINFO\tinv=1 line={i + 1} "
                      + "".join(random.choice(string.ascii_letters) for _ in range(130)) + "\n"}
          for i in range(10000)]
payload = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/orders",
           "logStream": "2026/12/07/[$LATEST]0123456789abcdef0123456789abcdef", "subscriptionFilters": ["elk"],
           "logEvents": events}
data = gzip.compress(json.dumps(payload).encode())
print(f"payload: {len(data)} bytes compressed", file=sys.stderr)
json.dump({"requestPayload": {"awslogs": {"data": base64.b64encode(data).decode()}}}, open(sys.argv[1], "w"))
PY
rm -rf "$dir/out" && mkdir -p "$dir/out"
EXTENSION_LOG_DESTINATIONS=file EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$dir/out" \
  /usr/bin/time -f '%M' -o "$dir/rss.txt" "$build/elk-extension" replay "$dir/one-mb.json" 2>/dev/null
echo "| one payload of ~1 MB compressed (10,000 random-text lines), through replay | — | — | — | $(awk '{printf "%.1f MB", $1 / 1024}' "$dir/rss.txt") |"
echo
echo "Forwarder rows (release build, file destination):"
cat "$dir/fcommands"
