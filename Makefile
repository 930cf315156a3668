# The front door. Every target installs what it needs (Debian packages) by itself.
#   make demo   the extension under the bundled Lambda emulator, shipping to a local directory
#   make test   every test (unit + integration, sanitizers on), then the static release checks
#   make build  the static release binary: build/release/elk-extension
#   make package       the Lambda layer zips dist/elk-extension-{x86_64,arm64}.zip (arm64 cross-compiled)
#   make package-test  make package, then checks the zips (mode, architecture, --version, a run under
#                      the emulator, arm64 through qemu) and lints deploy/ (SAM and Serverless templates)
#   make test-arm64    the integration tests with the arm64 binary under qemu-user
.PHONY: demo test build deps bench clean package package-arm64 package-test test-arm64

JOBS ?= 2
FUZZ_RUNS ?= 200000
CMAKE_COMMON = -G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON

deps:
	@scripts/install-deps.sh build

build: deps
	@cmake -S . -B build/release $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release -DELK_STATIC=ON -DELK_TESTS=OFF >/dev/null
	@cmake --build build/release -j $(JOBS) --target elk-extension lambda-emulator
	@echo "built build/release/elk-extension"

demo: build
	@scripts/demo.sh build/release

test:
	@scripts/install-deps.sh test
	@scripts/check-format.sh
	@scripts/lint.sh $(JOBS)
	@scripts/test-tools.sh
	@cmake -S . -B build/debug $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug -DELK_SANITIZE=ON >/dev/null
	@cmake --build build/debug -j $(JOBS)
	@$(MAKE) --no-print-directory build
	@echo "== fuzzing the parsers (libFuzzer, fixed number of runs) =="
	@scripts/fuzz.sh $(FUZZ_RUNS)
	@cd build/debug && ELK_RELEASE_BIN=$(CURDIR)/build/release/elk-extension \
	  ctest --output-on-failure -j $(JOBS) --timeout 600

bench: build
	@scripts/install-deps.sh bench
	@cmake -S . -B build/bench $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release -DELK_TESTS=OFF -DELK_BENCH=ON >/dev/null
	@cmake --build build/bench -j $(JOBS) --target pipeline_bench spill_bench forwarder_bench
	@echo "== record path: parse + enrich + encode, one core =="
	@build/bench/bench/pipeline_bench --benchmark_min_time=1
	@echo "== the forwarder's record path: subscription payload -> decode -> documents, one core =="
	@build/bench/bench/forwarder_bench --benchmark_min_time=1
	@echo "== the spill: a 1 MB batch written to /tmp, and read back + deleted (a replay) =="
	@build/bench/bench/spill_bench --benchmark_min_time=1
	@echo "== the extension under the emulator: added billed time, freshness, delivery before the next INVOKE =="
	@scripts/bench.sh build/release

# arm64 (Graviton): cross-compiled with Debian's g++-aarch64-linux-gnu and the :arm64 -dev packages.
package-arm64:
	@scripts/install-deps.sh package
	@cmake -S . -B build/release-arm64 $(CMAKE_COMMON) --no-warn-unused-cli -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
	  -DCMAKE_BUILD_TYPE=Release -DELK_STATIC=ON -DELK_TESTS=OFF >/dev/null
	@cmake --build build/release-arm64 -j $(JOBS) --target elk-extension
	@echo "built build/release-arm64/elk-extension"

package: build package-arm64
	@scripts/package.sh build/release/elk-extension build/release-arm64/elk-extension

package-test: package
	@# Both run; Debian's python3 (with python3-yaml) for the template lint.
	@scripts/package-test.sh build/release/lambda-emulator; a=$$?; \
	  /usr/bin/python3 scripts/deploy-lint.py .; b=$$?; exit $$((a | b))

test-arm64: package-arm64
	@scripts/install-deps.sh test
	@scripts/test-tools.sh
	@scripts/arm64-itest.sh build/release-arm64/elk-extension

clean:
	rm -rf build dist
