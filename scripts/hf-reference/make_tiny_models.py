#!/usr/bin/env python3
"""Writes tiny random Hugging Face models of every decoder family volt implements, with reference
outputs, into tests/goldens/models/<name>/ (run inside the sid reference root through
scripts/hf-reference/make-tiny-models.sh).

Each model is built by transformers from a config that switches on its family's features, given
random weights at scales where those features change the result (norm weights away from 1, attention
scores large enough for soft-capping, routers that prefer experts), saved with save_pretrained
(safetensors), loaded back (which must not warn) and only then measured, so the references come
from the files. Each feature's effect is shown by an ablation: the same weights under a config with
the feature switched off must score differently.

  make_tiny_models.py [--out DIR] [--only NAME,...]
"""
import argparse
import copy
import json
import math
import os
import shutil
import sys
import tempfile

import safetensors
import torch
import transformers

from hf_common import captured_messages, greedy_generate, greedy_recompute, load_model, problems, token_nll

SEED = 1234
VOCAB = 300
SEQ_LEN = 40
PROMPT_LEN = 6
NEW_TOKENS = 16
PROMPT_CANDIDATES = 64
MIN_DISTINCT_NEW = 6  # of NEW_TOKENS
MIN_MARGIN = 0.05
WINDOW = 12  # sliding windows, shorter than SEQ_LEN and than PROMPT_LEN + NEW_TOKENS

COMMON = dict(vocab_size=VOCAB, max_position_embeddings=128, bos_token_id=1, eos_token_id=2,
              pad_token_id=0, attention_dropout=0.0)


def family_specs():
    """name -> spec: model_type, config kwargs, the features it exercises, ablations (a config change
    that switches a feature off), init gains and save options."""
    return {
        "gpt2": dict(
            model_type="gpt2",
            config=dict(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=80,
                        activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        layer_norm_epsilon=1e-5, bos_token_id=1, eos_token_id=2),
            features=["learned absolute positions (wpe)", "LayerNorm with bias, pre-norm",
                      "Conv1D weights stored [in, out]", "fused c_attn (q|k|v) with bias",
                      "n_inner=80 (not 4*n_embd)", "gelu_new", "tied lm_head"],
            ablations={"activation gelu (erf) instead of gelu_new": dict(activation_function="gelu")},
        ),
        "llama": dict(
            model_type="llama",
            config=dict(COMMON, max_position_embeddings=4096, hidden_size=32, intermediate_size=72, num_hidden_layers=3,
                        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                        tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
                        rope_parameters={"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 8.0,
                                         "original_max_position_embeddings": 1024}),
            features=["GQA 4 heads / 2 kv heads", "rope llama3 (all three frequency bands hit)",
                      "untied lm_head", "saved sharded (model.safetensors.index.json)"],
            ablations={"rope default instead of llama3": dict(
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0})},
            max_shard_size="80KB",
        ),
        "llama32": dict(
            model_type="llama",
            config=dict(COMMON, max_position_embeddings=32768, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=2, num_key_value_heads=1, rms_norm_eps=1e-5,
                        tie_word_embeddings=True,
                        rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                                         "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                         "original_max_position_embeddings": 8192}),
            features=["Llama 3.2 style: tied embeddings", "MQA (1 kv head), head_dim 16",
                      "rope llama3 factor 32, theta 5e5 (all three frequency bands hit)"],
            ablations={"rope default instead of llama3": dict(
                rope_parameters={"rope_type": "default", "rope_theta": 500000.0})},
        ),
        "mistral": dict(
            model_type="mistral",
            config=dict(COMMON, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                        sliding_window=WINDOW, tie_word_embeddings=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
            features=[f"sliding_window={WINDOW} on every layer (< {SEQ_LEN})", "GQA"],
            ablations={"no sliding window": dict(sliding_window=None)},
        ),
        "qwen2": dict(
            model_type="qwen2",
            config=dict(COMMON, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
                        tie_word_embeddings=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
            features=["q/k/v bias (always on in Qwen2), o_proj without bias", "untied", "rope_theta 1e6"],
            ablations={},
        ),
        "qwen3": dict(
            model_type="qwen3",
            config=dict(COMMON, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6,
                        tie_word_embeddings=True, attention_bias=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
            features=["per-head q_norm/k_norm (RMSNorm over head_dim, before RoPE)",
                      "head_dim 16 != hidden/heads 8", "tied"],
            ablations={},
        ),
        "qwen3_moe": dict(
            model_type="qwen3_moe",
            config=dict(COMMON, hidden_size=32, intermediate_size=64, moe_intermediate_size=24,
                        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                        rms_norm_eps=1e-6, tie_word_embeddings=False, num_experts=8,
                        num_experts_per_tok=3, norm_topk_prob=True, decoder_sparse_step=2,
                        mlp_only_layers=[], router_aux_loss_coef=0.01, output_router_logits=False,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
            features=["8 experts, top-3, norm_topk_prob", "decoder_sparse_step 2: layer 1 is MoE, "
                      "layers 0 and 2 dense (intermediate_size)", "q_norm/k_norm", "head_dim 16",
                      "router aux loss (router_aux_loss_coef 0.01)"],
            ablations={"norm_topk_prob false": dict(norm_topk_prob=False),
                       "top-2 instead of top-3": dict(num_experts_per_tok=2)},
            gains=dict(router=1.0),
            moe=True,
        ),
        "mixtral": dict(
            model_type="mixtral",
            config=dict(COMMON, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                        sliding_window=None, tie_word_embeddings=False, num_local_experts=8,
                        num_experts_per_tok=2, router_aux_loss_coef=0.02, router_jitter_noise=0.0,
                        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
            features=["8 experts, top-2 (always renormalised)", "every layer MoE",
                      "block_sparse_moe.experts.E.w1/w2/w3 names on disk", "router aux loss"],
            ablations={"top-1 instead of top-2": dict(num_experts_per_tok=1)},
            moe=True,
        ),
        "gemma2": dict(
            model_type="gemma2",
            config=dict(COMMON, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6,
                        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=24,
                        sliding_window=WINDOW, attn_logit_softcapping=5.0, final_logit_softcapping=3.0,
                        tie_word_embeddings=True,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
            features=["layer_types sliding/full alternating (layer 0 sliding)",
                      f"sliding_window {WINDOW}", "attn_logit_softcapping 5.0", "final_logit_softcapping 3.0",
                      "query_pre_attn_scalar 24 != head_dim 16", "pre+post attention and feed-forward norms",
                      "RMSNorm (1 + w)", "embeddings scaled by sqrt(hidden)", "GeGLU gelu_pytorch_tanh", "tied"],
            ablations={"no attention soft-capping": dict(attn_logit_softcapping=None),
                       "no final soft-capping": dict(final_logit_softcapping=None),
                       "no sliding window (window 128)": dict(sliding_window=128),
                       "query_pre_attn_scalar = head_dim": dict(query_pre_attn_scalar=16)},
            gains=dict(qk=2.5, embed=0.3),
        ),
        "gemma3_text": dict(
            model_type="gemma3_text",
            config=dict(COMMON, hidden_size=32, intermediate_size=64, num_hidden_layers=5,
                        num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-6,
                        hidden_activation="gelu_pytorch_tanh", query_pre_attn_scalar=24,
                        sliding_window=WINDOW, sliding_window_pattern=3, final_logit_softcapping=5.0,
                        attn_logit_softcapping=None, tie_word_embeddings=True,
                        rope_parameters={
                            "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
            features=["layer_types from sliding_window_pattern 3 over 5 layers: "
                      "sliding, sliding, full, sliding, sliding",
                      "per-layer-type RoPE: sliding theta 1e4 default, full theta 1e6 linear factor 8",
                      "q_norm/k_norm (1 + w) before RoPE", f"sliding_window {WINDOW}",
                      "query_pre_attn_scalar 24", "final_logit_softcapping 5.0", "pre+post norms",
                      "embeddings scaled by sqrt(hidden)", "tied"],
            ablations={"one rope for all layers (theta 1e6, linear 8)": dict(rope_parameters={
                           "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                           "sliding_attention": {"rope_type": "linear", "factor": 8.0,
                                                 "rope_theta": 1000000.0}}),
                       "no linear rope scaling on full layers": dict(rope_parameters={
                           "full_attention": {"rope_type": "default", "rope_theta": 1000000.0},
                           "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
                       "no sliding window (window 128)": dict(sliding_window=128),
                       "no final soft-capping": dict(final_logit_softcapping=None)},
            gains=dict(qk=2.0, embed=0.3),
        ),
        "phi3": dict(
            model_type="phi3",
            config=dict(COMMON, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                        num_attention_heads=3, num_key_value_heads=1, rms_norm_eps=1e-5,
                        tie_word_embeddings=False, sliding_window=None, resid_pdrop=0.0, embd_pdrop=0.0,
                        original_max_position_embeddings=128,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                         "partial_rotary_factor": 0.5}),
            features=["fused qkv_proj (q | k | v rows)", "fused gate_up_proj (gate rows first)",
                      "partial_rotary_factor 0.5: first 8 of 16 head dims rotated", "GQA 3 heads / 1 kv head"],
            ablations={"full rotary": dict(rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                            "partial_rotary_factor": 1.0})},
        ),
    }


FINAL_NORMS = ("model.norm.weight", "transformer.ln_f.weight")


def zero_centred_norms(model):
    """Gemma's RMSNorm multiplies by (1 + weight)."""
    return "Gemma" in type(model).__name__


@torch.no_grad()
def randomize(model, gains, gen):
    """Random weights at scales where every feature matters. Linear weights ~ N(0, gain^2/fan_in);
    norm weights away from 1 (so ignoring them shows); biases ~ N(0, 0.1^2)."""
    embed_std = gains.get("embed", 0.5)
    zero_centred = zero_centred_norms(model)
    embedding = model.get_input_embeddings().weight
    tied = model.get_output_embeddings().weight is embedding
    for mod_name, mod in model.named_modules():
        conv1d = type(mod).__name__ == "Conv1D"  # GPT-2 stores [in, out]
        for p_name, p in mod.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}"
            if p is embedding and mod is not model.get_input_embeddings():
                continue  # a tied lm_head: randomised as the embedding
            noise = torch.randn(p.shape, generator=gen)
            if p.ndim == 1 and p_name == "bias":
                p.copy_(0.1 * noise)
            elif p.ndim == 1:
                scale = 1.0 + 0.2 * noise
                if tied and full in FINAL_NORMS:
                    # With a tied head, logit v is E_v . norm(h) and h holds the input embedding
                    # E_x, so a positive norm scale makes every model repeat its last token; a
                    # scale of random sign removes that bias, and greedy output stays varied.
                    scale = noise
                p.copy_(scale - 1.0 if zero_centred else scale)
            elif "embed" in full or full.endswith(("wte.weight", "wpe.weight")):
                p.copy_((0.1 if "wpe" in full else embed_std) * noise)
            else:
                fan_in = p.shape[0] if conv1d else p.shape[-1]
                gain = 1.0
                if any(k in full for k in ("q_proj", "k_proj", "qkv_proj", "c_attn")):
                    gain = gains.get("qk", 1.5)
                elif full.endswith("gate.weight") or "router" in full:
                    gain = gains.get("router", 2.0)
                elif full == "lm_head.weight":  # logits of a few units: clear greedy choices
                    gain = gains.get("head", 2.0)
                p.copy_(gain / math.sqrt(fan_in) * noise)


def tensor_list(model_dir):
    names = {}
    for f in sorted(os.listdir(model_dir)):
        if f.endswith(".safetensors"):
            with safetensors.safe_open(os.path.join(model_dir, f), "pt") as st:
                for k in st.keys():
                    names[k] = {"shape": list(st.get_slice(k).get_shape()), "dtype": st.get_slice(k).get_dtype(),
                                "file": f}
    return dict(sorted(names.items()))


def f32_list(t):
    """float32 values as the shortest decimal strings that round-trip, then as floats."""
    import numpy
    return [float(str(numpy.float32(x))) for x in t.flatten().tolist()]


@torch.no_grad()
def choose_prompt(model, prompts):
    """Of the candidate prompts, the one whose greedy continuation is varied (a model stuck
    repeating one token would hide a broken KV cache) and has the widest smallest top-1 minus top-2
    logit gap (so a port's rounding cannot flip a generated token). Returns (prompt, new ids, margin)."""
    scored = []
    for prompt in prompts:
        new_ids = greedy_recompute(model, prompt, NEW_TOKENS)
        logits = model(input_ids=torch.tensor([prompt + new_ids])).logits[0, len(prompt) - 1:-1]
        top2 = logits.topk(2, -1).values
        margin = float((top2[:, 0] - top2[:, 1]).min())
        distinct = len(set(new_ids))
        if distinct >= MIN_DISTINCT_NEW and margin >= MIN_MARGIN:
            key = (1, margin)
        else:  # fallback: the most varied of those with a safe margin, then the widest
            key = (0, distinct if margin >= MIN_MARGIN else 0, margin)
        scored.append((key, prompt, new_ids, margin))
    _, prompt, new_ids, margin = max(scored, key=lambda s: s[0])
    return prompt, new_ids, margin


def v4_config(cfg):
    """The same config spelled as transformers 4.x (and most Hub checkpoints) write it: rope_theta,
    rope_scaling, partial_rotary_factor, rope_local_base_freq at the top level, torch_dtype."""
    cfg = copy.deepcopy(cfg)
    rp = cfg.pop("rope_parameters", None)
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    if cfg["model_type"] == "qwen3_moe":  # 5.x writes the attribute_map target, Hub configs the alias
        cfg["num_experts"] = cfg.pop("num_local_experts")
    if rp is None:
        return cfg
    if cfg["model_type"] == "gemma3_text":
        full, local = dict(rp["full_attention"]), dict(rp["sliding_attention"])
        cfg["rope_theta"] = full.pop("rope_theta")
        cfg["rope_local_base_freq"] = local.pop("rope_theta")
        cfg["rope_scaling"] = None if full.get("rope_type") == "default" else full
        cfg["sliding_window_pattern"] = 3
        return cfg
    rp = dict(rp)
    cfg["rope_theta"] = rp.pop("rope_theta")
    if "partial_rotary_factor" in rp:
        cfg["partial_rotary_factor"] = rp.pop("partial_rotary_factor")
    cfg["rope_scaling"] = None if rp.get("rope_type", "default") == "default" else rp
    return cfg


def score(model, ids):
    nll, hf_loss = token_nll(model, ids)
    return {"mean_nll_per_row": [float(x) for x in nll.mean(-1)], "mean_nll": float(nll.mean()),
            "hf_loss_float32": hf_loss}


def variant_nll(model_dir, config_dict, ids, state_dict=None):
    """Mean NLL of the saved weights under another config (written beside links to the weights)."""
    with tempfile.TemporaryDirectory() as tmp:
        for f in os.listdir(model_dir):
            if f.endswith((".safetensors", ".json")) and f != "config.json":
                os.symlink(os.path.join(model_dir, f), os.path.join(tmp, f))
        with open(os.path.join(tmp, "config.json"), "w") as fh:
            json.dump(config_dict, fh)
        model, info, messages = load_model(tmp)
        return float(token_nll(model, ids)[0].mean()), problems(messages) + [
            f"{k}: {v}" for k, v in info.items() if v]


def moe_section(model, ids, coef):
    with torch.no_grad():
        out = model(input_ids=ids, labels=ids, output_router_logits=True)
        lm = model(input_ids=ids, labels=ids).loss
    cfg = model.config
    topk = []
    for layer_logits in out.router_logits:
        probs = layer_logits.float().softmax(-1)
        topk.append(probs[:8].topk(cfg.num_experts_per_tok, -1).indices.tolist())
    return {"router_aux_loss": float(out.aux_loss), "router_aux_loss_coef": coef,
            "loss_with_aux": float(out.loss), "lm_loss": float(lm),
            "aux_loss_note": "loss_with_aux = lm_loss + router_aux_loss_coef * router_aux_loss "
                             "(output_router_logits=True, labels=input_ids, no attention_mask)",
            "moe_layers": len(out.router_logits),
            "top_k_experts_row0_first8_tokens_per_moe_layer": topk}


def make(name, spec, out_root, gen_ids):
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    cls = transformers.CONFIG_MAPPING[spec["model_type"]]
    build_messages = []
    with captured_messages(build_messages):
        config = cls(**spec["config"])
        model = transformers.AutoModelForCausalLM.from_config(config, attn_implementation="eager",
                                                              dtype=torch.float32)
    randomize(model, spec.get("gains", {}), gen)
    model.eval()
    out_dir = os.path.join(out_root, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    save_kwargs = {"safe_serialization": True}
    if "max_shard_size" in spec:
        save_kwargs["max_shard_size"] = spec["max_shard_size"]
    with captured_messages(build_messages):
        model.save_pretrained(out_dir, **save_kwargs)

    ids = gen_ids["input_ids"]
    in_memory = score(model, ids)
    reloaded, info, reload_messages = load_model(out_dir)
    # Any message at all while transformers loads its own save is a defect of the config we wrote.
    found = reload_messages + [f"{k}: {v}" for k, v in info.items() if v]
    if found:
        sys.exit(f"[make_tiny_models] {name}: transformers warned loading its own save: {found}")
    ref = score(reloaded, ids)
    if ref["mean_nll_per_row"] != in_memory["mean_nll_per_row"]:
        sys.exit(f"[make_tiny_models] {name}: reloaded NLL {ref} != in-memory {in_memory}")

    with torch.no_grad():
        logits = reloaded(input_ids=ids).logits
    reloaded.generation_config.eos_token_id = None  # always NEW_TOKENS tokens
    prompt, recomputed, margin = choose_prompt(reloaded, gen_ids["prompts"])
    new_ids = greedy_generate(reloaded, prompt, NEW_TOKENS, stop_at_eos=False)
    if new_ids != recomputed:
        sys.exit(f"[make_tiny_models] {name}: generate {new_ids} != full recompute {recomputed}")

    saved_cfg = json.load(open(os.path.join(out_dir, "config.json")))
    ablations = {}
    for label, change in spec.get("ablations", {}).items():
        nll, issues = variant_nll(out_dir, {**saved_cfg, **change}, ids)
        ablations[label] = {"config_change": change, "mean_nll": nll, "delta_vs_reference": nll - ref["mean_nll"]}
        if issues or abs(nll - ref["mean_nll"]) < 1e-5:
            sys.exit(f"[make_tiny_models] {name}: ablation '{label}' does not bite (nll {nll}) or warned: {issues}")
    v4 = v4_config(saved_cfg)
    v4_nll, v4_issues = variant_nll(out_dir, v4, ids)

    reference = {
        "name": name,
        "generated_by": "scripts/hf-reference/make_tiny_models.py (run in the sid reference root)",
        "transformers": transformers.__version__, "torch": torch.__version__,
        "attn_implementation": "eager", "dtype": "float32", "seed": SEED,
        "model_class": type(reloaded).__name__, "model_type": saved_cfg["model_type"],
        "features": spec["features"],
        "num_parameters": reloaded.num_parameters(),
        "tensors": tensor_list(out_dir),
        "input_ids": ids.tolist(),
        "nll": {**ref, "note": "labels = input_ids, HF's shift: position t predicts token t+1; "
                                "float64 log_softmax of the float32 logits; mean over rows' "
                                f"{SEQ_LEN - 1} predictions (overall: over all 2x{SEQ_LEN - 1})"},
        "last_logits": {"positions": [SEQ_LEN - 2, SEQ_LEN - 1],
                        "values": [[f32_list(logits[r, p]) for p in (SEQ_LEN - 2, SEQ_LEN - 1)]
                                   for r in range(ids.shape[0])],
                        "layout": "values[row][position_index][vocab]"},
        "generate": {"prompt_ids": prompt, "new_ids": new_ids, "max_new_tokens": NEW_TOKENS,
                     "do_sample": False, "eos_token_id": None,
                     "equals_full_recompute_without_cache": True,
                     "min_top1_top2_logit_margin": margin,
                     "prompt_choice": f"of {PROMPT_CANDIDATES} seeded random prompts, the widest-margin one "
                                      f"among those with >= {MIN_DISTINCT_NEW} distinct new tokens "
                                      f"and a margin >= {MIN_MARGIN}"},
        "load_check": {"reload_messages": reload_messages, "reload_problems": found,
                       "build_and_save_messages": build_messages,
                       "reloaded_nll_equals_in_memory_nll": True},
        "ablations": ablations,
        "config_v4_style": {"config": v4, "mean_nll": v4_nll, "load_problems": v4_issues,
                            "same_nll": v4_nll == ref["mean_nll"],
                            "note": "the same model with config keys as transformers 4.x wrote them "
                                    "(as on most Hub checkpoints), loaded by this transformers"},
    }
    if spec.get("moe"):
        reference["moe"] = moe_section(reloaded, ids, saved_cfg["router_aux_loss_coef"])
    with open(os.path.join(out_dir, "reference.json"), "w") as fh:
        json.dump(reference, fh, indent=1)
        fh.write("\n")
    size = sum(os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir))
    print(f"{name:12s} params {reloaded.num_parameters():7d}  nll {ref['mean_nll']:.6f}  "
          f"margin {margin:.3f}  files {size / 1024:.0f} KiB  ablations "
          + ", ".join(f"{k}: {v['delta_vs_reference']:+.2e}" for k, v in ablations.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out", default=os.path.join(repo, "tests", "goldens", "models"))
    ap.add_argument("--only", help="comma-separated family names")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    specs = family_specs()
    names = args.only.split(",") if args.only else list(specs)
    unknown = [n for n in names if n not in specs]
    if unknown:
        ap.error(f"unknown family {unknown}; known: {list(specs)}")
    g = torch.Generator().manual_seed(SEED)
    gen_ids = {"input_ids": torch.randint(3, VOCAB, (2, SEQ_LEN), generator=g),
               "prompts": torch.randint(3, VOCAB, (PROMPT_CANDIDATES, PROMPT_LEN), generator=g).tolist()}
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        make(name, specs[name], args.out, gen_ids)


if __name__ == "__main__":
    main()
