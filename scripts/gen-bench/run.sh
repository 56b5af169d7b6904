#!/usr/bin/env bash
# Generation speed on the CPU, one session: random-weight BabyGPT (4 x 128, GPT-2's vocabulary)
# and GPT-2 124M, greedy, 256 new tokens after the prompt "Hello", with the KV cache and without
# (--no-kv-cache recomputes the whole context every step). Prints each run's tokens/s.
# Usage: scripts/gen-bench/run.sh [REPEATS] [REPEATS_WITHOUT_CACHE_FOR_GPT2]
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-3}
SLOW=${2:-1}
VOLT=${VOLT:-build/bin/volt}
DATA=${VOLT_DATA_DIR:-../shared/data}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for preset in babygpt-shakespeare gpt2; do
  "$VOLT" init --preset $preset --out "$TMP/$preset" --tokenizer "$DATA/tokenizers/gpt2" >/dev/null
  for cache in "" "--no-kv-cache"; do
    n=$REPEATS
    [ "$preset" = gpt2 ] && [ -n "$cache" ] && n=$SLOW
    for i in $(seq "$n"); do
      "$VOLT" generate --model "$TMP/$preset" --prompt Hello --max-new-tokens 256 --temperature 0 $cache 2>&1 >/dev/null |
        sed -n "s/.*(\(.*\) tokens\/s).*/$preset ${cache:-kv-cache} \1 tokens\/s/p"
    done
  done
done
