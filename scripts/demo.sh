#!/usr/bin/env bash
# make demo: train BabyGPT on Tiny Shakespeare (nanoGPT's CPU run: 2000 steps, about a minute on
# 2 cores), then sample from the best checkpoint. Tiny Shakespeare is read from $VOLT_DATA_DIR or
# ../shared/data; on a machine with neither, it is downloaded from its public source.
set -euo pipefail
cd "$(dirname "$0")/.."

VOLT=./build/bin/volt
CONFIG=configs/babygpt-shakespeare-char.yaml
DATA_REL=corpora/tinyshakespeare/input.txt
DATA_DIR=${VOLT_DATA_DIR:-../shared/data}

if [ ! -f "$DATA_DIR/$DATA_REL" ]; then
  DATA_DIR=.data
  if [ ! -f "$DATA_DIR/$DATA_REL" ]; then
    echo "[demo] Tiny Shakespeare not found; downloading it from karpathy/char-rnn"
    mkdir -p "$DATA_DIR/$(dirname "$DATA_REL")"
    curl -fsSL -o "$DATA_DIR/$DATA_REL" \
      https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt
  fi
fi
export VOLT_DATA_DIR="$DATA_DIR"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$VOLT" fit --config "$CONFIG" "$@" | tee "$log"
run_dir=$(sed -n 's/^run directory: //p' "$log" | tail -n 1)
best=$(sed -n 's/^best checkpoint: //p' "$log" | tail -n 1)
ckpt=${best:-$run_dir/checkpoints/last}

echo
echo "=== A sample from $ckpt ==="
"$VOLT" generate --checkpoint "$ckpt" --prompt $'\n' --max-new-tokens 500 --temperature 0.8 --top-k 200 --seed 1337
echo
echo "Run directory: $run_dir (report.md, loss.svg, metrics.csv, checkpoints/)"
