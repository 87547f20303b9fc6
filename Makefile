# Common commands; the build itself is meson + ninja.
#
#   make demo    install what is needed, build, and run plumb on the bundled example
#   make test    install what is needed, build with ASan + UBSan, run every test
#                (the first run also builds a Kubernetes control plane for the
#                tests from the Go module proxy: 9 to 12 minutes, once)
#   make kube    just that control plane (tests/kube/build)
#   make build   the plain build in build/
#   make fuzz    run each libFuzzer target for FUZZ_SECONDS (default 30)
#   make bench   the benchmarks in bench/
#   make format  clang-format every C file

BUILD       ?= build
TEST_BUILD  ?= build-test
FUZZ_BUILD  ?= build-fuzz
FUZZ_SECONDS ?= 30

.PHONY: all deps kube build demo test unit e2e fuzz bench format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dtests=false

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD) plumb

demo: build
	@scripts/demo $(BUILD)/plumb

$(TEST_BUILD)/build.ninja:
	meson setup $(TEST_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

kube:
	@tests/kube/build >/dev/null

test: deps kube $(TEST_BUILD)/build.ninja
	ninja -C $(TEST_BUILD)
	tests/run $(TEST_BUILD)

fuzz:
	@scripts/install-deps --fuzz
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false
	ninja -C $(FUZZ_BUILD)
	fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: build
	bench/render $(BUILD)/plumb
	bench/host-sync $(BUILD)/plumb
	bench/kustomize $(BUILD)/plumb
	bench/latency $(BUILD)/plumb
	bench/scale $(BUILD)/plumb
	bench/kube-apply $(BUILD)/plumb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(TEST_BUILD) $(FUZZ_BUILD)
