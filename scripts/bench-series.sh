#!/usr/bin/env bash
# The record-path figures of the README's Performance table, made robust against a host whose speed drifts:
# runs pipeline_bench (text logs, JSON logs, cold start; 1 s each) in rounds spaced apart and reports, per
# binary and case, the min / median / max MB/s and how many runs reached 300 MB/s. Given two binaries (say a
# copy of the previous build's and the current one), each round runs both, one after the other, and the median
# of the per-round ratios (second / first) is printed too: a comparison the drift does not bias.
# Usage: scripts/bench-series.sh [rounds (15)] [seconds between rounds (20)] [pipeline_bench ...]
#        (default binary: build/bench/bench/pipeline_bench, as `make bench` builds it)
set -euo pipefail
rounds=${1:-15}
gap=${2:-20}
shift $(($# < 2 ? $# : 2))
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("$(cd "$(dirname "$0")/.." && pwd)/build/bench/bench/pipeline_bench")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $(seq "$rounds"); do
  for i in "${!binaries[@]}"; do
    "${binaries[$i]}" --benchmark_min_time=1 --benchmark_filter='BM_(TextLogs|JsonLogs|ColdStartInvocation)$' 2>/dev/null |
      awk -v r="$r" -v b="$i" '/^BM_/ { v = $0; sub(/.*bytes_per_second=/, "", v); print r, b, $1, (v + 0) * 1.048576 }' >>"$out"
  done
  [ "$r" -eq "$rounds" ] || sleep "$gap"
done
for i in "${!binaries[@]}"; do echo "[$i] ${binaries[$i]}"; done
awk '
  { v[$2 " " $3] = v[$2 " " $3] " " $4; ratio_base[$1 " " $3] = ($2 == 0) ? $4 : ratio_base[$1 " " $3]
    if ($2 == 1 && ratio_base[$1 " " $3] > 0) r[$3] = r[$3] " " ($4 / ratio_base[$1 " " $3]) }
  function sorted(s, a,   n, i, j, t) { n = split(s, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return n }
  END {
    for (k in v) { n = sorted(v[k], a); ok = 0; for (i = 1; i <= n; i++) ok += a[i] >= 300
      split(k, kk, " "); printf "[%s] %-24s min %4.0f  median %4.0f  max %4.0f MB/s  (%d of %d runs >= 300)\n", kk[1], kk[2], a[1], a[int((n + 1) / 2)], a[n], ok, n }
    for (c in r) { n = sorted(r[c], a); printf "[1]/[0] %-20s median %.3f  (min %.3f, max %.3f)\n", c, a[int((n + 1) / 2)], a[1], a[n] }
  }' "$out" | sort
