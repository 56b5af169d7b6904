# volt's front door. On a fresh Debian 12 machine: `make demo` and `make test`.
MAKEFLAGS += --no-print-directory
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo clean bench fuzz sanitize interop test-torch2

all: build

deps:
	@./scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)
	@$(MAKE) fuzz FUZZ_SECONDS=15

# libFuzzer on the parsers of untrusted input (safetensors header, tokenizer.json, YAML recipes,
# config.json), built with clang + ASan + UBSan in build-fuzz/; FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S fuzz -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@./scripts/fuzz.sh $(FUZZ_SECONDS)

# The unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (g++, build-sanitize/; a full
# rebuild, so not part of `make test`; warnings are not errors there: the sanitizers make g++ see
# uninitialised values in LibTorch's headers that are not). The out-of-memory test runs volt under
# `ulimit -v`, where ASan cannot reserve its 15 TB of shadow address space: it is left out here.
sanitize: deps
	@cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVOLT_BUILD_EXAMPLES=OFF -DVOLT_WERROR=OFF \
	  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
	@cmake --build build-sanitize -j$(JOBS) --target volt_tests volt_text_tests volt_logging_tests volt_cli
	@cd build-sanitize && ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS) -LE example -E 'FaultInjection.OutOfMemory'

# What volt writes (every family: init, fit, merged LoRA, bf16/fp16), loaded, scored, tokenized and
# greedily decoded by transformers 5.12 and tokenizers in the Debian sid reference root (built once,
# ~10 min, cached in $(VOLT_ROOTS_DIR)); then volt export's GGUF files read by gguf-dump and run by
# llama.cpp (scripts/hf-reference/gguf_interop.py). The tables go to docs/interop.md. Fails if any
# check does.
VOLT_ROOTS_DIR ?= $(CURDIR)/.deps/roots
export VOLT_ROOTS_DIR
interop: build
	@./scripts/hf-reference/interop.py; hf=$$?; ./scripts/hf-reference/gguf_interop.py; gguf=$$?; \
	  test $$hf -eq 0 -a $$gguf -eq 0

# The same tests against LibTorch 2.6 (Debian 13's libtorch-dev) in the trixie reference root (built
# once, ~10 min, cached in $(VOLT_ROOTS_DIR)), build dir build-torch2/: every LibTorch 2.x branch of
# core/compat.h compiled and run. Prints each phase's time (scripts/torch2/test.sh).
test-torch2: deps
	@./scripts/torch2/test.sh

# Train BabyGPT on Tiny Shakespeare (nanoGPT's CPU run), then print a sample from the best checkpoint.
demo: build
	@./scripts/demo.sh

# Time the whole BabyGPT run 3 times (NANOGPT_DIR=... adds nanoGPT's reference): docs/benchmarks.md.
bench: build
	@./scripts/bench-shakespeare.sh 3

clean:
	rm -rf $(BUILD_DIR)
