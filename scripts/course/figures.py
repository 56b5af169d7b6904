#!/usr/bin/env python3
"""Recomputes the worked figures of the course's pages from the formulas they show (docs/01 §6,
docs/02-data-pipeline §1's headroom, docs/03 §2's perplexities, docs/04 §6's 70B model, docs/05
§1-3 and docs/06 §1, §2 and §4-7), formats each as the page prints it, and checks that the page
holds it. Standard library only (the NF4 quantiles come from
statistics.NormalDist).

    python3 scripts/course/figures.py     # one line per figure; exit status 1 if a page differs
"""
import math
import pathlib
import re
import sys
from statistics import NormalDist

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
GB, GiB, MiB = 1e9, 2**30, 2**20


def page(name):
    # LaTeX thousands separators and line wraps are not part of a figure.
    text = (DOCS / name).read_text(encoding="utf-8").replace("{,}", ",")
    return re.sub(r"\s+", " ", text)


failures = 0


def expect(doc, label, shown):
    """The page `doc` must contain the string `shown` (the figure in context)."""
    global failures
    ok = shown in doc
    failures += not ok
    print(f"{'ok  ' if ok else 'DIFF'}  {label}: {shown}")


def c(n):  # 6738415616 -> "6,738,415,616"
    return f"{n:,}"


def f2(x):  # two decimals with a thousands separator
    return f"{x:,.2f}"


# --- Parameter counts from the Hugging Face configs -------------------------------------------

def llama_params(vocab, width, layers, heads, kv_heads, head_dim, mlp, tied=False):
    attn = 2 * width * heads * head_dim + 2 * width * kv_heads * head_dim
    per_layer = attn + 3 * width * mlp + 2 * width
    return vocab * width * (1 if tied else 2) + layers * per_layer + width, per_layer


LLAMA2_7B, LLAMA2_7B_LAYER = llama_params(32000, 4096, 32, 32, 32, 128, 11008)
LLAMA2_70B, LLAMA2_70B_LAYER = llama_params(32000, 8192, 80, 64, 8, 128, 28672)
LLAMA3_8B, LLAMA3_8B_LAYER = llama_params(128256, 4096, 32, 32, 8, 128, 14336)
# GPT-2 124M: tied wte, learned positions; a block is 12 C^2 weights, 9 C biases, 2 LayerNorms.
GPT2 = 50257 * 768 + 1024 * 768 + 12 * (12 * 768 * 768 + 9 * 768 + 4 * 768) + 2 * 768

# --- docs/01-lightning-philosophy.md §6, docs/02-data-pipeline.md §1, docs/03 §2, docs/04 §6 ---------
d1 = page("01-lightning-philosophy.md")
print("docs/01-lightning-philosophy.md")
pcie4 = 16 * 16e9 * 128 / 130 / 8  # 16 lanes at 16 GT/s, 128b/130b encoding, bytes per second
r_model = 0.4 * 989e12 / 857e6  # GPT-2 small on an H100 at 40% MFU (docs/02 §1)
expect(d1, "PCIe 4.0 x16", f"= {pcie4 / 1e9:.1f}$ GB/s")
expect(d1, "PCIe 5.0 x16", f"twice that, {2 * pcie4 / 1e9:.0f} GB/s")
expect(d1, "tokens/s of GPT-2 small (461,610, as docs/02 quotes it)",
       f"about {int(r_model // 1000) * 1000:,} tokens a second")
expect(d1, "bytes a second of packed batches", f"\\approx {461_000 * 32 / 1e6:.1f}$ MB/s: "
       f"{100 * 461_000 * 32 / pcie4:.2f}% of PCIe 4.0")
batch = 8 * 1024 * 32
expect(d1, "a packed batch", f"is {c(batch)} bytes, ${batch / pcie4 * 1e6:.1f}\\ \\mu$s of PCIe 4.0")
expect(d1, "a step of 8192 tokens", f"= {8192 / 461_000 * 1e3:.1f}$ ms")
expect(d1, "Llama-2-7B's BF16 weights over PCIe 4.0",
       f"loading {2 * LLAMA2_7B / 1e9:.1f} GB of Llama-2-7B in BF16 takes {2 * LLAMA2_7B / pcie4:.2f} s")

d2 = page("02-data-pipeline.md")
print("docs/02-data-pipeline.md")
budget = 1e6 / r_model  # microseconds per token
tokenizer = 1e6 / (80e6 / 4.34)  # 80 MB/s at 4.34 bytes a token
expect(d2, "the per-token budget", f"\\approx {budget:.1f}\\ \\mu\\text{{s}}$ per token")
expect(d2, "the tokenizer's cost and share", f"| {tokenizer:.3f} µs | {100 * tokenizer / budget:.1f}% of one thread |")
expect(d2, "the headroom", f"({budget / tokenizer:.0f}x headroom on one thread: {budget:.1f} µs against {tokenizer:.3f} µs)")

d3 = page("03-llm-core.md")
print("docs/03-llm-core.md")
expect(d3, "BabyGPT's perplexity", f"$e^{{1.8904}} \\approx {math.exp(1.8904):.1f}$")
expect(d3, "nanoGPT's perplexity", f"1.4697 on one A100, perplexity {math.exp(1.4697):.1f}")
expect(d3, "a 0.1-nat drop", f"$e^{{-0.1}} = {math.exp(-0.1):.3f}$, a {100 * (1 - math.exp(-0.1)):.1f}% drop")

d4 = page("04-precision-and-optimization.md")
print("docs/04-precision-and-optimization.md")
expect(d4, "70B, all four parts", f"$16 \\times {LLAMA2_70B / 1e9:.2f} \\times 10^9 \\approx "
       f"{c(round(16 * LLAMA2_70B / 1e9))}$ GB")
expect(d4, "70B optimizer state", f"$12 \\times {LLAMA2_70B / 1e9:.2f} \\times 10^9 \\approx "
       f"{round(12 * LLAMA2_70B / 1e9)}$ GB")
expect(d4, "80 GB GPUs for the optimizer", f"{ {11: 'eleven'}[math.ceil(12 * LLAMA2_70B / 1e9 / 80)]} 80 GB GPUs")

# --- docs/05-scaling.md -----------------------------------------------------------------------
d5 = page("05-scaling.md")
print("docs/05-scaling.md")

# §1 The memory wall
expect(d5, "Llama-2-70B embedding + head", c(2 * 32000 * 8192))
expect(d5, "Llama-2-70B per layer", f"= {c(LLAMA2_70B_LAYER)}")
expect(d5, "Llama-2-70B", f"**{c(LLAMA2_70B)}**")
expect(d5, "Llama-2-7B", f"**{c(LLAMA2_7B)}**")
expect(d5, "GPT-2", f"**{c(GPT2)}**")
expect(d5, "70B optimizer state, nominal", f"= {12 * 70}$ GB")
expect(d5, "70B all four parts, nominal", f"= {16 * 70 / 1000:.2f}$ TB")
expect(d5, "70B optimizer state", f"{f2(12 * LLAMA2_70B / GB)} GB of optimizer state")
expect(d5, "70B in all", f"{f2(16 * LLAMA2_70B / GB)} GB in all")
models = {"GPT-2": GPT2, "Llama-2-7B": LLAMA2_7B, "Llama-2-70B": LLAMA2_70B}
for bytes_per in (2, 12):
    row = " | ".join(f"{f2(bytes_per * p / GB)} GB" for p in models.values())
    expect(d5, f"{bytes_per} B/param row", row)
for bytes_per, bold in ((16, "**"), (18, "")):
    row = " | ".join(f"{bold}{f2(bytes_per * p / GB)} GB{bold} ({f2(bytes_per * p / GiB)} GiB)"
                     for p in models.values())
    expect(d5, f"{bytes_per} B/param row", row)
expect(d5, "70B checkpointed block inputs", f"BF16 values ({80 * 4096 * 8192 * 2 / GiB:.2f} GiB)")
expect(d5, "70B loss head", f"FP32 tensors ({3 * 4096 * 32000 * 4 / GiB:.2f} GiB)")
gpus = math.ceil(16 * LLAMA2_70B / GiB / 80)
expect(d5, "80 GiB GPUs the 70B state fills", f"({f2(16 * LLAMA2_70B / GiB)} GiB) would fill "
       f"{ {13: 'thirteen'}.get(gpus, gpus)} 80 GB GPUs")

# §2 DDP
expect(d5, "rank 1's over-weighting", f"count ${(1 / 400) / (1 / 1200):.0f}\\times$ too much, rank 0's "
       f"${(1 / 2000) / (1 / 1200):.1f}\\times$")
for n in (8, 64):
    expect(d5, f"ring traffic at N = {n}", f"${2 * (n - 1) / n:.2f}\\Psi$ at {n}")
ring = 2 * 7 / 8 * LLAMA2_7B
expect(d5, "7B FP32 gradients", f"FP32 gradients ({LLAMA2_7B * 4 / GB:.2f} GB)")
expect(d5, "7B ring all-reduce, FP32", f"**{ring * 4 / GB:.2f} GB** sent per rank per step, "
       f"{ring * 4 / GB / 50:.2f} s at 50 GB/s")
expect(d5, "7B ring all-reduce, BF16", f"BF16 gradients, {ring * 2 / GB:.2f} GB")
flops = 6 * LLAMA2_7B * 4096
expect(d5, "one micro-batch's FLOPs", f"{flops / 1e14:.2f} \\times 10^{{14}}$ FLOPs, {flops / 400e12:.2f} s")
expect(d5, "8 micro-batches of compute", f"meets {8 * flops / 400e12:.1f} s of compute")

# §3 FSDP / ZeRO
block = LLAMA2_7B_LAYER
expect(d5, "a 7B block", f"= {c(block)}$ parameters")
expect(d5, "a 7B block over 8 ranks", f"({c(block // 8)} a rank)")
per7 = -(-block // 7)
expect(d5, "a 7B block over 7 ranks", f"padded by {7 * per7 - block} to $7 \\times {c(per7)}$")
expect(d5, "a gathered 7B block in BF16", f"BF16: {block * 2 / 1e6:.2f} MB")
expect(d5, "FSDP traffic, 7B, N = 8", f"{3 * 7 / 8 * LLAMA2_7B * 2 / GB:.2f} GB a rank per step against "
       f"DDP's {ring * 2 / GB:.2f} GB")
zero = {"ZeRO-1": lambda n: 4 + 12 / n, "ZeRO-2": lambda n: 2 + 14 / n, "ZeRO-3": lambda n: 16 / n}
for name, bytes_per in zero.items():
    row = " | ".join(f"{bytes_per(n) * LLAMA2_7B / GiB:.2f}" for n in (1, 2, 4, 8))
    expect(d5, f"{name} per rank, N = 1, 2, 4, 8", row)
expect(d5, "gathered units", f"{block * 2 / GiB:.2f} GiB for one 7B block in BF16, "
       f"{2 * block * 2 / GiB:.2f} GiB for two")
psi, n = 7.5e9, 64
paper = [16 * psi, (4 + 12 / n) * psi, (2 + 14 / n) * psi, 16 * psi / n]
expect(d5, "the ZeRO paper's 7.5B on 64 GPUs", f"gives {paper[0] / GB:.0f}, {paper[1] / GB:.1f}, "
       f"{paper[2] / GB:.1f} and {paper[3] / GB:.2f} GB")
expect(d5, "CPU offload: optimizer state", f"host memory ({12 * LLAMA2_7B / GB:.2f} GB for 7B)")
expect(d5, "CPU offload: PCIe traffic", f"up are {2 * LLAMA2_7B * 2 / GB:.2f} GB, about "
       f"{2 * LLAMA2_7B * 2 / GB / 25:.0f} s a step at 25 GB/s")
expect(d5, "volt memory's gathered root unit", f"2 × {32000 * 4096 / 1e6:.2f} M parameters for Llama-2-7B")

# --- docs/06-peft-lora.md ---------------------------------------------------------------------
d6 = page("06-peft-lora.md")
print("docs/06-peft-lora.md")

# §1 What full fine-tuning costs
expect(d6, "Llama-2-7B embedding + head", f"{c(2 * 32000 * 4096)}$ for the embedding")
expect(d6, "Llama-2-7B blocks", f"{c(32 * LLAMA2_7B_LAYER)}$ for the blocks")
expect(d6, "Llama-2-7B", f"**{c(LLAMA2_7B)}**")
expect(d6, "Llama-3-8B", f"**{c(LLAMA3_8B)}**")
for bytes_per in (16, 18, 8, 4, 2):
    expect(d6, f"{bytes_per} B/param", f"| {LLAMA2_7B * bytes_per / GiB:.2f} GiB | {LLAMA3_8B * bytes_per / GiB:.2f} GiB |")
expect(d6, "checkpointed block inputs", f"= {32 * 4096 * 4096 * 2 / GiB:.0f}$ GiB")
expect(d6, "loss head, 32k vocabulary", f"= {3 * 4096 * 32000 * 4 / GiB:.2f}$ GiB")
expect(d6, "loss head, 128k vocabulary", f"({3 * 4096 * 128256 * 4 / GiB:.2f} GiB with Llama-3")

expect(d6, "the 7x overhead", f"For Llama-2-7B that is {14 * LLAMA2_7B / GiB:.2f} GiB of state on top of "
       f"{2 * LLAMA2_7B / GiB:.2f} GiB of weights")
assert (16 - 2) / 2 == 7 and (18 - 2) / 2 == 8

# §2 LoRA
gain = math.sqrt(2 / (1 + 5))
expect(d6, "A's bound at d_in = 4096", f"\\mathcal{{U}}(-{gain * math.sqrt(3 / 4096):.6f},\\ {gain * math.sqrt(3 / 4096):.6f})")
for r, shown in ((8, f"$r = 8$ gives $s = {16 / 8:.0f}$ against $s_{{\\text{{rs}}}} = {16 / math.sqrt(8):.3f}$"),
                 (64, f"$r = 64$ gives ${16 / 64:.2f}$ against ${16 / math.sqrt(64):.0f}$"),
                 (256, f"$r = 256$ gives ${16 / 256:.4f}$ against ${16 / math.sqrt(256):.0f}$")):
    expect(d6, f"alpha/r and rsLoRA at r = {r}", shown)
lora_qv = 32 * 2 * 8 * (4096 + 4096)
expect(d6, "PEFT's q,v r = 8 count", f"= {c(lora_qv)},$$")
expect(d6, "print_trainable_parameters", f"trainable params: {c(lora_qv)} || all params: "
       f"{c(LLAMA2_7B + lora_qv)} || trainable%: {100 * lora_qv / (LLAMA2_7B + lora_qv):.4f}")
expect(d6, "its trainable state", f"trainable state is {16 * lora_qv / MiB:.0f} MiB")
lora_all = 16 * (2 * 8192 + 2 * 5120 + 3 * 18432)
expect(d6, "Llama-3-8B r = 16 all-linear, a layer", f"= {c(lora_all)}$ a layer, **{c(32 * lora_all)}** in all "
       f"({100 * 32 * lora_all / (LLAMA3_8B + 32 * lora_all):.2f}% of {c(LLAMA3_8B + 32 * lora_all)})")
expect(d6, "unmerged adapter FLOPs", f"{100 * 2 * 8 * 8192 / (2 * 4096 * 4096):.2f}% for $r = 8$")
expect(d6, "BF16 spacing near 0.02", f"$2^{{-13}} \\approx {2**-13 * 1e4:.2f} \\times 10^{{-4}}$")
w0 = 164 * 2**-13
expect(d6, "W0 = 164 ULPs", f"$W_0 = {w0!r}$")
# Round-half-to-even in units of 2^-13 (BF16's spacing on [2^-6, 2^-5)).
merged = round(163 - 4.5)
expect(d6, "merge, then unmerge, a tie", f"{163 - 4.5} \\to {merged}$ and unmerges to ${merged + 4.5} \\to {round(merged + 4.5)}$")

expect(d6, "a rank-8 update of 4096 x 4096", f"{c(8 * (4096 + 4096))} at $r = 8$, "
       f"{100 * 8 * 8192 / 4096**2:.2f}% of the {c(4096 * 4096)}")
expect(d6, "E(8) for geometric singular values", f"$E(8) = 1 - 0.7^{{16}} = {100 * (1 - 0.7**16):.2f}\\%$")

# §4 NF4
delta = 0.9677083  # bitsandbytes' create_normal_map offset, as the page writes it
expect(d6, "the offset's exact value", f"{(1 - 1 / 30 + 1 - 1 / 32) / 2:.8f}")
inv = NormalDist().inv_cdf
top = inv(delta)
expect(d6, "Phi^-1(delta)", f"\\Phi^{{-1}}(\\delta) = {top:.7f}$")
neg_p = [delta - k * (delta - 0.5) / 7 for k in range(7)]
pos_p = [delta - k * (delta - 0.5) / 8 for k in range(8)]
# The table rows: | code | `bits` | p | value |
rows = re.findall(r"\| (\d+) \| `[01]{4}` \| ([0-9.—]+) \| (-?[0-9.]+) \|", d6)
assert len(rows) == 16, f"expected the 16 rows of the NF4 table, found {len(rows)}"
codebook = [float(v) for _, _, v in rows]
ours = sorted([-inv(p) / top for p in neg_p] + [0.0] + [inv(p) / top for p in pos_p])
for code, (_, p_shown, _) in enumerate(rows):
    if code == 7:
        continue
    p = neg_p[code] if code < 7 else pos_p[15 - code]
    expect(d6, f"NF4 code {code}: p", f"| {code} | `{code:04b}` | {p:.7f} |")
errors = [abs(a - b) for a, b in zip(ours, codebook)]
worst = max(range(16), key=lambda i: errors[i])
expect(d6, "construction vs bitsandbytes",
       f"to within ${errors[worst] * 1e7:.1f} \\times 10^{{-7}}$ (largest at code {worst})")
gaps = [codebook[i + 1] - codebook[i] for i in range(15)]
expect(d6, "gap between codes 7 and 8", f"(gap {gaps[7]:.4f} between codes 7 and 8)")
expect(d6, "gaps at the ends", f"({gaps[14]:.4f} between 14 and 15, {gaps[0]:.4f} between 0 and 1)")
expect(d6, "worst-case error", f"\\le {max(gaps) / 2:.4f}\\,m_b$")
block_w = [0.012, -0.031, 0.0004, 0.050, -0.0095, 0.027, -0.044, 0.0021]
absmax = max(abs(w) for w in block_w)
codes = [min(range(16), key=lambda j: abs(w / absmax - codebook[j])) for w in block_w]
expect(d6, "the worked block's codes", "| $q_i$ | " + " | ".join(map(str, codes)) + " |")
# Exact values (0 and the absmax itself) are printed short, the others to 6 decimals.
shown = [f"{absmax * codebook[q]:g}" if codebook[q] in (-1.0, 0.0, 1.0) else f"{absmax * codebook[q]:.6f}"
         for q in codes]
expect(d6, "the worked block, dequantized", "| $\\hat w_i$ | " + " | ".join(shown) + " |")
expect(d6, "midpoint of codes 0 and 1", f"the midpoint ${(codebook[0] + codebook[1]) / 2:.4f}$")
packed = " ".join(f"0x{16 * codes[2 * k] + codes[2 * k + 1]:02X}" for k in range(4))
expect(d6, "the worked block, packed", f"`{packed}`")

# §5 Double quantisation
bits = 4 + 8 / 64 + 32 / (64 * 256)
expect(d6, "bits a weight", f"= {bits} \\approx {bits:.3f}")
expect(d6, "saved against FP32 absmax", f"{4 + 32 / 64 - bits:.3f} bits a parameter saved")
expect(d6, "against BF16", f"$16/{bits:.3f} = {16 / bits:.3f}\\times$")
q, kv, mlp = 4096 * 4096, 4096 * 1024, 4096 * 14336
layer = 2 * q + 2 * kv + 3 * mlp
linears = 32 * layer
expect(d6, "q, o", f"$4096^2 = {c(q)}$")
expect(d6, "k, v", f"$4096 \\cdot 1024 = {c(kv)}$")
expect(d6, "gate, up, down", f"$4096 \\cdot 14336 = {c(mlp)}$")
expect(d6, "a layer's linears", f"{c(layer)} in all")
expect(d6, "the model's linears", f"= {c(linears)}$ for the model")
assert linears % (64 * 256) == 0
code_bytes, absmax8, absmax32 = linears // 2, linears // 64, linears // 64 // 256 * 4
nf4_linears = code_bytes + absmax8 + absmax32
expect(d6, "4-bit codes", f"| {c(linears)} | {linears * 2 / GiB:.2f} GiB | {c(code_bytes)} B |")
expect(d6, "8-bit absmax codes", f"{c(absmax8)} B")
expect(d6, "FP32 second-level absmax", f"{c(absmax32)} B")
expect(d6, "block linears, total", f"**{linears * 2 / GiB:.2f} GiB** | **{nf4_linears / GiB:.3f} GiB**")
embed, norms = 2 * 128256 * 4096, 65 * 4096
expect(d6, "embedding + lm_head", f"| {c(embed)} | {embed * 2 / GiB:.3f} GiB | {embed * 2 / GiB:.3f} GiB (BF16) |")
expect(d6, "RMSNorm weights", f"| {c(norms)} | {norms * 2 / MiB:.1f} MiB |")
model_nf4 = nf4_linears + 2 * (embed + norms)
assert linears + embed + norms == LLAMA3_8B
expect(d6, "the model", f"| {c(LLAMA3_8B)} | **{LLAMA3_8B * 2 / GiB:.2f} GiB** | **{model_nf4 / GiB:.3f} GiB** |")
expect(d6, "shrink: linears, model", f"The linears shrink ${linears * 2 / nf4_linears:.2f}\\times$; the whole "
       f"model only ${LLAMA3_8B * 2 / model_nf4:.2f}\\times$")
expect(d6, "the vocabulary's share", f"({embed / 1e9:.2f} B parameters, {100 * embed / LLAMA3_8B:.0f}% of the model)")
l2_linears = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008)
l2_nf4 = l2_linears * bits / 8 + 2 * (LLAMA2_7B - l2_linears)
expect(d6, "Llama-2-7B in NF4", f"from {LLAMA2_7B * 2 / GiB:.2f} GiB to {l2_nf4 / GiB:.3f} GiB, about "
       f"${LLAMA2_7B * 2 / l2_nf4:.1f}\\times$")
no_dq = linears * 4.5 / 8
expect(d6, "without double quantisation", f"would take {no_dq / GiB:.3f} GiB, {(no_dq - nf4_linears) / GiB:.3f} GiB more")

# §6 QLoRA
expect(d6, "the largest dequantised weight", f"is {mlp * 2 / MiB:.0f} MiB")
loss_head = 3 * 2048 * 128256 * 4 / GiB
inputs = 32 * 2048 * 4096 * 2 / GiB
lora_state = 16 * 32 * lora_all / GiB
full = LLAMA3_8B * 2 / GiB + LLAMA3_8B * 14 / GiB + inputs + loss_head
qlora = model_nf4 / GiB + lora_state + inputs + loss_head + mlp * 2 / GiB
expect(d6, "base weights", f"| {LLAMA3_8B * 2 / GiB:.2f} GiB (BF16) | {model_nf4 / GiB:.3f} GiB")
expect(d6, "14 B/param of training state", f"| {LLAMA3_8B * 14 / GiB:.2f} GiB | — |")
expect(d6, "LoRA state", f"| — | {lora_state:.3f} GiB |")
expect(d6, "block inputs", f"| {inputs:.1f} GiB | {inputs:.1f} GiB |")
expect(d6, "loss head", f"| {loss_head:.2f} GiB | {loss_head:.2f} GiB |")
expect(d6, "one dequantised weight", f"| — | {mlp * 2 / GiB:.2f} GiB |")
expect(d6, "totals", f"**{full:.1f} GiB** | **{qlora:.1f} GiB**")
expect(d6, "training state left", f"Of {16 * LLAMA3_8B / GiB:.2f} GiB of training state, "
       f"{model_nf4 / GiB + lora_state:.2f} GiB remain; the activations ({inputs + loss_head:.1f} GiB")
expect(d6, "at 7B scale", f"At 7B scale § 5's arithmetic gives {LLAMA2_7B * 2 / l2_nf4:.2f}×")

# §7 The PEFT family (Llama-2-7B: L = 32, d = 4096, d_ff = 11008)
L, d, dff = 32, 4096, 11008
adapters = 2 * L * (2 * d * 64 + 64 + d)
expect(d6, "adapters, m = 64", f"{c(adapters)} at $m = 64$ ({100 * adapters / LLAMA2_7B:.2f}%)")
prefix = 2 * L * 20 * d
expect(d6, "prefix tuning, l = 20", f"{c(prefix)} at $l = 20$ ({100 * prefix / LLAMA2_7B:.3f}%)")
prompt = 20 * d
expect(d6, "prompt tuning, l = 20", f"{c(prompt)} at $l = 20$ ({100 * prompt / LLAMA2_7B:.4f}%)")
ia3 = L * (2 * d + dff)
expect(d6, "IA3", f"{c(ia3)} ({100 * ia3 / LLAMA2_7B:.4f}%)")
gpt2_biases = 12 * (3 * 768 + 768 + 4 * 768 + 768 + 2 * 768) + 768
expect(d6, "BitFit on GPT-2", f"GPT-2 124M: {c(gpt2_biases)}, {100 * gpt2_biases / GPT2:.3f}%")
lora_all16 = L * (4 * 16 * (d + d) + 3 * 16 * (d + dff))
expect(d6, "LoRA rows", f"{c(lora_qv)} ($r = 8$, `q_proj`, `v_proj`; {100 * lora_qv / LLAMA2_7B:.3f}%); "
       f"{c(lora_all16)} ($r = 16$, all linears; {100 * lora_all16 / LLAMA2_7B:.2f}%)")
dora = lora_qv + 2 * L * d
expect(d6, "DoRA", f"{c(dora)} ($r = 8$, `q_proj`, `v_proj`; {100 * dora / LLAMA2_7B:.3f}%)")
expect(d6, "QLoRA's base", f"the base shrinks from {LLAMA2_7B * 2 / GiB:.2f} to {l2_nf4 / GiB:.3f} GiB")
# One d x d layer (d = 4096)
sq = d * d
one_layer = {"adapter after it, $m = 64$": 2 * d * 64 + 64 + d, "LoRA, $r = 8$": 2 * 8 * d,
             "DoRA, $r = 8$": 2 * 8 * d + d, "IA³": d, "BitFit": d}
expect(d6, "one layer: full fine-tuning", f"| full fine-tuning | $W_0$ itself, $d^2$ | {c(sq)} | 100% |")
for name, n in one_layer.items():
    share = f"{100 * n / sq:.2f}%" if n / sq >= 1e-3 else f"{100 * n / sq:.3f}%"
    expect(d6, f"one layer: {name}", f"| {c(n)} | {share} |")
expect(d6, "one layer: NF4 bytes", f"stored in {c(round(sq * bits / 8))} bytes of NF4 instead of {c(2 * sq)} in BF16")
expect(d6, "one layer: prefix, prompt", f"adds $2ld$ per layer ({c(2 * 20 * d)} at $l = 20$), a soft prompt $ld$ "
       f"for the whole model ({c(20 * d)})")

print(f"{'all figures match' if failures == 0 else f'{failures} figure(s) differ from the pages'}")
sys.exit(1 if failures else 0)
