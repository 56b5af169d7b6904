#!/usr/bin/env python3
"""make interop: what volt writes, checked by Hugging Face's own code (transformers 5.12 and
tokenizers in the Debian sid reference root).

For every decoder family volt writes, it makes the artifacts a user ships (volt init, a volt fit
checkpoint, a LoRA fine-tune merged by volt merge, volt convert to bfloat16 and float16) and checks
each with transformers (scripts/hf-reference/check_model.py, all in one process in the root):

  loads clean   AutoModelForCausalLM / AutoTokenizer load it without a message about missing,
                unexpected or mismatched weights or bad config values
  loss          volt score's mean NLL equals transformers' on the same text: to 1e-5 in float32
                (the weights as stored, computed in fp32 by both); a 16-bit artifact is also
                scored by transformers in its own dtype, within that dtype's rounding
  ids           volt tokenize --add-special-tokens equals AutoTokenizer and the tokenizers library
  greedy        volt generate --temperature 0 equals transformers' greedy generate, token for token

Writes docs/interop.md (the table) and build/interop/results.json; exits 1 if any check fails.
Never passes without checking: a reference root that cannot be built fails the run.

  scripts/hf-reference/interop.py [--volt build/bin/volt] [--families gpt2,llama,...] [--work DIR]
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# family -> (volt preset, tokenizer under the data dir). Tokenizers are each family's own where the
# data dir has one (Mixtral uses Mistral's). Phi-3's own is Llama 2's, which the data dir has only as
# a bare tokenizer.model: transformers 5.12 converts that without SentencePiece's dummy prefix (its
# ids differ from sentencepiece's, and volt's, from the first word), so Phi-3 is checked with
# Mistral's tokenizer.json, the same SentencePiece-style BPE as a file transformers reads as written.
FAMILIES = {
    "gpt2": ("babygpt-tiny", "tokenizers/gpt2"),
    "llama": ("llama-tiny", "tokenizers/llama3_1"),
    "mistral": ("mistral-tiny", "tokenizers/mistral"),
    "qwen2": ("qwen2-tiny", "tokenizers/qwen3"),
    "qwen3": ("qwen3-tiny", "tokenizers/qwen3"),
    "qwen3_moe": ("qwen3-moe-tiny", "tokenizers/qwen3"),
    "mixtral": ("mixtral-tiny", "tokenizers/mistral"),
    "gemma2": ("gemma2-tiny", "tokenizers/gemma3"),
    "gemma3_text": ("gemma3-tiny", "tokenizers/gemma3"),
    "phi3": ("phi3-tiny", "tokenizers/mistral"),
}
ARTIFACTS = ["init", "fit", "lora-merged", "bfloat16", "float16"]
TEXT = "ROMEO: But soft, what light through yonder window breaks? It is the east."
PROMPT = "JULIET: O Romeo, Romeo!"
NEW_TOKENS = 8
TOLERANCE = {"float32": 1e-5, "bfloat16": 3e-2, "float16": 5e-3}


def data_dir():
    d = os.environ.get("VOLT_DATA_DIR") or os.path.join(REPO, "..", "shared", "data")
    if not os.path.isdir(d):
        sys.exit(f"[interop] data directory {d} not found: set VOLT_DATA_DIR")
    return os.path.realpath(d)


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stderr.strip()[-2000:]}")
    return p.stdout


def recipe(path, name, pretrained, corpus, root, peft):
    lines = [f"name: {name}",
             "trainer: {max_steps: 3, log_every_n_steps: 1, enable_progress_bar: false, num_threads: 2,",
             f"          val_check_interval: 3, limit_val_batches: 1, default_root_dir: {root}}}",
             f"model: {{from_pretrained: {pretrained}" + (", peft: {type: lora, r: 4, target_modules: all-linear}" if peft else "") + "}",
             "data: {module: llm, format: text, documents: blank_line, block_size: 32, batch_size: 2,",
             f"       val_fraction: 0.1, path: {corpus}, tokenizer: {pretrained}, cache_dir: {root}/cache}}",
             "optimizer: {lr: 1.0e-2}",
             "scheduler: {name: constant}"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def make_artifacts(volt, family, work, data):
    preset, tokenizer = FAMILIES[family]
    fam = os.path.join(work, family)
    shutil.rmtree(fam, ignore_errors=True)
    os.makedirs(fam)
    corpus = os.path.join(fam, "plays.txt")
    with open(os.path.join(data, "corpora/tinyshakespeare/input.txt")) as f:
        open(corpus, "w").write(f.read()[:20000])
    out = {}
    run([volt, "init", "--preset", preset, "--tokenizer", os.path.join(data, tokenizer), "--out", f"{fam}/init"])
    out["init"] = f"{fam}/init"
    recipe(f"{fam}/fit.yaml", "fit", out["init"], corpus, f"{fam}/runs", peft=False)
    run([volt, "fit", "--config", f"{fam}/fit.yaml"])
    out["fit"] = f"{fam}/runs/fit/checkpoints/last"
    recipe(f"{fam}/lora.yaml", "lora", out["init"], corpus, f"{fam}/runs", peft=True)
    run([volt, "fit", "--config", f"{fam}/lora.yaml"])
    run([volt, "merge", "--adapter", f"{fam}/runs/lora/checkpoints/last", "--out", f"{fam}/lora-merged"])
    out["lora-merged"] = f"{fam}/lora-merged"
    for dtype in ("bfloat16", "float16"):
        run([volt, "convert", "--in", out["fit"], "--out", f"{fam}/{dtype}", "--dtype", dtype])
        out[dtype] = f"{fam}/{dtype}"
    return out


def volt_side(volt, d):
    score = json.loads(run([volt, "score", "--model", d, "--text", TEXT, "--json"]))
    ids = [int(x) for x in run([volt, "tokenize", "--tokenizer", d, "--text", TEXT, "--add-special-tokens"]).split()]
    gen = json.loads(run([volt, "generate", "--model", d, "--prompt", PROMPT, "--temperature", "0",
                          "--max-new-tokens", str(NEW_TOKENS), "--json"]).strip().splitlines()[-1])
    return {"nll": score["mean_nll"], "ids": ids, "prompt_ids": gen["prompt_ids"], "new_ids": gen["new_ids"]}


def hf_batch(jobs, work):
    path = os.path.join(work, "jobs.json")
    with open(path, "w") as f:
        json.dump(jobs, f)
    env = dict(os.environ, VOLT_IN_ROOT_BIND=work)
    subprocess.run([os.path.join(REPO, "scripts/reference-roots/build-root.sh"), "sid"], check=True, stdout=sys.stderr)
    p = subprocess.run([os.path.join(REPO, "scripts/reference-roots/in-root.sh"), "sid", "python3",
                        os.path.join(REPO, "scripts/hf-reference/check_model.py"), "--batch", path],
                       capture_output=True, text=True, env=env)
    sys.stderr.write(p.stderr[-4000:])
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.exit(f"[interop] the reference run printed no results (exit {p.returncode})")


def compare(family, artifact, v, hf):
    dtype = artifact if artifact in ("bfloat16", "float16") else None
    checks = {}
    load = hf.get("load", {})
    checks["loads clean"] = (bool(load.get("ok")), "; ".join(load.get("problems", [])[:3]) or "no messages")
    f32 = hf.get("float32", {})
    if "nll" in f32:
        d = abs(v["nll"] - f32["nll"])
        ok = d <= TOLERANCE["float32"]
        note = f"|Δ| {d:.1e}"
        if dtype and "nll" in hf.get(dtype, {}):
            d16 = abs(v["nll"] - hf[dtype]["nll"])
            ok = ok and d16 <= TOLERANCE[dtype]
            note += f"; {dtype} compute |Δ| {d16:.1e}"
        checks["loss"] = (ok, note)
    else:
        checks["loss"] = (False, "transformers did not score it: " + "; ".join(hf.get("errors", [])[:2]))
    tok = hf.get("tokenizer", {})
    lib = tok.get("tokenizers_lib", {})
    same_auto = v["ids"] == tok.get("ids_with_special")
    same_lib = v["ids"] == lib.get("ids_with_special")
    note = f"{len(v['ids'])} ids; AutoTokenizer {'=' if same_auto else '≠'}, tokenizers {'=' if same_lib else '≠'}"
    # Where transformers' AutoTokenizer and the tokenizers library disagree, tokenizers is followed.
    checks["ids"] = (same_lib or (same_auto and "error" in lib), note)
    g = f32.get("generate", {})
    same = g.get("new_ids") == v["new_ids"]
    checks["greedy"] = (same, f"{len(v['new_ids'])} tokens" + ("" if same else f": volt {v['new_ids']} vs {g.get('new_ids')}"))
    return checks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--volt", default=os.path.join(REPO, "build/bin/volt"))
    ap.add_argument("--families", default="",
                    help="comma-separated; default: every family whose tiny preset this volt has")
    ap.add_argument("--work", default=os.path.join(REPO, "build/interop"))
    ap.add_argument("--table", default=os.path.join(REPO, "docs/interop.md"))
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    for f in families:
        if f not in FAMILIES:
            ap.error(f"unknown family {f!r} (known: {', '.join(FAMILIES)})")
    if not os.access(args.volt, os.X_OK):
        sys.exit(f"[interop] {args.volt} is not built: run make build")
    if not families:  # said aloud, never silently narrower: a family without its preset is named
        for f, (preset, _) in FAMILIES.items():
            known = subprocess.run([args.volt, "memory", "--model", preset, "--json"],
                                   capture_output=True).returncode == 0
            if known:
                families.append(f)
            else:
                print(f"[interop] {f}: this volt has no preset {preset}; not checked", file=sys.stderr)
    data = data_dir()
    os.makedirs(args.work, exist_ok=True)
    work = os.path.realpath(args.work)

    volt, jobs, keys = {}, [], []
    for family in families:
        print(f"[interop] {family}: volt init, fit, LoRA + merge, convert", file=sys.stderr, flush=True)
        dirs = make_artifacts(args.volt, family, work, data)
        for artifact in ARTIFACTS:
            d = dirs[artifact]
            v = volt_side(args.volt, d)
            volt[(family, artifact)] = v
            job = [d, "--text", TEXT, "--tokenizers-lib", "--prompt-ids", ",".join(map(str, v["prompt_ids"])),
                   "--max-new-tokens", str(NEW_TOKENS)]
            if artifact in ("bfloat16", "float16"):
                job += ["--dtype", artifact]
            jobs.append(job)
            keys.append((family, artifact))
    print(f"[interop] {len(jobs)} checks in the reference root", file=sys.stderr, flush=True)
    results = hf_batch(jobs, work)

    rows, failed = [], 0
    for (family, artifact), hf in zip(keys, results):
        checks = compare(family, artifact, volt[(family, artifact)], hf)
        failed += sum(not ok for ok, _ in checks.values())
        rows.append((family, artifact, checks))
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump([{"family": fa, "artifact": ar, "checks": {k: {"ok": ok, "note": n} for k, (ok, n) in c.items()},
                    "volt": volt[(fa, ar)], "transformers": hf} for (fa, ar, c), hf in zip(rows, results)], f, indent=1)
    header = ["family", "artifact", "loads clean", "loss (volt score vs transformers)", "ids", "greedy"]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for family, artifact, c in rows:
        # One line per row: an error message's newlines and pipes would break the table.
        cell = lambda k: ("✅ " if c[k][0] else "❌ ") + " ".join(c[k][1].split()).replace("|", "\\|")
        lines.append(f"| {family} | {artifact} | {cell('loads clean')} | {cell('loss')} | {cell('ids')} | {cell('greedy')} |")
    versions = results[0].get("transformers", "?") if results else "?"
    table = "\n".join(lines)
    # The GGUF section (gguf_interop.py, which make interop runs next) is kept as it was.
    gguf_section = ""
    if os.path.exists(args.table):
        old = open(args.table).read()
        start = old.find("<!-- gguf-interop: begin -->")
        if start >= 0:
            gguf_section = "\n" + old[start:]
    with open(args.table, "w") as f:
        f.write(f"""# Interop: what volt writes, read by Hugging Face

Generated by `make interop` (`scripts/hf-reference/interop.py`): every family volt writes, every
artifact a user ships, checked by transformers {versions} and the `tokenizers` library in the Debian sid
reference root (`scripts/reference-roots/`). Text scored: "{TEXT}". Greedy: {NEW_TOKENS} tokens after
"{PROMPT}". Loss tolerance: {TOLERANCE['float32']:g} in float32 (both compute in fp32 on the stored
weights); a 16-bit artifact is also scored by transformers in its dtype (bfloat16 within
{TOLERANCE['bfloat16']:g}, float16 within {TOLERANCE['float16']:g}). Ids follow the `tokenizers` library where
it and AutoTokenizer disagree.

The other direction (tiny models written by transformers' `save_pretrained`, scored by volt) is
`ModelFamilies` / `Hf/Family.*` in the unit tests, from `tests/goldens/models/`.

{table}

{len(rows)} artifacts, {failed} failed checks.
{gguf_section}""")
    print(table)
    print(f"[interop] {len(rows)} artifacts, {failed} failed checks; table in {args.table}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
