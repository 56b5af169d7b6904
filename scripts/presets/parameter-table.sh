#!/usr/bin/env bash
# Prints docs/03's table of presets: volt's parameter count for each real model's preset (counted
# on the module built on the meta device, `volt memory --json`) beside the count its model card
# publishes.
#
#   scripts/presets/parameter-table.sh [path/to/volt]
#
# The published figures are the model cards' (Hugging Face's model pages count the safetensors;
# the cards round). Gemma 3 4B/12B/27B cards count the vision tower too; volt's presets are the
# text model (gemma3_text).
set -euo pipefail
volt="${1:-$(dirname "$0")/../../build/bin/volt}"
[ -x "$volt" ] || { echo "parameter-table: no volt binary at $volt (build first)" >&2; exit 2; }

# preset | published total | published active (MoE) | source
published=(
  "gpt2|124M||openai-community/gpt2"
  "gpt2-medium|355M||openai-community/gpt2-medium"
  "gpt2-large|774M||openai-community/gpt2-large"
  "gpt2-xl|1.5B||openai-community/gpt2-xl"
  "tinyllama-1.1b|1.1B||TinyLlama/TinyLlama-1.1B"
  "llama-2-7b|6.74B||meta-llama/Llama-2-7b-hf"
  "llama-2-70b|69.0B||meta-llama/Llama-2-70b-hf"
  "llama-3-8b|8.03B||meta-llama/Meta-Llama-3-8B"
  "llama-3.1-8b|8.03B||meta-llama/Llama-3.1-8B"
  "llama-3.1-70b|70.6B||meta-llama/Llama-3.1-70B"
  "llama-3.2-1b|1.23B||meta-llama/Llama-3.2-1B"
  "llama-3.2-3b|3.21B||meta-llama/Llama-3.2-3B"
  "mistral-7b-v0.1|7.24B||mistralai/Mistral-7B-v0.1"
  "mixtral-8x7b|46.7B|12.9B|mistralai/Mixtral-8x7B-v0.1"
  "qwen2.5-0.5b|0.49B||Qwen/Qwen2.5-0.5B"
  "qwen2.5-1.5b|1.54B||Qwen/Qwen2.5-1.5B"
  "qwen2.5-3b|3.09B||Qwen/Qwen2.5-3B"
  "qwen2.5-7b|7.61B||Qwen/Qwen2.5-7B"
  "qwen3-0.6b|0.6B||Qwen/Qwen3-0.6B"
  "qwen3-1.7b|1.7B||Qwen/Qwen3-1.7B"
  "qwen3-4b|4.0B||Qwen/Qwen3-4B"
  "qwen3-8b|8.2B||Qwen/Qwen3-8B"
  "qwen3-14b|14.8B||Qwen/Qwen3-14B"
  "qwen3-32b|32.8B||Qwen/Qwen3-32B"
  "qwen3-30b-a3b|30.5B|3.3B|Qwen/Qwen3-30B-A3B"
  "gemma-2-2b|2.61B||google/gemma-2-2b"
  "gemma-2-9b|9.24B||google/gemma-2-9b"
  "gemma-3-1b|1B||google/gemma-3-1b-pt"
  "gemma-3-4b|4B (with vision)||google/gemma-3-4b-pt"
  "gemma-3-12b|12B (with vision)||google/gemma-3-12b-pt"
  "gemma-3-27b|27B (with vision)||google/gemma-3-27b-pt"
  "phi-3-mini|3.8B||microsoft/Phi-3-mini-4k-instruct"
  "phi-3.5-mini|3.8B||microsoft/Phi-3.5-mini-instruct"
)

commas() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
billions() { awk -v n="$1" 'BEGIN { if (n >= 0.995e9) printf "%.2fB", n / 1e9; else printf "%.0fM", n / 1e6 }'; }

echo "| preset | volt: total | volt: active per token | model card | card: active | model |"
echo "| --- | ---: | ---: | ---: | ---: | --- |"
for row in "${published[@]}"; do
  IFS='|' read -r preset card card_active source <<<"$row"
  json="$("$volt" memory --model "$preset" --json)"
  total="$(sed -n 's/.*"total_params": \([0-9]*\).*/\1/p' <<<"$json")"
  active="$(sed -n 's/.*"active_params": \([0-9]*\).*/\1/p' <<<"$json")"
  [ -n "$total" ] || { echo "parameter-table: volt memory --model $preset printed no total_params" >&2; exit 1; }
  shown_active=""
  [ "$active" = "$total" ] || shown_active="$(billions "$active")"
  printf '| %s | %s (%s) | %s | %s | %s | %s |\n' "$preset" "$(billions "$total")" \
    "$(commas "$total")" "$shown_active" "$card" "$card_active" "$source"
done
