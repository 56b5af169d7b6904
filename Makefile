# volt's front door. On a fresh Debian 12 machine: `make demo` and `make test`.
MAKEFLAGS += --no-print-directory
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo clean bench

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# Train BabyGPT on Tiny Shakespeare (nanoGPT's CPU run), then print a sample from the best checkpoint.
demo: build
	@./scripts/demo.sh

# Time the whole BabyGPT run 3 times (NANOGPT_DIR=... adds nanoGPT's reference): docs/benchmarks.md.
bench: build
	@./scripts/bench-shakespeare.sh 3

clean:
	rm -rf $(BUILD_DIR)
