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
if /usr/bin/python3 -c "import sentencepiece" 2>/dev/null; then
  # Debian's sentencepiece (C++ core, Python binding) on the same file as one text.
  /usr/bin/python3 - "$DATA/tokenizers/llama2/tokenizer.model" "$FILE" "$REPEATS" <<'PY'
import statistics, sys, time
import sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file=sys.argv[1])
text = open(sys.argv[2], encoding="utf-8").read()
mb = len(text.encode("utf-8")) / 1e6
n = len(sp.encode(text))  # warm-up
times = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter(); n = len(sp.encode(text)); times.append(time.perf_counter() - t0)
m = statistics.median(times)
print(f"## sentencepiece {spm.__version__} (llama2)\nspeed      {mb / m:.1f} MB/s, {n / m:.0f} tokens/s ({m * 1e3:.1f} ms, {n} tokens)")
PY
fi
if [ -d "$NM" ]; then
  echo "## references (node $(node --version))"
  node scripts/tokenizer-bench/bench_references.mjs "$NM" "$DATA" "$FILE" "$REPEATS"
else
  echo "## references: $NM missing; run scripts/tokenizer-goldens/make-goldens.sh first"
fi
