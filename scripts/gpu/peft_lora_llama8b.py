#!/usr/bin/env python3
"""The reference for volt's LoRA / QLoRA fine-tuning of a Llama-3-8B-shaped model on a GPU:
transformers' LlamaForCausalLM with random weights (no weights can be downloaded) and PEFT's
LoRA (r 16, alpha 32, dropout 0.05, every Linear of the blocks: volt's configs/local-lora-llama),
trained in bf16 autocast with AdamW on the adapters, random tokens (fixed seed). QLoRA needs
bitsandbytes (4-bit NF4 base, double quantization); without it the result says so.

Llama-3-8B's shape: vocab 128256, 4096 wide, 32 heads (8 key/value heads), MLP 14336, RoPE theta
500000, untied head. --layers N keeps every width and takes N of the 32 blocks, so a short GPU
call can time the same per-block work volt does (run.sh passes the same N to both).

Prints one JSON object per mode: median step time, tokens/s, the caching allocator's peak.

  python3 scripts/gpu/peft_lora_llama8b.py --layers 8 --json $OUT/peft.json      # on the GPU
  python3 scripts/gpu/peft_lora_llama8b.py --device cpu --tiny                      # smoke test
"""
import argparse
import contextlib
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import gpu_common as g  # noqa: E402

TAG = "peft_lora_llama8b"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer, 64-wide Llama on 1 x 32 tokens (smoke test)")
    ap.add_argument("--layers", type=int, default=32, help="blocks of Llama-3-8B kept (32: all of it)")
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--r", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--mode", choices=["lora", "qlora", "both"], default="both")
    ap.add_argument("--gradient-checkpointing", action="store_true",
                    help="recompute each block in backward (volt: model.activation_checkpointing)")
    ap.add_argument("--save", help="also save the random base here (config.json + safetensors, bf16), for volt "
                                   "to fine-tune the same weights")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    if a.tiny:
        a.layers, a.seq, a.batch = min(a.layers, 2), min(a.seq, 32), 1
    for name in ("layers", "seq", "batch", "steps", "r"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1")
    if a.warmup < 0:
        ap.error("--warmup must be >= 0")
    return a


def llama_config(a):
    from transformers import LlamaConfig
    if a.tiny:
        size = dict(vocab_size=512, hidden_size=64, intermediate_size=176, num_attention_heads=4,
                    num_key_value_heads=2, max_position_embeddings=128)
    else:
        size = dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_attention_heads=32,
                    num_key_value_heads=8, max_position_embeddings=8192)
    return LlamaConfig(num_hidden_layers=a.layers, rms_norm_eps=1e-5, rope_theta=500000.0,
                       tie_word_embeddings=False, bos_token_id=None, eos_token_id=None, pad_token_id=None,
                       attn_implementation="sdpa", **size)


def build_base(cfg, device):
    """Random bf16 weights made on the device (a CPU detour would cost minutes at 8B)."""
    from transformers import AutoModelForCausalLM
    with torch.device(device):
        try:
            return AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        except TypeError:  # transformers 4.x spells it torch_dtype
            return AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.bfloat16)


def build_qlora_base(cfg, device, tmp):
    """bitsandbytes quantizes while loading, so the random model goes through a save first."""
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig
    build_base(cfg, device).save_pretrained(tmp)
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                           bnb_4bit_compute_dtype=torch.bfloat16)
    return AutoModelForCausalLM.from_pretrained(tmp, quantization_config=q, device_map={"": device.index or 0})


def import_peft():
    try:
        import peft
        return peft
    except ImportError:
        g.die(TAG, f"peft is not importable in this python3 ({sys.executable}): nothing to compare with", code=3)


def bitsandbytes_missing():
    try:
        import bitsandbytes  # noqa: F401
        return None
    except Exception as e:  # ImportError, or a build without this GPU's kernels
        return f"bitsandbytes is not importable ({type(e).__name__}: {e}): no QLoRA reference"


def train(model, a, cfg, device):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.999), weight_decay=0.0)
    gen = torch.Generator().manual_seed(1337)
    data = torch.randint(0, cfg.vocab_size, (a.warmup + a.steps, a.batch, a.seq), generator=gen)
    if a.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    model.train()
    clock = g.StepClock(device, a.warmup)
    for x in data:
        x = x.to(device)
        clock.start()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        clock.stop()
    return clock, float(loss), sum(p.numel() for p in params)


def run_mode(mode, a, cfg, device, peft):
    before = g.reset_peak(device)
    with tempfile.TemporaryDirectory() as tmp:
        base = build_qlora_base(cfg, device, tmp) if mode == "qlora" else build_base(cfg, device)
    if mode == "qlora":
        base = peft.prepare_model_for_kbit_training(base, use_gradient_checkpointing=a.gradient_checkpointing)
    lora = peft.LoraConfig(r=a.r, lora_alpha=a.alpha, lora_dropout=0.05, target_modules="all-linear",
                           task_type="CAUSAL_LM")
    model = peft.get_peft_model(base, lora)
    weights_bytes = torch.cuda.memory_allocated(device) - before if device.type == "cuda" else 0
    clock, last_loss, trainable = train(model, a, cfg, device)
    step = clock.median()
    tokens = a.batch * a.seq
    out = {"mode": mode, "step_seconds": step, "step_seconds_all": clock.seconds, "tokens_per_step": tokens,
           "tokens_per_sec": tokens / step, "peak_mem_bytes": g.peak_bytes(device, before),
           "model_mem_bytes": weights_bytes, "trainable_params": trainable, "last_loss": last_loss,
           "adapter_dtype": str(next(p for p in model.parameters() if p.requires_grad).dtype)}
    del model, base
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def main(argv=None):
    a = parse_args(argv)
    device = g.pick_device(TAG, a.device)
    if device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    torch.manual_seed(1337)
    cfg = llama_config(a)
    # The shape is checked before peft is needed, so a smoke test without peft still builds it.
    probe = build_base(llama_config(argparse.Namespace(**{**vars(a), "layers": 1})), torch.device("meta"))
    per_block = sum(p.numel() for p in probe.model.layers[0].parameters())
    n_params = sum(p.numel() for p in probe.parameters()) + per_block * (a.layers - 1)
    del probe
    if a.save:
        base = build_base(cfg, device)
        base.save_pretrained(a.save)
        print(f"[{TAG}] saved the random base to {a.save}", file=sys.stderr, flush=True)
        del base
    peft = import_peft()
    results = []
    for mode in (["lora", "qlora"] if a.mode == "both" else [a.mode]):
        missing = bitsandbytes_missing() if mode == "qlora" else None
        if missing or (mode == "qlora" and device.type != "cuda"):
            results.append({"mode": mode, "skipped": missing or "QLoRA (bitsandbytes) needs a CUDA device"})
            print(f"[{TAG}] {mode}: {results[-1]['skipped']}", file=sys.stderr, flush=True)
            continue
        print(f"[{TAG}] {mode}: {a.layers} blocks, batch {a.batch} x {a.seq}", file=sys.stderr, flush=True)
        noise = io.StringIO()
        with contextlib.redirect_stdout(noise):  # PEFT's print_trainable_parameters-style chatter
            results.append(run_mode(mode, a, cfg, device, peft))
    g.write_result(a.json, {
        "name": "transformers + PEFT", "model": "llama-tiny" if a.tiny else "llama-3-8b-shaped",
        "layers": a.layers, "params": n_params, "device": str(device), "batch": a.batch, "seq": a.seq,
        "steps": a.steps, "warmup": a.warmup, "r": a.r, "alpha": a.alpha, "target_modules": "all-linear",
        "gradient_checkpointing": a.gradient_checkpointing, "results": results, "versions": g.versions()})


if __name__ == "__main__":
    main()
