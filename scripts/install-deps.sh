#!/usr/bin/env bash
# Installs what building and testing need, from Debian's packages only. Idempotent: installs nothing
# when every package is already there. Usage: scripts/install-deps.sh [build|test|bench|package]
# `package` adds the arm64 (Graviton) cross toolchain: Debian's g++-aarch64-linux-gnu, the :arm64
# multiarch -dev packages the static link needs, and qemu-user-static to run the arm64 binary here.
set -euo pipefail
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
want=(g++ make cmake ninja-build ccache pkg-config file
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
      libssl-dev zlib1g-dev libzstd-dev libre2-dev)
case "${1:-build}" in
  test)  want+=(libgtest-dev libgmock-dev clang clang-format clang-tidy libclang-rt-14-dev awscli python3)
         # s3rver comes from npm: Debian's Node.js unless one is already on the machine.
         command -v npm >/dev/null 2>&1 || want+=(nodejs npm) ;;
  bench) want+=(libbenchmark-dev jq time python3) ;;
  package)
         want+=(g++-aarch64-linux-gnu qemu-user-static python3 python3-yaml unzip advancecomp
                libboost1.81-dev:arm64 libboost-json1.81-dev:arm64 libboost-url1.81-dev:arm64
                libssl-dev:arm64 zlib1g-dev:arm64 libzstd-dev:arm64 libre2-dev:arm64)
         if ! dpkg --print-foreign-architectures | grep -qx arm64; then
           echo "install-deps: adding the arm64 architecture (dpkg multiarch)" >&2
           $sudo dpkg --add-architecture arm64
         fi ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
