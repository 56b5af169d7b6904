#!/usr/bin/env bash
# Checks that a reference root can do its job, and writes the versions it holds to
# ROOT/.volt-root-versions. Called by build-root.sh before it stamps the root; exits non-zero with
# the failing check named.
#
#   scripts/reference-roots/check-root.sh sid|trixie ROOT
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
suite="$1" root="$2"
run() { VOLT_IN_ROOT_UNSTAMPED=1 "$REPO/scripts/reference-roots/in-root.sh" "$root" "$@"; }
fail() { echo "[check-root] $*" >&2; exit 1; }
pkg_version() { run dpkg-query -W -f='${Version}' "$1"; }

case "$suite" in
  sid)
    run python3 - >"$root/.volt-root-versions.tmp" <<'PY' || fail "sid: python imports failed"
import warnings
warnings.simplefilter("error")  # an import that warns is a broken install
import gguf, jinja2, numpy, safetensors, tokenizers, torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401 (must import cleanly)
x = torch.randn(64, 64)
assert torch.allclose(x @ torch.eye(64), x)
for m in (transformers, torch, tokenizers, safetensors, jinja2, numpy):
    print(f"{m.__name__}={m.__version__}")
import os
print("libblas.so.3=" + os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"))
PY
    for tool in llama-cli llama-completion llama-quantize gguf-dump; do
      run sh -c "command -v $tool" >/dev/null || fail "sid: $tool is not on PATH"
    done
    echo "llama.cpp-tools=$(pkg_version llama.cpp-tools)" >>"$root/.volt-root-versions.tmp"
    echo "llama.cpp=$(run llama-cli --version 2>&1 | grep -m1 -o 'build [0-9]*')" >>"$root/.volt-root-versions.tmp"
    echo "python3-gguf=$(pkg_version python3-gguf)" >>"$root/.volt-root-versions.tmp"
    echo "python3=$(run python3 -c 'import sys; print(sys.version.split()[0])')" >>"$root/.volt-root-versions.tmp"
    ;;
  trixie)
    probe="$root/tmp/volt-torch-probe"
    rm -rf "$probe" && mkdir -p "$probe"
    cat >"$probe/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(volt_torch_probe CXX)
find_package(Torch REQUIRED)
message(STATUS "volt-probe Torch_VERSION=${Torch_VERSION}")
add_executable(probe probe.cpp)
target_link_libraries(probe "${TORCH_LIBRARIES}")
CMAKE
    cat >"$probe/probe.cpp" <<'CPP'
#include <torch/torch.h>
#include <iostream>
int main() {
  auto x = torch::ones({2, 2});
  std::cout << "libtorch=" << TORCH_VERSION << " sum=" << x.sum().item<float>() << "\n";
  return x.sum().item<float>() == 4.0f ? 0 : 1;
}
CPP
    run cmake -S /tmp/volt-torch-probe -B /tmp/volt-torch-probe/build >"$probe.log" 2>&1 ||
      { cat "$probe.log"; fail "trixie: find_package(Torch) failed"; }
    grep -q 'volt-probe Torch_VERSION=' "$probe.log" || fail "trixie: Torch_VERSION not reported"
    run cmake --build /tmp/volt-torch-probe/build -j2 >>"$probe.log" 2>&1 ||
      { tail -n 30 "$probe.log"; fail "trixie: building against LibTorch failed"; }
    {
      run /tmp/volt-torch-probe/build/probe | tr ' ' '\n' | grep libtorch= || fail "trixie: the LibTorch probe did not run"
      echo "libtorch-dev=$(pkg_version libtorch-dev)"
      echo "g++=$(run g++ -dumpfullversion)"
      echo "cmake=$(run cmake --version | head -n1 | awk '{print $3}')"
      echo "protobuf=$(pkg_version libprotobuf-dev)"
    } >"$root/.volt-root-versions.tmp"
    cat "$probe.log"
    rm -rf "$probe" "$probe.log"
    ;;
  *) fail "usage: check-root.sh sid|trixie ROOT" ;;
esac
mv "$root/.volt-root-versions.tmp" "$root/.volt-root-versions"
cat "$root/.volt-root-versions"
