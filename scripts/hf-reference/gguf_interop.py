#!/usr/bin/env python3
"""make interop, GGUF part: what `volt export --format gguf` writes, read and run by llama.cpp
(gguf-dump and llama-completion 0.7.0 in the Debian sid reference root).

For every family, a tiny model (volt init on the family's tiny preset with a real tokenizer, then
volt fit on Tiny Shakespeare so that its next-token choices are not coin flips) is exported at f32,
f16 and q8_0, then:

  reads       gguf-dump reads every file (f32, f16, q8_0) and finds the architecture volt wrote
  prompt ids  llama.cpp tokenizes the prompt (with its BOS) into volt's ids
  greedy f32  llama.cpp greedy (temperature 0, top-k 1, no chat template) continues the prompt
  greedy f16  with the same token ids as volt generate --temperature 0: 32, or fewer when both stop
              at an end-of-generation token

llama.cpp runs as llama-server (scripts/hf-reference/llama_server_batch.py), whose /completion
returns the ids it sampled; llama-completion prints only text.

Families whose config llama.cpp cannot compute are exported with what differs set aside and say so.

  scripts/hf-reference/gguf_interop.py [--volt build/bin/volt] [--families gpt2,llama,...] [--work DIR]

Alone it updates the GGUF section of docs/interop.md; interop.py runs it after its own checks.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))

# family -> (volt preset, tokenizer under the data dir, config.json edits). The edits keep the
# tiny model inside what llama.cpp's graph for the architecture computes, each said in the table.
FAMILIES = {
    "gpt2": ("babygpt-tiny", "tokenizers/gpt2", {}),
    "llama": ("llama-tiny", "tokenizers/llama3_1", {}),
    "mistral": ("mistral-tiny", "tokenizers/mistral", {"sliding_window": 128}),
    "qwen2": ("qwen2-tiny", "tokenizers/qwen3", {}),
    "qwen3": ("qwen3-tiny", "tokenizers/qwen3", {}),
    "qwen3_moe": ("qwen3-moe-tiny", "tokenizers/qwen3", {}),
    "mixtral": ("mixtral-tiny", "tokenizers/mistral", {}),
    "phi3": ("phi3-tiny", "tokenizers/llama2/tokenizer.model", {}),
    "gemma2": ("gemma2-tiny", "tokenizers/gemma3", {"query_pre_attn_scalar": 16}),
    "gemma3_text": ("gemma3-tiny", "tokenizers/gemma3", {"query_pre_attn_scalar": 16}),
}
PROMPT = "ROMEO: But soft, what light through yonder window breaks? It is the east, and Juliet"
NEW_TOKENS = 32
SCORE_LINES = (1999, 2012)  # a Tiny Shakespeare passage past the 40,000 characters trained on
SCORE_TOKENS = 64
TOLERANCE = {"f32": 5e-3, "f16": 5e-2}  # max |Δ log-prob|; llama.cpp keeps its KV cache in f16
GEN_DTYPES = ["f32", "f16"]
DUMP_DTYPES = ["f32", "f16", "q8_0"]
SECTION_START = "<!-- gguf-interop: begin -->"
SECTION_END = "<!-- gguf-interop: end -->"


# The data dir and the failing-loudly runner are interop.py's (the same directory).
from interop import data_dir, run  # noqa: E402


def in_root(cmd, work):
    env = dict(os.environ, VOLT_IN_ROOT_BIND=work)
    return subprocess.run([os.path.join(REPO, "scripts/reference-roots/in-root.sh"), "sid"] + cmd,
                          capture_output=True, text=True, env=env)


def make_model(volt, family, work, data, keep=False):
    preset, tokenizer, edits = FAMILIES[family]
    fam = os.path.join(work, family)
    if keep and os.path.isdir(f"{fam}/runs/fit/checkpoints/last"):
        return f"{fam}/runs/fit/checkpoints/last", edits
    shutil.rmtree(fam, ignore_errors=True)
    os.makedirs(fam)
    corpus = os.path.join(fam, "plays.txt")
    with open(os.path.join(data, "corpora/tinyshakespeare/input.txt")) as f:
        open(corpus, "w").write(f.read()[:40000])
    run([volt, "init", "--preset", preset, "--tokenizer", os.path.join(data, tokenizer), "--out", f"{fam}/init"])
    if edits:
        path = f"{fam}/init/config.json"
        config = json.load(open(path))
        config.update(edits)
        json.dump(config, open(path, "w"), indent=2)
    with open(f"{fam}/fit.yaml", "w") as f:
        f.write("\n".join([
            "name: fit",
            "trainer: {max_steps: 40, log_every_n_steps: 10, enable_progress_bar: false, num_threads: 2,",
            f"          val_check_interval: 40, limit_val_batches: 1, default_root_dir: {fam}/runs}}",
            f"model: {{from_pretrained: {fam}/init}}",
            "data: {module: llm, format: text, documents: blank_line, block_size: 64, batch_size: 4,",
            f"       val_fraction: 0.1, path: {corpus}, tokenizer: {fam}/init, cache_dir: {fam}/cache}}",
            "optimizer: {lr: 1.0e-2}",
            "scheduler: {name: constant}"]) + "\n")
    run([volt, "fit", "--config", f"{fam}/fit.yaml"])
    return f"{fam}/runs/fit/checkpoints/last", edits


def volt_generate(volt, model):
    out = run([volt, "generate", "--model", model, "--prompt", PROMPT, "--temperature", "0",
               "--max-new-tokens", str(NEW_TOKENS), "--json"])
    g = json.loads(out.strip().splitlines()[-1])
    return g["prompt_ids"], g["new_ids"]


def llama_batch(jobs, work):
    """Runs jobs (llama_server_batch.py's) in one process in the reference root."""
    path = os.path.join(work, "llama-jobs.json")
    with open(path, "w") as f:
        json.dump(jobs, f)
    p = in_root(["python3", os.path.join(REPO, "scripts/hf-reference/llama_server_batch.py"), path], work)
    try:
        return json.loads(p.stdout)
    except json.JSONDecodeError:
        sys.exit(f"[gguf-interop] the llama.cpp run printed no results (exit {p.returncode}): {p.stderr[-2000:]}")


def prepare_family(volt, family, work, data, keep):
    """volt's side: the model, its exports and its greedy ids; and the llama.cpp jobs for them."""
    model, edits = make_model(volt, family, work, data, keep)
    fam = os.path.join(work, family)
    files = {}
    for dtype in DUMP_DTYPES:
        files[dtype] = f"{fam}/model-{dtype}.gguf"
        run([volt, "export", "--format", "gguf", "--in", model, "--out", files[dtype], "--dtype", dtype])
    prompt_ids, new_ids = volt_generate(volt, model)
    lines = open(os.path.join(data, "corpora/tinyshakespeare/input.txt")).read().splitlines()
    passage = "\n".join(lines[SCORE_LINES[0]:SCORE_LINES[1]])
    score_ids = [int(x) for x in run([volt, "tokenize", "--tokenizer", model, "--text", passage,
                                      "--add-special-tokens"]).split()][:SCORE_TOKENS]
    jobs = [{"dump": files[d]} for d in DUMP_DTYPES]
    jobs += [{"gguf": files[d], "prompt": PROMPT, "n_predict": NEW_TOKENS, "score_ids": score_ids, "n_probs": 5,
              "hf": os.path.realpath(model)} for d in GEN_DTYPES]
    return {"edits": edits, "prompt_ids": prompt_ids, "new_ids": new_ids, "jobs": jobs}


def compare(v, results):
    checks = {}
    dumps = results[:len(DUMP_DTYPES)]
    checks["reads"] = (all(d.get("ok") for d in dumps),
                       ", ".join(f"{t}: {d.get('architecture')}" if d.get("ok") else f"{t}: {d.get('error', '')[-200:]}"
                                 for t, d in zip(DUMP_DTYPES, dumps)))
    for dtype, r in zip(GEN_DTYPES, results[len(DUMP_DTYPES):]):
        if "error" in r:
            checks[f"greedy {dtype}"] = (False, "llama-server: " + r["error"][-300:])
            continue
        if "prompt ids" not in checks:
            same = r["prompt_ids"] == v["prompt_ids"]
            checks["prompt ids"] = (same, f"{len(v['prompt_ids'])} ids" +
                                    ("" if same else f": volt {v['prompt_ids']} vs llama.cpp {r['prompt_ids']}"))
        got, want = r["new_ids"], v["new_ids"]
        # Both stop at an end-of-generation token; volt's list then holds fewer than NEW_TOKENS.
        same = got == want
        agree = sum(a == b for a, b in zip(got, want))
        checks[f"greedy {dtype}"] = (same, f"{agree}/{len(want)} tokens, {len(set(want))} distinct" +
                                     ("" if same else f": volt {want} vs llama.cpp {got}"))
        c = r.get("vs_transformers")
        if c:
            ok = c["max_abs_dlogprob"] <= TOLERANCE[dtype]
            checks[f"log-probs {dtype}"] = (ok, f"top-1 {c['top1_agreement']:.0%} of {c['positions']}, "
                                                f"max |Δ| {c['max_abs_dlogprob']:.1e}")
    return checks


def table(rows):
    header = ["family", "reads (gguf-dump)", "prompt ids", "greedy f32", "greedy f16", "log-probs f32",
              "log-probs f16", "config edits"]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    failed = 0
    for family, checks, edits in rows:
        def cell(k):
            if k not in checks:
                return "—"
            ok, note = checks[k]
            return ("✅ " if ok else "❌ ") + note
        failed += sum(not ok for ok, _ in checks.values())
        lines.append(f"| {family} | {cell('reads')} | {cell('prompt ids')} | {cell('greedy f32')} | "
                     f"{cell('greedy f16')} | {cell('log-probs f32')} | {cell('log-probs f16')} | "
                     f"{json.dumps(edits) if edits else 'none'} |")
    return "\n".join(lines), failed


def section(rows):
    t, failed = table(rows)
    return failed, f"""{SECTION_START}
## GGUF: what volt export writes, run by llama.cpp

Generated by `scripts/hf-reference/gguf_interop.py` (run by `make interop`): each family's tiny preset
with a real tokenizer, trained 40 steps on Tiny Shakespeare, exported by `volt export --format gguf`
at f32, f16 and q8_0; gguf-dump (gguf-py 0.7.0) reads each file; llama-completion (llama.cpp 0.7.0)
(llama-server's `/completion`, temperature 0 and top-k 1, no chat template, the ids returned)
continues "{PROMPT}" greedily for {NEW_TOKENS} tokens (fewer when both stop at an end-of-generation
token), compared id for id with `volt generate --temperature 0` on the same checkpoint.
The models are tiny and briefly trained, so greedy text soon repeats itself ("distinct" counts the
different ids); the log-prob columns are the sharper test: llama.cpp teacher-forced over a
{SCORE_TOKENS}-token passage (one `/completion` per position, its top-5 next tokens) against
transformers (float32) on the checkpoint volt exported (volt's own scores equal transformers' to
1e-5 in the table above): top-1 agreement and the largest |Δ log-prob| among those top-5 (within
{TOLERANCE['f32']:g} at f32, {TOLERANCE['f16']:g} at f16: llama.cpp keeps its KV cache in f16).
"config edits" are the values changed in the tiny preset's config.json before training, to stay
inside what llama.cpp's graph for the family computes (`volt export` refuses or clamps the
preset's value: Mistral's sliding window, which llama.cpp's llama graph does not apply, and
Gemma's query scale, which llama.cpp fixes at head_dim^-1/2).

{t}

{len(rows)} families, {failed} failed checks.
{SECTION_END}
"""


def write_section(path, text):
    old = open(path).read() if os.path.exists(path) else ""
    if SECTION_START in old and SECTION_END in old:
        head, rest = old.split(SECTION_START, 1)
        tail = rest.split(SECTION_END, 1)[1]
        new = head + text.rstrip("\n") + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def run_all(volt, families, work, data, keep=False):
    prepared, jobs, rows = {}, [], []
    for family in families:
        print(f"[gguf-interop] {family}: init, fit, export, generate", file=sys.stderr, flush=True)
        try:
            prepared[family] = prepare_family(volt, family, work, data, keep)
            jobs += prepared[family]["jobs"]
        except RuntimeError as e:
            prepared[family] = {"error": str(e).replace("\n", " ")[-400:]}
    print(f"[gguf-interop] {len(jobs)} llama.cpp jobs in the reference root", file=sys.stderr, flush=True)
    results = llama_batch(jobs, work) if jobs else []
    at = 0
    for family in families:
        p = prepared[family]
        if "error" in p:
            rows.append((family, {"reads": (False, p["error"])}, FAMILIES[family][2]))
            continue
        n = len(p["jobs"])
        rows.append((family, compare(p, results[at:at + n]), p["edits"]))
        at += n
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--volt", default=os.path.join(REPO, "build/bin/volt"))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--work", default=os.path.join(REPO, "build/interop-gguf"))
    ap.add_argument("--table", default=os.path.join(REPO, "docs/interop.md"))
    ap.add_argument("--keep-models", action="store_true",
                    help="reuse a family's trained model left in --work by an earlier run")
    args = ap.parse_args()
    families = [f for f in args.families.split(",") if f]
    for f in families:
        if f not in FAMILIES:
            ap.error(f"unknown family {f!r} (known: {', '.join(FAMILIES)})")
    if not os.access(args.volt, os.X_OK):
        sys.exit(f"[gguf-interop] {args.volt} is not built: run make build")
    subprocess.run([os.path.join(REPO, "scripts/reference-roots/build-root.sh"), "sid"], check=True, stdout=sys.stderr)
    os.makedirs(args.work, exist_ok=True)
    work = os.path.realpath(args.work)
    rows = run_all(args.volt, families, work, data_dir(), args.keep_models)
    failed, text = section(rows)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump([{"family": fa, "checks": {k: {"ok": ok, "note": n} for k, (ok, n) in c.items()}, "edits": e}
                   for fa, c, e in rows], f, indent=1)
    write_section(args.table, text)
    print(table(rows)[0])
    print(f"[gguf-interop] {len(rows)} families, {failed} failed checks; table in {args.table}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
