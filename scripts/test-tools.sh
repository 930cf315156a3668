#!/usr/bin/env bash
# Installs the test-only servers that come from npm into build/test-tools (idempotent):
# s3rver, the S3-compatible server the S3 integration tests write to. Needs node and npm.
set -euo pipefail
dir=build/test-tools
if [ -x "$dir/node_modules/.bin/s3rver" ]; then exit 0; fi
mkdir -p "$dir"
echo "test-tools: installing s3rver@3.7.1 from npm into $dir" >&2
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error s3rver@3.7.1 >/dev/null
