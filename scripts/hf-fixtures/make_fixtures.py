#!/usr/bin/env python3
"""Parity fixtures for volt's CausalLM: tiny random Hugging Face models of each family, written by
`transformers` itself, with the logits, loss and greedy continuation transformers computes.

Run on a machine that has torch + transformers (the device tool's GPU machines do; their CPU is
enough). Writes tests/fixtures/hf-tiny-<family>/ with config.json, model.safetensors and
expected.safetensors (input_ids, logits, loss, greedy_ids), plus generator.json saying how.

  python3 scripts/hf-fixtures/make_fixtures.py [OUT_DIR]     # default tests/fixtures

Families: gpt2; llama (grouped-query attention, llama3 rope scaling with a short original
context so the scaled bands are exercised); mistral (grouped-query attention, a sliding window
shorter than the sequence). Every model is in float32, eager attention, eval mode.
"""
import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                          MistralConfig, MistralForCausalLM)

SEED = 1234
VOCAB = 97
SEQ = 24          # longer than mistral's window, and than llama's original context below
NEW_TOKENS = 8    # greedy continuation


def families():
    yield "gpt2", GPT2LMHeadModel(GPT2Config(
        vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4,
        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    yield "llama", LlamaForCausalLM(LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 16},
        attn_implementation="eager"))
    yield "mistral", MistralForCausalLM(MistralConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=6, tie_word_embeddings=False,
        attn_implementation="eager"))


def main():
    out_root = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    for name, model in families():
        torch.manual_seed(SEED)
        model.apply(model._init_weights)  # the family's own initialisation, seeded
        # Random norms too, so a missing weight multiply cannot hide behind ones.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if p.dim() == 1:
                    p.uniform_(0.5, 1.5) if n.endswith("weight") else p.uniform_(-0.1, 0.1)
        model.eval()
        gen = torch.Generator().manual_seed(SEED + 1)
        ids = torch.randint(0, VOCAB, (2, SEQ), generator=gen)
        with torch.no_grad():
            out = model(input_ids=ids, labels=ids)
            greedy = model.generate(ids[:1], max_new_tokens=NEW_TOKENS, do_sample=False,
                                    pad_token_id=0)[:, SEQ:]
        d = os.path.join(out_root, f"hf-tiny-{name}")
        model.save_pretrained(d, safe_serialization=True)
        save_file({"input_ids": ids.contiguous(), "logits": out.logits.contiguous(),
                   "loss": out.loss.reshape(1).contiguous(), "greedy_ids": greedy.contiguous()},
                  os.path.join(d, "expected.safetensors"))
        with open(os.path.join(d, "generator.json"), "w") as f:
            json.dump({"script": "scripts/hf-fixtures/make_fixtures.py", "family": name,
                       "transformers": transformers.__version__, "torch": torch.__version__,
                       "seed": SEED, "seq": SEQ, "new_tokens": NEW_TOKENS,
                       "loss": "transformers' shifted mean cross-entropy of labels = input_ids"},
                      f, indent=2)
        print(f"{d}: loss {out.loss.item():.6f}, greedy {greedy.tolist()}")


if __name__ == "__main__":
    main()
