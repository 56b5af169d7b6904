#!/usr/bin/env python3
"""What 8 and 4 bits cost: a volt checkpoint exported as GGUF f16 and q8_0 (volt export) and
Q4_K_M (llama-quantize on volt's f16 file), each teacher-forced by llama.cpp over a held-out
Tiny Shakespeare passage and compared with transformers (float32) on the checkpoint itself (volt's
weights; volt's scores equal transformers' to 1e-5, docs/interop.md): top-1 agreement and mean
|Δ log-prob| of llama.cpp's most likely token, max |Δ| over its top 5. Prints a markdown table.

  scripts/hf-reference/gguf_quant_quality.py --model runs/x/checkpoints/last [--volt build/bin/volt]
      [--work build/gguf-quant] [--tokens 128]
"""
import argparse
import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"[gguf-quant] {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()[-1500:]}")
    return p.stdout


def in_root(cmd, work):
    return run([os.path.join(REPO, "scripts/reference-roots/in-root.sh"), "sid"] + cmd,
               env=dict(os.environ, VOLT_IN_ROOT_BIND=work))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--volt", default=os.path.join(REPO, "build/bin/volt"))
    ap.add_argument("--work", default=os.path.join(REPO, "build/gguf-quant"))
    ap.add_argument("--tokens", type=int, default=128)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    work = os.path.realpath(args.work)
    model = os.path.realpath(args.model)
    files = {}
    for dtype in ("f16", "q8_0"):
        files[dtype] = f"{work}/model-{dtype}.gguf"
        run([args.volt, "export", "--format", "gguf", "--in", model, "--out", files[dtype], "--dtype", dtype])
    files["Q4_K_M"] = f"{work}/model-Q4_K_M.gguf"
    in_root(["llama-quantize", files["f16"], files["Q4_K_M"], "Q4_K_M"], work)
    data = os.environ.get("VOLT_DATA_DIR") or os.path.join(REPO, "..", "shared", "data")
    lines = open(os.path.join(data, "corpora/tinyshakespeare/input.txt")).read().splitlines()
    passage = "\n".join(lines[1999:2040])
    ids = [int(x) for x in run([args.volt, "tokenize", "--tokenizer", model, "--text", passage,
                                "--add-special-tokens"]).split()][:args.tokens]
    jobs = [{"gguf": f, "prompt": "ROMEO:", "n_predict": 1, "score_ids": ids, "n_probs": 5, "hf": model}
            for f in files.values()]
    path = os.path.join(work, "jobs.json")
    json.dump(jobs, open(path, "w"))
    results = json.loads(in_root(["python3", os.path.join(REPO, "scripts/hf-reference/llama_server_batch.py"),
                                  path], work))
    print("| file | size | top-1 agreement | mean \\|Δ log-prob\\| (top-1) | max \\|Δ\\| (top 5) |")
    print("| --- | --- | --- | --- | --- |")
    for (name, f), r in zip(files.items(), results):
        c = r.get("vs_transformers")
        if not c:
            print(f"| {name} | | error: {r.get('error')} | | |")
            continue
        print(f"| {name} | {os.path.getsize(f) / 1e6:.1f} MB | {c['top1_agreement']:.1%} of {c['positions']} | "
              f"{c['mean_abs_dlogprob_top1']:.4f} | {c['max_abs_dlogprob']:.3f} |")


if __name__ == "__main__":
    main()
