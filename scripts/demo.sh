#!/usr/bin/env bash
# make demo: runs the built extension under the bundled Lambda emulator (5 invocations of a function
# that logs in Node.js, Python and plain formats), shipping to the `file` destination, then prints a
# summary of what arrived. Usage: scripts/demo.sh <build dir>
set -euo pipefail
build=${1:-build/release}
demo=build/demo
rm -rf "$demo"
mkdir -p "$demo/extensions" "$demo/out"
cp "$build/elk-extension" "$demo/extensions/elk-extension"

echo "== running elk-extension under the Lambda emulator: 5 invocations, 4 lines each =="
EXTENSION_LOG_DESTINATIONS=file \
EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$demo/out" \
EXTENSION_LOG_SPILL_DIRECTORY="$demo/spill" \
EXTENSION_LOG_LISTENER_PORT=0 \
  "$build/lambda-emulator" --extensions-dir "$demo/extensions" --invocations 5 --lines 4 \
    --runtime mixed --report "$demo/report.json" --summarize-dir "$demo/out"
echo
echo "== the documents are in $demo/out (one NDJSON file per flush); the emulator's report: $demo/report.json =="
