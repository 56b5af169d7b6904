#!/usr/bin/env bash
# Times the whole BabyGPT Tiny Shakespeare run (training + its validations) REPEATS times and
# prints each run's wall time and final val loss, then the medians. With NANOGPT_DIR set to a
# nanoGPT checkout (train.py, model.py, data/shakespeare_char prepared), runs its CPU reference
# with the same configuration in between, under Debian's python3-torch 1.13 (/usr/bin/python3).
#   scripts/bench-shakespeare.sh [REPEATS]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${1:-3}
VOLT=./build/bin/volt
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for i in $(seq 1 "$REPEATS"); do
  start=$(date +%s.%N)
  "$VOLT" fit --config configs/babygpt-shakespeare-char.yaml --trainer.default_root_dir="$out/volt$i" \
    --trainer.enable_progress_bar=false > "$out/volt$i.log"
  end=$(date +%s.%N)
  wall=$(awk "BEGIN {printf \"%.1f\", $end - $start}")
  val=$(sed -n 's/^done: .*val_loss \([0-9.]*\).*/\1/p' "$out/volt$i.log")
  echo "volt    run $i: wall ${wall} s, val_loss ${val}"
  echo "$wall" >> "$out/volt.wall"; echo "$val" >> "$out/volt.val"
  if [ -n "${NANOGPT_DIR:-}" ]; then
    start=$(date +%s.%N)
    (cd "$NANOGPT_DIR" && /usr/bin/python3 train.py config/train_shakespeare_char.py --device=cpu \
      --compile=False --eval_iters=20 --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 \
      --n_head=4 --n_embd=128 --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0 \
      --out_dir="$out/nanogpt$i") > "$out/nanogpt$i.log" 2>&1
    end=$(date +%s.%N)
    wall=$(awk "BEGIN {printf \"%.1f\", $end - $start}")
    val=$(sed -n 's/^step 2000: .*val loss \([0-9.]*\).*/\1/p' "$out/nanogpt$i.log")
    echo "nanoGPT run $i: wall ${wall} s, val_loss ${val}"
    echo "$wall" >> "$out/nanogpt.wall"; echo "$val" >> "$out/nanogpt.val"
  fi
done
echo "volt    median: wall $(median < "$out/volt.wall") s, val_loss $(median < "$out/volt.val")"
if [ -f "$out/nanogpt.wall" ]; then
  echo "nanoGPT median: wall $(median < "$out/nanogpt.wall") s, val_loss $(median < "$out/nanogpt.val")"
fi
