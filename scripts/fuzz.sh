#!/usr/bin/env bash
# Runs every libFuzzer target in build-fuzz/ for SECONDS each (default 15), starting from the seeds
# in fuzz/corpus/<target>/. New inputs go to a scratch corpus, so the repository's seeds stay as
# committed. A crash (or an escaping exception, or a sanitizer report) stops the run with exit
# code 1 and leaves the input in build-fuzz/findings/; copy it to fuzz/regressions/<target>/ and
# fix the parser: tests/fuzz_regressions_test.cpp replays every file there.
#   make fuzz                       # builds build-fuzz/ with clang, then this script
#   scripts/fuzz.sh 300 tokenizer_json   # one target, longer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(safetensors_header tokenizer_json yaml_config hf_config chat_template); fi
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  bin="build-fuzz/bin/fuzz_$t"
  [ -x "$bin" ] || { echo "[fuzz] $bin is missing: run make fuzz"; exit 2; }
  scratch="build-fuzz/corpus-$t"
  mkdir -p "$scratch"
  log="build-fuzz/fuzz-$t.log"
  if "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="build-fuzz/findings/$t-" "$scratch" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "[fuzz] $t: ${runs:-?} inputs in ${seconds} s, ${cov:-cov ?}, no failure"
  else
    echo "[fuzz] $t FAILED: see $log and build-fuzz/findings/$t-*"
    grep -E 'ERROR|==[0-9]+==|terminate|what\(\)' "$log" | head -5 || true
    status=1
  fi
done
exit $status
