#!/usr/bin/env bash
# make test-arm64: the GoogleTest integration tests (tests/integration) with the arm64 release binary
# as the extension, run under qemu-user (qemu-aarch64-static) by the x86_64 Lambda emulator.
# The tests take the extension from the compile definition ELK_EXTENSION_BIN (= the tree's own
# elk-extension target), so a separate tree, build/itest-arm64, is built for the host and its
# elk-extension is then replaced by a wrapper that execs the arm64 binary under qemu with argv[0]
# kept (the extension registers under the name of its file, elk-extension, as in /opt/extensions/).
# ELK_RELEASE_BIN is left unset: ReleaseBinary.* reads the file's ELF header (an x86_64 check);
# scripts/package-test.sh checks the arm64 binary's ELF instead (file(1): static, aarch64).
# Usage: scripts/arm64-itest.sh <arm64 binary> [gtest filter]
set -euo pipefail
arm=$(realpath "${1:-build/release-arm64/elk-extension}")
filter=${2:-*}
tree=build/itest-arm64
jobs=${JOBS:-2}
command -v qemu-aarch64-static >/dev/null || { echo "arm64-itest: qemu-aarch64-static missing (scripts/install-deps.sh package)" >&2; exit 1; }
cmake -S . -B "$tree" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DELK_TESTS=ON >/dev/null
cmake --build "$tree" -j "$jobs" --target integration_tests fakes_tests
# Replaced after every build (ninja relinks elk-extension only when its inputs change).
rm -f "$tree/elk-extension"
printf '#!/bin/sh\n# The arm64 elk-extension under qemu-user; argv[0] kept.\nexec qemu-aarch64-static -0 "$0" "%s" "$@"\n' "$arm" >"$tree/elk-extension"
chmod 755 "$tree/elk-extension"
echo "== integration tests, the extension = $arm under qemu-aarch64-static =="
qemu-aarch64-static "$arm" --version
env -u ELK_RELEASE_BIN "$tree/tests/integration_tests" --gtest_filter="$filter" --gtest_brief=0
