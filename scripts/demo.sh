#!/usr/bin/env bash
# make demo: train BabyGPT on Tiny Shakespeare (nanoGPT's CPU run: 2000 steps, about a minute on
# 2 cores), then sample from the best checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."

VOLT=./build/bin/volt
CONFIG=configs/babygpt-shakespeare-char.yaml
# Tiny Shakespeare: verified where the tests look ($VOLT_DATA_DIR, else ../shared/data), or fetched
# there from its public source.
export VOLT_DATA_DIR=${VOLT_DATA_DIR:-$(cd .. && pwd)/shared/data}
scripts/fetch-data.sh corpora/tinyshakespeare/input.txt

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
