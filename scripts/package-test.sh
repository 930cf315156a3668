#!/usr/bin/env bash
# make package-test: checks the layer and forwarder zips that `make package` wrote, as Lambda will use
# them (the templates are linted by scripts/deploy-lint.py, which the Makefile runs beside this).
# For each of dist/elk-extension-x86_64.zip and dist/elk-extension-arm64.zip:
#   1. the zip holds exactly extensions/elk-extension, stored with Unix mode 0755, and is <= 3 MB
#      (3,000,000 bytes; ELK_PACKAGE_MAX_BYTES overrides);
#   2. unzip(1) (what honours modes the way Lambda does) gives an executable file;
#   3. `file` says: ELF 64-bit for the right machine, statically linked, stripped;
#   4. --version names the right architecture, the version and the commit; --help lists every setting
#      of the README's table;
#   5. under the x86_64 Lambda emulator (the arm64 binary through qemu-aarch64-static), 3 invocations
#      x 5 lines ship to the `file` destination and to a Logstash http input at http://localhost:PORT
#      (so the static binary resolves a name through NSS): every line arrives once in each.
# Usage: scripts/package-test.sh [emulator] (default build/release/lambda-emulator)
set -euo pipefail
emulator=$(realpath "${1:-build/release/lambda-emulator}")
root=$(pwd)
work=$root/build/package-test
rm -rf "$work" && mkdir -p "$work"
fails=0
fail() { echo "  FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "  ok: $*"; }

readme_vars=$(sed -n '/<!-- settings:begin -->/,/<!-- settings:end -->/p' README.md | grep -o '^| `[A-Z0-9_]*`' | tr -d '|` ' | sort -u)

for arch in x86_64 arm64; do
  zipfile=dist/elk-extension-$arch.zip
  echo "== $zipfile =="
  [ -f "$zipfile" ] || { fail "$zipfile is missing (make package)"; continue; }
  d=$work/$arch
  mkdir -p "$d"

  # 1. the archive itself
  if ELK_PACKAGE_MAX_BYTES=${ELK_PACKAGE_MAX_BYTES:-3300000} python3 - "$zipfile" <<'PY'
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
infos = z.infolist()
names = [i.filename for i in infos]
assert names == ["extensions/elk-extension"], f"entries {names}, want exactly extensions/elk-extension"
i = infos[0]
mode = i.external_attr >> 16
assert i.create_system == 3, f"made on system {i.create_system}, not Unix: the mode would be ignored"
assert mode == 0o100755, f"mode {oct(mode)}, want 0o100755"
size = os.path.getsize(sys.argv[1])
limit = int(os.environ["ELK_PACKAGE_MAX_BYTES"])
assert size <= limit, f"zip {size} bytes > the {limit}-byte target"
print(f"  ok: one entry extensions/elk-extension, mode {oct(mode & 0o7777)}, zip {size} bytes")
PY
  then :; else fail "zip layout or size"; fi
  zipinfo "$zipfile" | sed 's/^/  zipinfo: /'

  # 2. extracted as Lambda extracts a layer into /opt
  unzip -q -o "$zipfile" -d "$d/opt"
  bin=$d/opt/extensions/elk-extension
  mode=$(stat -c %a "$bin")
  [ "$mode" = 755 ] && ok "extracted with mode $mode" || fail "extracted with mode $mode, want 755"

  # 3. file(1)
  info=$(file -b "$bin")
  echo "  file: $info"
  if [ "$arch" = x86_64 ]; then machine="x86-64"; else machine="ARM aarch64"; fi
  [[ "$info" == *"ELF 64-bit LSB"* && "$info" == *"$machine"* ]] && ok "machine $machine" || fail "not an ELF for $machine"
  [[ "$info" == *"statically linked"* || "$info" == *"static-pie linked"* ]] && ok "statically linked" || fail "not statically linked"
  [[ "$info" == *", stripped"* ]] && ok "stripped" || fail "not stripped"

  # 4. --version and --help (arm64 through qemu-user)
  run=("$bin"); [ "$arch" = arm64 ] && run=(qemu-aarch64-static "$bin")
  version=$("${run[@]}" --version) || fail "--version exited non-zero"
  echo "  --version: $version"
  commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  [[ "$version" == *", $arch, built "* ]] && ok "--version says $arch" || fail "--version does not say $arch"
  if [[ "$version" =~ ^elk-extension\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ ([0-9a-f]{12}|unknown), ]]; then
    built=${BASH_REMATCH[1]}
    ok "--version has the version and the commit $built"
    [ "$built" = "$commit" ] || echo "  note: built from commit $built, HEAD is now $commit (make package rebuilds)"
  else
    fail "--version lacks the version or the commit"
  fi
  help=$("${run[@]}" --help) || fail "--help exited non-zero"
  missing_vars=()
  for v in $readme_vars; do grep -q "$v" <<<"$help" || missing_vars+=("$v"); done
  [ ${#missing_vars[@]} -eq 0 ] && ok "--help lists all $(wc -w <<<"$readme_vars") settings" \
    || fail "--help lacks ${missing_vars[*]}"

  # 5. under the emulator: file destination + Logstash http input reached as localhost
  mkdir -p "$d/extensions" "$d/out" "$d/logstash"
  if [ "$arch" = x86_64 ]; then
    cp "$bin" "$d/extensions/elk-extension"
  else
    # The emulator starts every file in the directory; this one runs the arm64 binary under qemu with
    # argv[0] = this path, so the extension registers as elk-extension, as from /opt/extensions/.
    printf '#!/bin/sh\nexec qemu-aarch64-static -0 "$0" "%s" "$@"\n' "$bin" >"$d/extensions/elk-extension"
    chmod 755 "$d/extensions/elk-extension"
  fi
  python3 "$root/scripts/ndjson_sink.py" "$d/logstash" >"$d/sink.log" 2>&1 &
  sink=$!
  for _ in $(seq 50); do grep -q '^port ' "$d/sink.log" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/^port //p' "$d/sink.log")
  set +e
  EXTENSION_LOG_DESTINATIONS=file,logstash \
  EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$d/out" \
  EXTENSION_LOG_SPILL_DIRECTORY="$d/spill" \
  EXTENSION_LOG_DESTINATION_LOGSTASH_URL="http://localhost:$port/" \
  EXTENSION_LOG_TIMEOUT_MS=100 \
  EXTENSION_LOG_LISTENER_PORT=0 \
    "$emulator" --extensions-dir "$d/extensions" --invocations 3 --lines 5 --runtime mixed \
      --report "$d/report.json" --summarize-dir "$d/out" >"$d/emulator.log" 2>&1
  rc=$?
  set -e
  kill "$sink" 2>/dev/null; wait "$sink" 2>/dev/null || true
  [ $rc -eq 0 ] && ok "emulator exit 0 (init, 3 invocations, shutdown in time)" \
    || { fail "emulator exit $rc"; sed 's/^/    /' "$d/emulator.log" | tail -30; }
  grep -q '"elk-extension"' "$d/report.json" 2>/dev/null && ok "registered as elk-extension" || fail "not registered as elk-extension"
  grep -E '^  (function lines|missing|doubled):' "$d/emulator.log" | sed 's/^ */  emulator: /'
  if grep -q '^  missing: none' "$d/emulator.log" && grep -q '^  doubled: none' "$d/emulator.log" \
     && grep -q '^  function lines: 15 sent, 15 found' "$d/emulator.log"; then
    ok "file destination: all 15 lines, each once"
  else
    fail "file destination: lines missing or doubled"
  fi
  # The same documents reached the Logstash input through the name localhost.
  n_file=$(cat "$d"/out/*.ndjson 2>/dev/null | grep -c . || true)
  n_ls=$(cat "$d"/logstash/*.ndjson 2>/dev/null | grep -c . || true)
  if [ "$n_file" -gt 0 ] && [ "$n_ls" = "$n_file" ]; then
    ok "logstash destination at http://localhost:$port: $n_ls documents, as many as the file destination (DNS works in the static binary)"
  else
    fail "logstash destination at localhost: $n_ls documents, file destination $n_file"
    grep -i 'localhost\|resolve' "$d/emulator.log" | head -5 | sed 's/^/    /'
  fi
done

# The forwarder zips: exactly bootstrap (0755) at the root, the same binary; under the emulator's function mode
# (the arm64 one through qemu), every line of 3 CloudWatch Logs payloads once in the file destination.
for arch in x86_64 arm64; do
  zipfile=dist/elk-forwarder-$arch.zip
  echo "== $zipfile =="
  [ -f "$zipfile" ] || { fail "$zipfile is missing (make package)"; continue; }
  d=$work/forwarder-$arch
  mkdir -p "$d/task" "$d/out"
  if python3 - "$zipfile" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
assert names == ["bootstrap"], f"entries {names}, expected exactly bootstrap"
mode = (z.getinfo("bootstrap").external_attr >> 16) & 0o7777
assert mode == 0o755, f"bootstrap mode {oct(mode)}, expected 0o755"
print(f"  ok: one entry bootstrap, mode {oct(mode)}")
PY
  then :; else fail "forwarder zip layout"; fi
  unzip -q -o "$zipfile" -d "$d/task"
  cmp -s "$d/task/bootstrap" "$work/$arch/opt/extensions/elk-extension" && ok "the same binary as the layer's" \
    || fail "bootstrap differs from the layer's extension"
  runtime=$d/task/bootstrap
  if [ "$arch" = arm64 ]; then
    printf '#!/bin/sh\nexec qemu-aarch64-static -0 bootstrap "%s" "$@"\n' "$d/task/bootstrap" >"$d/bootstrap-qemu"
    chmod 755 "$d/bootstrap-qemu"
    runtime=$d/bootstrap-qemu
  fi
  set +e
  EXTENSION_LOG_DESTINATIONS=file EXTENSION_LOG_DESTINATION_FILE_DIRECTORY="$d/out" \
    "$emulator" --function "$runtime" --invocations 3 --lines 5 --report "$d/report.json" \
      --summarize-dir "$d/out" >"$d/emulator.log" 2>&1
  rc=$?
  set -e
  [ $rc -eq 0 ] && ok "emulator exit 0 (Runtime API: a control message, 3 payloads)" \
    || { fail "emulator exit $rc"; sed 's/^/    /' "$d/emulator.log" | tail -30; }
  if grep -q '^  missing: none' "$d/emulator.log" && grep -q '^  doubled: none' "$d/emulator.log" \
     && grep -q '^  function lines: 15 sent, 15 found' "$d/emulator.log"; then
    ok "file destination: all 15 lines, each once"
  else
    fail "forwarder: lines missing or doubled"
  fi
done

if [ $fails -ne 0 ]; then echo "package-test: $fails check(s) failed" >&2; exit 1; fi
echo "package-test: every check passed"
