#!/usr/bin/env bash
# DDP and FSDP on 2 CPU processes against one process, same global batch (BabyGPT on Tiny
# Shakespeare, 12 x 64 tokens a step): the median step time (after 10 warm-up steps) and the
# total tokens/s of each run, RUNS runs each; the median of the runs goes in the table.
#   scripts/bench-ddp/run.sh [RUNS] [STEPS]       # docs/benchmarks.md: "DDP vs FSDP vs one process"
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}
STEPS=${2:-60}
VOLT=./build/bin/volt
OUT=build/bench-ddp
rm -rf "$OUT"
mkdir -p "$OUT"
common=(--config configs/babygpt-shakespeare-char.yaml --trainer.max_steps="$STEPS"
        --trainer.val_check_interval=100000 --trainer.limit_val_batches=0 --trainer.enable_checkpointing=false
        --trainer.log_every_n_steps=1 --trainer.enable_progress_bar=false --trainer.default_root_dir="$OUT")
median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
printf "| run | processes | per-process batch | median step (ms) | total tokens/s |\n| --- | ---: | ---: | ---: | ---: |\n"
for strategy in single ddp fsdp; do
  steps=()
  for r in $(seq 1 "$RUNS"); do
    name="$strategy-$r"
    if [ "$strategy" = single ]; then
      "$VOLT" fit "${common[@]}" --name="$name" --data.batch_size=12 >"$OUT/$name.log" 2>&1
    else
      "$VOLT" fit "${common[@]}" --name="$name" --data.batch_size=6 --trainer.strategy="$strategy" \
        --trainer.devices=2 >"$OUT/$name.log" 2>&1
    fi
    # timings.csv: step, epoch, data_wait, step_seconds, tokens_per_sec (one row per step).
    s=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "step_seconds") c = i; next}
                 $1 > 10 {print $c}' "$OUT/$name/timings.csv" | median)
    steps+=("$s")
  done
  med=$(printf "%s\n" "${steps[@]}" | median)
  procs=$([ "$strategy" = single ] && echo 1 || echo 2)
  batch=$([ "$strategy" = single ] && echo 12 || echo 6)
  runs_ms=$(for x in "${steps[@]}"; do awk -v x="$x" 'BEGIN {printf "%.1f ", x * 1000}'; done)
  awk -v s="$strategy" -v p="$procs" -v b="$batch" -v m="$med" -v all="${runs_ms% }" \
    'BEGIN {printf "| %s (runs: %s ms) | %d | %d | %.1f | %.0f |\n", s, all, p, b, m * 1000, 12 * 64 / m}'
done
