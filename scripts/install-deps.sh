#!/usr/bin/env bash
# Installs every Debian package that volt's build, tests and demo need. Idempotent: packages that
# are already installed are skipped, so `make` can call this on every run at almost no cost.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev          # LibTorch 1.13 (CPU): tensors, autograd, nn, optim
  libgloo-dev           # c10d's ProcessGroupGloo headers (distributed on CPU)
  libopenblas0-pthread  # without it fp32 matmul falls back to a ~20x slower reference BLAS
  libyaml-cpp-dev       # YAML configs (LightningCLI style)
  nlohmann-json3-dev    # config.json, tokenizer.json, trainer_state.json, safetensors headers
  libcli11-dev          # the command-line parser
  libgtest-dev          # unit tests (GoogleTest through ctest)
  libicu-dev            # Unicode: categories, NFC/NFKC normalization, case mapping, regex (tokenizers)
  libprotobuf-dev       # TensorBoard event files: protobuf's C++ runtime (proto/, io/tensorboard_writer)
  protobuf-compiler     # protoc: compiles proto/ at build time and for the tests' Python reader
  python3-protobuf      # the tests' independent reader of TensorBoard files (scripts/tensorboard/)
  python3-crc32c        # its CRC-32C, also the reference for volt's own (io/crc32c)
  libpython3.11-stdlib  # the Python standard library: a code corpus for tokenizer parity and data
  clang                 # the fuzzers (fuzz/): libFuzzer with AddressSanitizer + UBSan
  libclang-rt-14-dev    # clang's sanitizer and libFuzzer runtimes
  curl ca-certificates  # scripts/fetch-data.sh (and its offline test, through file:// URLs)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "[install-deps] installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
