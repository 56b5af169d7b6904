#!/usr/bin/env bash
# A small Llama-3-shaped chat model to run configs/sft-*.yaml on a CPU in minutes:
#   1. a 2,048-token byte-level BPE trained on GSM8K's text with Llama 3's special tokens, and
#      Llama 3.1's real chat template and end of turn (<|eot_id|>) in its tokenizer_config.json
#      (the real 128,256-token vocabulary makes every CPU step ~100x dearer);
#   2. `volt init` of the llama-tiny preset (2 layers, width 64, grouped-query attention) with it,
#      its context raised to 512 (RoPE has no position weights: it is a config.json value);
#   3. a full fine-tune on 2,000 GSM8K conversations, every token (train_on_inputs), standing in
#      for pretraining: LoRA on a random model cannot learn, its frozen final norm and head keep
#      the logits within about +-1 (docs/07-instruction-tuning.md §5).
#   scripts/sft/tiny-chat-model.sh [OUT_DIR] [VOLT]   (default runs/tiny-chat-base, build/bin/volt)
set -euo pipefail
out=${1:-runs/tiny-chat-base}
volt=${2:-build/bin/volt}
data=${VOLT_DATA_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$data" "$work" <<'PY'
import json, sys
data, work = sys.argv[1:3]
with open(f"{work}/gsm8k.txt", "w") as out:
    for line in open(f"{data}/corpora/gsm8k/train.jsonl"):
        r = json.loads(line)
        out.write(r["question"] + "\n" + r["answer"] + "\n")
llama = json.load(open(f"{data}/tokenizers/llama3_1/tokenizer_config.json"))
import os
os.makedirs(f"{work}/tokenizer")
json.dump({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
           "chat_template": llama["chat_template"], "tokenizer_class": "PreTrainedTokenizerFast"},
          open(f"{work}/tokenizer/tokenizer_config.json", "w"), indent=2)
PY
"$volt" tokenizer train --quiet --input "$work/gsm8k.txt" --vocab-size 2048 \
  --out "$work/tokenizer/tokenizer.json" \
  --special-tokens '<|begin_of_text|>,<|end_of_text|>,<|start_header_id|>,<|end_header_id|>,<|eot_id|>' >/dev/null
"$volt" init --preset llama-tiny --tokenizer "$work/tokenizer" --out "$work/init" >/dev/null
python3 - "$work/init/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["max_position_embeddings"] = 512
json.dump(config, open(sys.argv[1], "w"), indent=2)
PY
cat > "$work/base.yaml" <<YAML
name: tiny-chat-base
trainer: {max_steps: 300, log_every_n_steps: 50, enable_progress_bar: false, default_root_dir: $work/runs}
model: {from_pretrained: $work/init}
data: {module: sft, path: $data/corpora/gsm8k/train.jsonl, limit: 2000, train_on_inputs: true,
       block_size: 384, batch_size: 8, val_fraction: 0.0}
optimizer: {lr: 1.0e-2, weight_decay: 0.0}
scheduler: {name: cosine, warmup_steps: 10, decay_steps: 300, min_lr: 1.0e-3}
YAML
"$volt" fit --config "$work/base.yaml" >/dev/null
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$work/runs/tiny-chat-base/checkpoints/last" "$out"
rm -f "$out/trainer_state.json" "$out/trainer_state.safetensors"
echo "$out: llama-tiny, a 2,048-token BPE with Llama 3.1's chat template, context 512, fully fine-tuned on 2,000 GSM8K conversations"
