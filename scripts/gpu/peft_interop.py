#!/usr/bin/env python3
"""volt's LoRA artifacts checked by Hugging Face's own code, on the GPU machine's Python (PEFT is
not in Debian, so this cannot run in the sid root):

  load      peft.PeftModel.from_pretrained(base, DIR_ADAPTER) takes every tensor of volt's
            adapter_model.safetensors, value for value, and reports no missing or unexpected key
  merge     PEFT's merge_and_unload() equals the weights `volt merge` wrote to DIR_MERGED
            (float32, |a - b| <= 1e-6 + 1e-5 |b|), the same tensor names
  loss      transformers' mean NLL of the ids (DIR_MERGED, float32 and bfloat16 on --device)
            equals `volt score --ids ... --json`'s (volt computes in float32 on the CPU):
            within 1e-4 in float32 and 3e-2 in bfloat16. volt prints no logits (volt score gives
            the mean NLL, volt generate the greedy ids), so these two stand for "logits equal"
  greedy    transformers' greedy continuation (a full forward per token, float32) equals
            `volt generate --temperature 0 --json`'s new_ids; the bf16 one is reported beside it

  scripts/gpu/peft_interop.py DIR_ADAPTER DIR_BASE DIR_MERGED --volt-score S.json \
      --volt-generate G.json --ids "1 2 3 ..." [--device cuda] [--json OUT]

Exit status 0 when every check passed, 1 when one failed, 2 for bad arguments, 3 when peft is not
importable (the load and merge checks then fail with that message; loss and greedy still run).
"""
import argparse
import json
import logging
import math
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import gpu_common as g  # noqa: E402

TAG = "peft_interop"
TOL_F32, TOL_BF16 = 1e-4, 3e-2


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("adapter", help="volt's LoRA checkpoint (adapter_config.json + adapter_model.safetensors)")
    ap.add_argument("base", help="the base model directory the adapter was trained on")
    ap.add_argument("merged", help="what `volt merge --adapter DIR_ADAPTER` wrote")
    ap.add_argument("--volt-score", required=True, help="`volt score --model DIR_MERGED --ids ... --json` output")
    ap.add_argument("--volt-generate", required=True, help="`volt generate --model DIR_MERGED --temperature 0 --json`")
    ap.add_argument("--ids", required=True, help="the token ids volt scored, separated by spaces")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    for d in (a.adapter, a.base, a.merged):
        if not os.path.isdir(d):
            ap.error(f"{d}: no such directory")
    try:
        a.ids = [int(x) for x in a.ids.split()]
    except ValueError:
        ap.error(f"--ids {a.ids!r}: not integers separated by spaces")
    if len(a.ids) < 2:
        ap.error("--ids needs at least 2 ids")
    return a


def read_json_file(path, what, keys):
    try:
        with open(path) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        obj = json.loads(lines[-1])  # volt prints one JSON object per line; the last is the result
    except (OSError, IndexError, json.JSONDecodeError) as e:
        g.die(TAG, f"{what} {path}: not volt's JSON output ({e})")
    missing = [k for k in keys if k not in obj]
    if missing:
        g.die(TAG, f"{what} {path}: no {', '.join(missing)} in {obj}")
    return obj


def load_safetensors_dir(d):
    from safetensors.torch import load_file
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for name in files:
        out.update(load_file(os.path.join(d, name)))
    return out


class Captured(logging.Handler):
    """Every message transformers / PEFT log or warn while loading (a missing key is one)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def load_model(d, dtype, device):
    from transformers import AutoModelForCausalLM
    try:
        m = AutoModelForCausalLM.from_pretrained(d, dtype=dtype)
    except TypeError:
        m = AutoModelForCausalLM.from_pretrained(d, torch_dtype=dtype)
    return m.to(device).eval()


@torch.no_grad()
def mean_nll(model, ids, device):
    x = torch.tensor([ids], device=device)
    logits = model(input_ids=x).logits.float()
    logp = torch.log_softmax(logits[0, :-1].double(), dim=-1)
    return float(-logp.gather(1, x[0, 1:, None]).mean())


@torch.no_grad()
def greedy(model, prompt, n, device):
    ids = list(prompt)
    for _ in range(n):
        logits = model(input_ids=torch.tensor([ids], device=device)).logits
        ids.append(int(logits[0, -1].float().argmax()))
    return ids[len(prompt):]


def check_peft(a, device):
    checks = {}
    try:
        import peft
    except ImportError:
        msg = f"peft is not importable in this python3 ({sys.executable})"
        return {"load": (False, msg), "merge": (False, msg)}, False
    from safetensors.torch import load_file
    handler = Captured()
    for name in ("transformers", "peft"):
        logging.getLogger(name).addHandler(handler)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        base = load_model(a.base, torch.float32, device)
        model = peft.PeftModel.from_pretrained(base, a.adapter)
    messages = handler.messages + [str(w.message) for w in caught]
    loaded = peft.get_peft_model_state_dict(model)
    stored = load_file(os.path.join(a.adapter, "adapter_model.safetensors"))
    # PEFT's state dict names drop the adapter name ("lora_A.default.weight" -> "lora_A.weight").
    missing = sorted(set(stored) - set(loaded))
    unexpected = sorted(set(loaded) - set(stored))
    differ = [k for k in set(stored) & set(loaded) if not torch.equal(stored[k].float(), loaded[k].float().cpu())]
    problems = [m for m in messages if "missing" in m.lower() or "unexpected" in m.lower() or "mismatch" in m.lower()]
    ok = not (missing or unexpected or differ or problems)
    note = f"{len(stored)} adapter tensors" + ("" if ok else f"; missing {missing[:3]}, unexpected {unexpected[:3]}, "
                                                            f"different {differ[:3]}, messages {problems[:2]}")
    checks["load"] = (ok, note)

    merged = {k: v.float().cpu() for k, v in model.merge_and_unload().state_dict().items()}
    volt = {k: v.float() for k, v in load_safetensors_dir(a.merged).items()}
    tied = getattr(base.config, "tie_word_embeddings", False)
    names_peft = set(merged) - ({"lm_head.weight"} if tied else set())
    names_volt = set(volt) - ({"lm_head.weight"} if tied else set())
    worst, worst_name = 0.0, ""
    bad = []
    for k in sorted(names_peft & names_volt):
        if merged[k].shape != volt[k].shape:
            bad.append(f"{k} shape {tuple(merged[k].shape)} vs {tuple(volt[k].shape)}")
            continue
        d = (merged[k] - volt[k]).abs()
        excess = float((d - 1e-5 * volt[k].abs()).max()) if d.numel() else 0.0
        if excess > 1e-6:
            bad.append(f"{k} max |Δ| {float(d.max()):.2e}")
        if d.numel() and float(d.max()) > worst:
            worst, worst_name = float(d.max()), k
    only = sorted(names_peft ^ names_volt)
    ok = not bad and not only
    checks["merge"] = (ok, f"{len(names_peft & names_volt)} tensors, max |Δ| {worst:.1e} ({worst_name or '-'})"
                       + ("" if ok else f"; {bad[:3]}; only in one: {only[:4]}"))
    return checks, True


def main(argv=None):
    a = parse_args(argv)
    device = g.pick_device(TAG, a.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
    score = read_json_file(a.volt_score, "--volt-score", ["mean_nll"])
    gen = read_json_file(a.volt_generate, "--volt-generate", ["prompt_ids", "new_ids"])

    checks, have_peft = check_peft(a, device)
    out = {}
    for name, dtype, tol in (("float32", torch.float32, TOL_F32), ("bfloat16", torch.bfloat16, TOL_BF16)):
        model = load_model(a.merged, dtype, device)
        nll = mean_nll(model, a.ids, device)
        d = abs(nll - score["mean_nll"])
        ok = d <= tol and math.isfinite(nll)
        checks[f"loss {name}"] = (ok, f"transformers {nll:.6f} vs volt {score['mean_nll']:.6f}: |Δ| {d:.1e} "
                                      f"(tolerance {tol:g})")
        ids = greedy(model, gen["prompt_ids"], len(gen["new_ids"]), device)
        same = ids == gen["new_ids"]
        # Greedy must match in float32; bf16 rounding may flip a near tie, so it is reported only.
        checks[f"greedy {name}"] = (same or name == "bfloat16",
                                    f"{len(ids)} tokens " + ("equal" if same else f"differ: volt {gen['new_ids']} "
                                                                                  f"vs {ids}"))
        out[name] = {"nll": nll, "greedy": ids}
        del model
    failed = [k for k, (ok, _) in checks.items() if not ok]
    for k, (ok, note) in checks.items():
        print(f"[{TAG}] {'ok  ' if ok else 'FAIL'} {k}: {note}", file=sys.stderr, flush=True)
    g.write_result(a.json, {"checks": {k: {"ok": ok, "note": n} for k, (ok, n) in checks.items()},
                            "transformers": out, "volt": {"score": score, "generate": gen}, "device": str(device),
                            "failed": failed, "versions": g.versions()})
    sys.exit(0 if not failed else (3 if not have_peft else 1))


if __name__ == "__main__":
    main()
