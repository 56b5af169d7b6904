#!/usr/bin/env bash
# Tokenizer speed, one session: volt (1 and 2 threads) and the reference tokenizers, on all of
# Tiny Shakespeare as one text. Needs node/npm for the references (installed by
# scripts/tokenizer-goldens/make-goldens.sh into .deps/tokenizer-goldens).
# Usage: scripts/tokenizer-bench/run.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-7}
DATA=${VOLT_DATA_DIR:-../shared/data}
FILE=$DATA/corpora/tinyshakespeare/input.txt
VOLT=${VOLT:-build/bin/volt}
NM=.deps/tokenizer-goldens/node_modules
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# text: $FILE ($(stat -c %s "$FILE") bytes), median of $REPEATS runs after a warm-up"
for tok in gpt2 llama3 mistral llama2/tokenizer.model; do
  for th in 1 2; do
    echo "## volt $tok threads=$th"
    "$VOLT" tokenizer bench --tokenizer "$DATA/tokenizers/$tok" --file "$FILE" --threads $th --repeats "$REPEATS" | grep -E "speed|cold"
  done
done
if [ -d "$NM" ]; then
  echo "## references (node $(node --version))"
  node scripts/tokenizer-bench/bench_references.mjs "$NM" "$DATA" "$FILE" "$REPEATS"
else
  echo "## references: $NM missing; run scripts/tokenizer-goldens/make-goldens.sh first"
fi
