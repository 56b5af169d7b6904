#!/usr/bin/env python3
"""The short table scripts/gpu/run.sh prints last, from what its steps left in RESULTS_DIR
(steps.tsv, volt-gpt2.json, lightning.json, hf-plain.json, peft-lora.json, volt-lora.json,
interop.json). A missing or failed part shows as such; nothing is invented.

  scripts/gpu/summarize.py build-gpu/results [--llama-layers 8] [--json OUT]
"""
import argparse
import json
import os
import sys

# What issue 21 Part B asks of volt's C++ that is not there yet (scripts/gpu/README.md).
NOT_IN_VOLT = [
    "NCCL process group (DDP/FSDP on CUDA): missing; src/dist/ddp_strategy.cpp refuses CUDA tensors",
    "CUDA-vs-CPU SDPA test: missing (nn/attention.cpp uses SDPA on 2.x; no test compares devices)",
    "NF4 dequantize on CUDA vs the CPU loop: missing (no CUDA kernel; no CUDA test of the tensor-op path)",
    "volt memory --measure on CUDA: missing (src/train/memory_estimate.cpp measures on the CPU only)",
]


def gpt2_matmul_params(vocab=50304, layers=12, d=768):
    """count_parameters(gpt2 preset) less the position table: what volt's MFU counts."""
    return vocab * d + layers * (12 * d * d + 13 * d) + 2 * d


def load(path):
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    offset = 0
    for line in text.splitlines(keepends=True):  # the JSON may follow a program's own lines
        if line[:1] in "[{":
            try:
                return json.loads(text[offset:])
            except json.JSONDecodeError:
                pass
        offset += len(line)
    return None


def mib(b):
    return f"{b / 2**20:,.0f}" if b else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--llama-layers", type=int, default=8)
    ap.add_argument("--json")
    a = ap.parse_args()
    r = lambda name: load(os.path.join(a.results, name))  # noqa: E731
    out = {"steps": [], "gpt2": [], "lora": [], "interop": None, "not_in_volt": NOT_IN_VOLT}
    lines = []

    steps_file = os.path.join(a.results, "steps.tsv")
    if os.path.exists(steps_file):
        lines.append(f"{'step':<10} {'status':<11} {'s':>4}  note")
        for row in open(steps_file):
            name, status, secs, note = (row.rstrip("\n").split("\t") + [""] * 4)[:4]
            out["steps"].append({"step": name, "status": status, "seconds": int(secs or 0), "note": note})
            lines.append(f"{name:<10} {status:<11} {secs:>4}  {note[:150]}")

    light, plain, volt = r("lightning.json"), r("hf-plain.json"), r("volt-gpt2.json")
    peak = next((x["bf16_matmul_peak_flops"] for x in (light, plain) if x and "bf16_matmul_peak_flops" in x), None)
    rows = []
    if volt:
        v = volt[0]
        if v.get("error"):
            rows.append(("volt", None, None, None, None, "failed: " + v["error"][:80]))
        else:
            fpt = 6.0 * gpt2_matmul_params() + 12.0 * 12 * 768 * 1024
            mfu = fpt * v["tokens_per_sec"] / peak if peak else None
            rows.append(("volt", v["step_seconds"], v["tokens_per_sec"], v["peak_mem_bytes"], mfu,
                         f"volt's own MFU (datasheet peak) {100 * v['mfu']:.1f}%"))
    for x in (light, plain):
        if x:
            rows.append((x["name"], x["step_seconds"], x["tokens_per_sec"], x["peak_mem_bytes"], x["mfu"], ""))
    if rows:
        lines.append("")
        lines.append("GPT-2 124M, bf16-mixed, AdamW, batch 12 x 1024"
                     + (f"; MFU against the measured bf16 matmul peak {peak / 1e12:.0f} TFLOP/s" if peak else
                        "; no measured peak (the lightning step did not run)"))
        lines.append(f"  {'':<28} {'step ms':>8} {'tokens/s':>10} {'peak MiB':>9} {'MFU':>6}")
        for name, step, tps, mem, mfu, extra in rows:
            out["gpt2"].append({"name": name, "step_seconds": step, "tokens_per_sec": tps, "peak_mem_bytes": mem,
                                "mfu_measured_peak": mfu, "note": extra})
            if step is None:
                lines.append(f"  {name:<28} {extra}")
                continue
            lines.append(f"  {name:<28} {1000 * step:>8.1f} {tps:>10,.0f} {mib(mem):>9} "
                         f"{(f'{100 * mfu:.1f}%' if mfu else '-'):>6}  {extra}")

    peft, vlora = r("peft-lora.json"), r("volt-lora.json")
    lrows = []
    if peft:
        for x in peft["results"]:
            lrows.append(("transformers + PEFT", x))
    if vlora:
        for x in vlora:
            x = dict(x)
            x["mode"] = x.get("model.peft.type", "?")
            if x.get("error"):
                x["skipped"] = "failed: " + x["error"][:100]
            lrows.append(("volt", x))
    if lrows:
        lines.append("")
        seq = peft["seq"] if peft else "?"
        lines.append(f"LoRA r16 all-linear on Llama-3-8B's shape, {a.llama_layers} of 32 blocks, random weights, "
                     f"batch 1 x {seq}, bf16")
        lines.append(f"  {'':<22} {'mode':<6} {'step ms':>8} {'tokens/s':>9} {'peak MiB':>9}")
        for who, x in lrows:
            out["lora"].append({"who": who, **{k: v for k, v in x.items() if k != "step_seconds_all"}})
            if x.get("skipped"):
                lines.append(f"  {who:<22} {x['mode']:<6} {x['skipped'][:110]}")
            else:
                lines.append(f"  {who:<22} {x['mode']:<6} {1000 * x['step_seconds']:>8.1f} "
                             f"{x['tokens_per_sec']:>9,.0f} {mib(x['peak_mem_bytes']):>9}")

    inter = r("interop.json")
    if inter:
        out["interop"] = inter["checks"]
        lines.append("")
        lines.append("Interop (volt's LoRA adapter, merge, score, generate vs PEFT + transformers, "
                     f"{inter.get('device', '?')})")
        for k, v in inter["checks"].items():
            lines.append(f"  {'ok  ' if v['ok'] else 'FAIL'} {k}: {v['note'][:140]}")

    lines.append("")
    lines.append("Not in volt's C++ yet (no step runs them):")
    lines += [f"  - {x}" for x in NOT_IN_VOLT]
    print("\n".join(lines))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
