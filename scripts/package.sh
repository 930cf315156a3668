#!/usr/bin/env bash
# make package: the Lambda layer zips, dist/elk-extension-x86_64.zip and dist/elk-extension-arm64.zip,
# and the forwarder function zips, dist/elk-forwarder-x86_64.zip and dist/elk-forwarder-arm64.zip.
# A layer zip holds exactly one entry, extensions/elk-extension (a layer extracts to /opt, and Lambda
# starts every file in /opt/extensions/); a forwarder zip holds bootstrap (the entry point of a
# provided.al2023 function), the same binary. Each is stripped, with the Unix mode 0755 stored in the
# zip so that the extracted file is executable (else: "fork/exec ...: permission denied").
# Usage: scripts/package.sh [x86_64 binary] [arm64 binary]   (the Makefile builds both first)
set -euo pipefail
x86=${1:-build/release/elk-extension}
arm=${2:-build/release-arm64/elk-extension}
max_bytes=${ELK_PACKAGE_MAX_BYTES:-3300000}   # 3.3 MB, decimal: 3.1 MB before the forwarder mode added 0.12 MB; 3 MB before RE2 added 0.2 MB
mkdir -p dist build/package
for arch in x86_64 arm64; do
  if [ "$arch" = x86_64 ]; then bin=$x86; strip=strip; else bin=$arm; strip=aarch64-linux-gnu-strip; fi
  [ -x "$bin" ] || { echo "package: $bin is missing (run make package)" >&2; exit 1; }
  stage=build/package/$arch
  rm -rf "$stage" && mkdir -p "$stage"
  "$strip" --strip-all -o "$stage/elk-extension" "$bin"
  for kind in extension forwarder; do
    if [ "$kind" = extension ]; then entry=extensions/elk-extension; else entry=bootstrap; fi
    zipfile=dist/elk-$kind-$arch.zip
    # Python's zipfile, not zip(1): the mode is set explicitly (external_attr, made on Unix) and the
    # timestamp is fixed, so the same binary always gives the same zip.
    python3 - "$stage/elk-extension" "$zipfile" "$entry" <<'PY'
import sys, zipfile
src, dst, entry = sys.argv[1], sys.argv[2], sys.argv[3]
info = zipfile.ZipInfo(entry, date_time=(1980, 1, 1, 0, 0, 0))
info.create_system = 3                   # Unix: unzip and Lambda honour the mode below
info.external_attr = (0o100755 << 16)    # regular file, rwxr-xr-x
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst + ".tmp", "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
    # Recompressed with zopfli (advancecomp's advzip; same deflate format, ~3-4% smaller, the entry's
    # mode and time kept). Takes ~40 s per zip.
    advzip --recompress -4 --iter 15 -q "$zipfile.tmp"
    mv "$zipfile.tmp" "$zipfile"
    size=$(stat -c %s "$zipfile")
    printf 'package: %-32s %8d bytes (binary %d bytes stripped)\n' "$zipfile" "$size" "$(stat -c %s "$stage/elk-extension")"
    # The target: a warning here, a failed check in scripts/package-test.sh.
    [ "$size" -le "$max_bytes" ] || echo "package: WARNING: $zipfile is larger than the $max_bytes-byte target" >&2
  done
done

# The sample functions' code, for deploy/serverless.yml (SAM zips deploy/functions/* itself).
for runtime in node python; do
  python3 - "deploy/functions/$runtime" "dist/sample-function-$runtime.zip" <<'PY'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
    for name in sorted(os.listdir(src)):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = (0o100644 << 16)
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(os.path.join(src, name), "rb") as f:
            z.writestr(info, f.read())
PY
  echo "package: dist/sample-function-$runtime.zip (deploy/functions/$runtime, for serverless.yml)"
done
