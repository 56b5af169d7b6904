#!/usr/bin/env bash
# The data pipeline's speed, one session: `volt data prepare` on the Python 3.11 standard library
# (build from scratch with 1 and 2 threads, and reopen), the nanoGPT-style reference in node, and
# the loader's tokens/s from `volt data stats`. Needs node and the npm references installed by
# scripts/tokenizer-goldens/make-goldens.sh (into .deps/tokenizer-goldens).
# Usage: scripts/data-bench/run.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-5}
VOLT=${VOLT:-build/bin/volt}
CFG=configs/babygpt-python-gpt2.yaml
NM=.deps/tokenizer-goldens/node_modules
export VOLT_CACHE_DIR=${VOLT_CACHE_DIR:-$(mktemp -d)/cache}
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for th in 1 2; do
  for i in $(seq "$REPEATS"); do
    "$VOLT" data prepare --config "$CFG" --force --data.tokenize_threads=$th 2>/dev/null | sed -n 's/.*: \([0-9.]*\) MB\/s.*/\1/p'
  done | median | xargs printf "volt data prepare, %s thread(s): median %s MB/s\n" "$th"
done
for i in $(seq "$REPEATS"); do
  "$VOLT" data prepare --config "$CFG" 2>/dev/null | sed -n 's/.*reopened in \([0-9.]*\) s.*/\1/p'
done | median | xargs printf "volt data prepare, cache current: reopened in %s s (median)\n"
"$VOLT" data stats --config "$CFG" 2>/dev/null | grep -E "^documents|^loader"
if [ -d "$NM" ]; then
  node scripts/data-bench/prepare_reference.mjs "$NM" /usr/lib/python3.11 "$(mktemp)" "$REPEATS"
else
  echo "(node references missing: run scripts/tokenizer-goldens/make-goldens.sh)"
fi
