#!/usr/bin/env bash
# clang-tidy (the checks in .clang-tidy) over every source file of src/ and tools/; part of `make test`.
# Configures build/lint for its compile database only (nothing is compiled), rewrites the g++ commands for
# clang 14 (-std=c++23 -> -std=c++2b; g++-only and sanitizer flags dropped; cmake/compat first on the
# include path when clang cannot compile libstdc++'s <expected>), then runs run-clang-tidy on N jobs.
# Exits non-zero on any warning. Needs clang-tidy (apt-get install -y clang-tidy).
# Usage: scripts/lint.sh [jobs]   (default 2)
set -euo pipefail
jobs=${1:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/lint
for tool in clang-tidy run-clang-tidy clang++; do
  if ! command -v "$tool" >/dev/null; then
    echo "lint: $tool not found (apt-get install -y clang clang-tidy)" >&2
    exit 2
  fi
done

work=$(mktemp -d /tmp/elk-lint.XXXXXX)
trap 'rm -rf "$work"' EXIT
if ! cmake -S "$root" -B "$build" -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_BUILD_TYPE=Debug \
      -DELK_TESTS=OFF >"$work/configure.log" 2>&1; then
  tail -n 40 "$work/configure.log" >&2
  echo "lint: configure failed" >&2
  exit 1
fi

# Does this clang compile libstdc++'s <expected>? If not, lint against the stand-in (cmake/compat/expected).
compat=()
printf '#include <expected>\nstd::expected<int, int> f() { return 1; }\n' >"$work/probe.cpp"
if ! clang++ -std=c++2b -fsyntax-only "$work/probe.cpp" 2>/dev/null; then
  compat=(-isystem "$root/cmake/compat")
fi

mkdir -p "$work/db"
python3 - "$build/compile_commands.json" "$work/db/compile_commands.json" "$root" "${compat[@]}" <<'PY'
import json, shlex, sys
source, target, root, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
drop_prefixes = ("-mmemcpy-strategy", "-mmemset-strategy", "-fsanitize", "-fno-sanitize", "-Werror", "-Wno-restrict")
entries = []
for entry in json.load(open(source)):
    if not (entry["file"].startswith(root + "/src/") or entry["file"].startswith(root + "/tools/")):
        continue
    args = shlex.split(entry["command"])
    out = [args[0]] + extra
    for a in args[1:]:
        if a.startswith(drop_prefixes):
            continue
        out.append("-std=c++2b" if a == "-std=c++23" else a)
    entry["command"] = shlex.join(out)
    entries.append(entry)
json.dump(entries, open(target, "w"), indent=1)
print(f"lint: clang-tidy over {len(entries)} files", file=sys.stderr)
PY

if ! run-clang-tidy -quiet -j "$jobs" -p "$work/db" "$root/(src|tools)/.*\.cpp$" >"$work/tidy.log" 2>&1; then
  grep -E "(warning|error):" "$work/tidy.log" | sort -u >&2 || tail -n 60 "$work/tidy.log" >&2
  echo "lint: clang-tidy found problems (scripts/lint.sh; the checks are in .clang-tidy)" >&2
  exit 1
fi
echo "lint: clean"
