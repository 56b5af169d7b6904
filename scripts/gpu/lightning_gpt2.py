#!/usr/bin/env python3
"""The reference for volt bench's GPT-2 124M on a GPU: what a PyTorch Lightning + Hugging Face
user runs. A LightningModule wraps transformers' GPT2LMHeadModel (GPT-2 124M: 12 layers, 12 heads,
768 wide, vocab 50304, context 1024, no dropout, tied head, gelu_new, SDPA attention), trained
with bf16-mixed and AdamW (volt's wikitext2-gpt2 recipe: lr 1e-3, betas 0.9/0.99, weight decay
0.1 on matrices only, gradient clipping at 1.0) on random tokens (fixed seed).

Prints one JSON object: median step time, tokens/s, the caching allocator's peak
(torch.cuda.max_memory_allocated) and MFU against a measured bf16 matmul peak (8192^3 products,
median of 10). --plain-loop runs the same model, optimizer and precision in a plain PyTorch loop
instead of Lightning (Lightning's own cost, and the CPU smoke test where Lightning is absent).

  python3 scripts/gpu/lightning_gpt2.py --batch 16 --json $OUT/lightning.json       # on the GPU
  python3 scripts/gpu/lightning_gpt2.py --device cpu --tiny --plain-loop             # smoke test
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import gpu_common as g  # noqa: E402

TAG = "lightning_gpt2"


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a 2-layer, 64-wide model on 2 x 64 tokens (smoke test)")
    ap.add_argument("--batch", type=int, default=16, help="rows per step (volt bench's data.batch_size)")
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=10, help="timed optimizer steps")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--precision", choices=["bf16-mixed", "32-true"], default="bf16-mixed")
    ap.add_argument("--plain-loop", action="store_true", help="a plain PyTorch loop instead of Lightning")
    ap.add_argument("--peak-n", type=int, default=8192, help="matmul size for the measured bf16 peak")
    ap.add_argument("--json", help="also write the result here")
    a = ap.parse_args(argv)
    if a.tiny:
        a.seq, a.batch, a.peak_n = min(a.seq, 64), min(a.batch, 2), min(a.peak_n, 256)
    for name in ("batch", "seq", "steps", "peak_n"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.warmup < 0:
        ap.error("--warmup must be >= 0")
    return a


def gpt2_config(a):
    from transformers import GPT2Config
    size = dict(n_layer=2, n_head=2, n_embd=64, vocab_size=512, bos_token_id=None, eos_token_id=None) if a.tiny \
        else dict(n_layer=12, n_head=12, n_embd=768, vocab_size=50304)
    return GPT2Config(n_positions=max(a.seq, 1024 if not a.tiny else a.seq), resid_pdrop=0.0, embd_pdrop=0.0,
                      attn_pdrop=0.0, activation_function="gelu_new", tie_word_embeddings=True, **size)


def build_model(cfg):
    from transformers import GPT2LMHeadModel
    try:
        return GPT2LMHeadModel(cfg, attn_implementation="sdpa")
    except TypeError:  # transformers before the attn_implementation argument
        return GPT2LMHeadModel(cfg)


def param_groups(model, weight_decay):
    """volt's AdamW groups: decay on matrices, none on biases, norms and embeddings."""
    decay, rest = [], []
    for name, p in model.named_parameters():
        (decay if p.dim() >= 2 and "wte" not in name and "wpe" not in name else rest).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def make_optimizer(model):
    return torch.optim.AdamW(param_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.99))


def random_tokens(a, cfg, rows):
    gen = torch.Generator().manual_seed(1337)
    return torch.randint(0, cfg.vocab_size, (rows, a.seq), generator=gen)


def run_plain(a, cfg, device, data, clock):
    model = build_model(cfg).to(device)
    opt = make_optimizer(model)
    use_bf16 = a.precision == "bf16-mixed"
    for i in range(a.warmup + a.steps):
        x = data[i * a.batch:(i + 1) * a.batch].to(device, non_blocking=True)
        clock.start()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        clock.stop()
    return model, float(loss)


def import_lightning():
    try:
        import lightning.pytorch as pl
        return pl
    except ImportError:
        pass
    try:
        import pytorch_lightning as pl
        return pl
    except ImportError:
        g.die(TAG, "neither lightning nor pytorch_lightning is importable in this python3 "
                   f"({sys.executable}); --plain-loop runs the same step without Lightning", code=3)


def run_lightning(a, cfg, device, data, clock):
    pl = import_lightning()

    class GPT2Module(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = build_model(cfg)

        def training_step(self, batch, batch_idx):
            x = batch[0]
            loss = self.model(input_ids=x, labels=x).loss
            self.last_loss = loss.detach()
            return loss

        def configure_optimizers(self):
            return make_optimizer(self.model)

    class Timer(pl.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            clock.start()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            clock.stop()

    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=a.batch,
                                         shuffle=False, num_workers=0, pin_memory=device.type == "cuda")
    module = GPT2Module()
    trainer = pl.Trainer(accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
                         precision=a.precision, max_steps=a.warmup + a.steps, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         gradient_clip_val=1.0, num_sanity_val_steps=0, limit_val_batches=0, callbacks=[Timer()])
    trainer.fit(module, loader)
    return module.model, float(module.last_loss)


def main(argv=None):
    a = parse_args(argv)
    device = g.pick_device(TAG, a.device)
    torch.manual_seed(1337)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # volt's default (trainer.tf32 false)
    cfg = gpt2_config(a)
    data = random_tokens(a, cfg, (a.warmup + a.steps) * a.batch)

    peak = g.measure_matmul_peak(device, torch.bfloat16, a.peak_n)
    before = g.reset_peak(device)
    clock = g.StepClock(device, a.warmup)
    runner = run_plain if a.plain_loop else run_lightning
    model, last_loss = runner(a, cfg, device, data, clock)
    mem = g.peak_bytes(device, before)

    n_params = sum(p.numel() for p in model.parameters())  # tied head counted once
    n_matmul = n_params - model.transformer.wpe.weight.numel()
    step = clock.median()
    tokens = a.batch * a.seq
    tps = tokens / step
    flops_tok = g.training_flops_per_token(n_matmul, cfg.n_layer, cfg.n_embd, a.seq)
    g.write_result(a.json, {
        "name": "transformers (plain loop)" if a.plain_loop else "Lightning + transformers",
        "model": "gpt2-tiny" if a.tiny else "gpt2-124M", "params": n_params, "device": str(device),
        "precision": a.precision, "batch": a.batch, "seq": a.seq, "steps": a.steps, "warmup": a.warmup,
        "step_seconds": step, "step_seconds_all": clock.seconds, "tokens_per_step": tokens,
        "tokens_per_sec": tps, "peak_mem_bytes": mem, "bf16_matmul_peak_flops": peak,
        "bf16_matmul_peak_n": a.peak_n, "flops_per_token": flops_tok, "mfu": flops_tok * tps / peak,
        "last_loss": last_loss, "versions": g.versions()})


if __name__ == "__main__":
    main()
