#!/usr/bin/env bash
# `make test-torch2`: volt built and tested against LibTorch 2.6 (Debian 13's libtorch-dev), so that
# every LibTorch 2.x branch of include/volt/core/compat.h is compiled and run, on the CPU.
#
#   scripts/torch2/test.sh
#
# 1. root:      the Debian 13 root (scripts/reference-roots/build-root.sh trixie; cached by its
#               stamp in ${VOLT_ROOTS_DIR:-<repo>/.deps/roots}/trixie, ~10 min when it is built)
# 2. configure: CMake in the root, build dir $VOLT_TORCH2_BUILD_DIR (default build-torch2/, ignored)
# 3. build:     the library, the CLI (the tests run `volt`) and the test binaries, at -O1; no examples
# 4. ctest:     the whole suite of that build, in the root; a skipped test is a failure here (the
#               tests of compat.h's 2.x paths skip only under a LibTorch that lacks them)
# Prints each phase's time. The host's /usr/lib/python3.11 (libpython3.11-stdlib, installed by
# scripts/install-deps.sh) is mounted in the root: tokenizer parity and corpus tests read it.
# JOBS (default 2) sets the build's and ctest's parallelism; VOLT_TORCH2_CMAKE_FLAGS adds flags.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$REPO"
export VOLT_ROOTS_DIR="${VOLT_ROOTS_DIR:-$REPO/.deps/roots}"
BUILD_DIR="${VOLT_TORCH2_BUILD_DIR:-build-torch2}"
JOBS="${JOBS:-2}"
PYTHON_STDLIB=/usr/lib/python3.11
fail() { echo "[test-torch2] $*" >&2; exit 1; }
[ -d "$PYTHON_STDLIB" ] || fail "$PYTHON_STDLIB is missing (tokenizer parity and corpus tests read it): run scripts/install-deps.sh"

in_root() { VOLT_IN_ROOT_BIND="$PYTHON_STDLIB" "$REPO/scripts/reference-roots/in-root.sh" trixie "$@"; }
# CPU seconds (user + system) of the processes this shell has waited for, into $cpu_now. `times`
# must run in this shell (in a $(...) subshell it counts the subshell's own children): it writes to
# a file.
cpu_file="$(mktemp)"
trap 'rm -f "$cpu_file"' EXIT
cpu_now=0
children_cpu() {
  times >"$cpu_file"
  cpu_now=$(tail -n1 "$cpu_file" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); s += a[1] * 60 + a[2] } printf "%.0f", s }')
}
times=()
phase() {  # phase NAME COMMAND...: runs it, records its wall time and CPU time
  local name=$1 start cpu rc=0
  shift
  echo "[test-torch2] $name: $*"
  children_cpu
  start=$(date +%s) cpu=$cpu_now
  "$@" || rc=$?
  children_cpu
  times+=("$name $(($(date +%s) - start)) s (CPU $((cpu_now - cpu)) s)")
  [ "$rc" -eq 0 ] || { report; fail "$name failed (exit $rc)"; }
}
report() { echo "[test-torch2] times: $(IFS=,; echo "${times[*]}" | sed 's/,/, /g')"; }

total_start=$(date +%s)
phase root "$REPO/scripts/reference-roots/build-root.sh" trixie
echo "[test-torch2] $(tr '\n' ' ' <"$VOLT_ROOTS_DIR/trixie/.volt-root-versions")"
# -O1, not Release's -O3: the build is most of this target's time, and the tests' time is spent in
# LibTorch, whose own code is optimised either way (volt's tokenizers and AdamW kernel keep their -O3).
phase configure in_root cmake -S "$REPO" -B "$REPO/$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -DNDEBUG" -DVOLT_BUILD_EXAMPLES=OFF ${VOLT_TORCH2_CMAKE_FLAGS:-}
phase build in_root cmake --build "$REPO/$BUILD_DIR" -j"$JOBS" \
  --target volt_tests volt_text_tests volt_logging_tests volt_cli
log="$REPO/$BUILD_DIR/ctest.log"
run_ctest() { in_root ctest --test-dir "$REPO/$BUILD_DIR" --output-on-failure -j"$JOBS" 2>&1 | tee "$log"; }
phase ctest run_ctest
if grep -q '(Skipped)' "$log"; then
  report
  fail "tests skipped under LibTorch 2.6 (each must run here): $(grep '(Skipped)' "$log" | tr -s ' ' | tr '\n' ';')"
fi
report
echo "[test-torch2] $(grep -E 'tests passed' "$log") in $(($(date +%s) - total_start)) s"
