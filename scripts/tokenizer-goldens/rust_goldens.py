#!/usr/bin/python3
"""The Rust `tokenizers` crate (Debian's python3-tokenizers, the crate transformers runs) as the
primary reference for every tokenizer.json golden.

Runs inside the Debian sid reference root (scripts/reference-roots, python3-tokenizers there), not
on the host: make-goldens.sh starts it through in-root.sh. For each tokenizer of TOKENIZERS and each
text of corpora.json it writes what `Tokenizer.from_file(path).encode(text, add_special_tokens=False)`
gives, whether `decode(ids, skip_special_tokens=False)` gives the text back, and, for texts under
64 KB, the crate's offsets (character offsets, turned into UTF-8 byte offsets here) to a scratch
JSON per tokenizer that goldens.mjs turns into the committed goldens.

Usage: python3 rust_goldens.py --data DATA_DIR --goldens GOLDENS_TOKENIZERS_DIR --stdlib DIR --out SCRATCH_DIR
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import tokenizers
from tokenizers import Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
OFFSETS_LIMIT = 64 * 1024  # the same limit as goldens.mjs's full id lists

# The tokenizer.json files the crate checks (name -> path under the data dir).
TOKENIZERS = {
    "gpt2": "tokenizers/gpt2/tokenizer.json",
    "llama3": "tokenizers/llama3/tokenizer.json",
    "mistral": "tokenizers/mistral/tokenizer.json",
    "qwen3": "tokenizers/qwen3/tokenizer.json",
    "gemma3": "tokenizers/gemma3/tokenizer.json",
    "llama3_1": "tokenizers/llama3_1/tokenizer.json",
    "deepseek_v3": "tokenizers/deepseek_v3/tokenizer.json",
    "gptoss": "tokenizers/gptoss/tokenizer.json",
}


def text_path(spec, args):
    if spec.startswith("stdlib:"):
        return os.path.join(args.stdlib, spec[len("stdlib:"):])
    if spec.startswith("golden:"):
        return os.path.join(args.goldens, spec[len("golden:"):])
    return os.path.join(args.data, spec)


def package_version(name):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def read_testvectors(stem):
    """llama.cpp's tests/test-tokenizer-0.cpp reading (as spm_goldens.py reads them)."""
    raw = open(stem + ".inp", "rb").read().decode("utf-8")
    sep = "\n__ggml_vocab_test__\n"
    inputs, pos = [], 0
    while pos < len(raw):
        nxt = raw.find(sep, pos)
        if nxt < 0:
            inputs.append(raw[pos:])
            break
        inputs.append(raw[pos:nxt])
        pos = nxt + len(sep)
    lines = open(stem + ".out", "rb").read().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    expected = [[int(t) for t in line.split()] for line in lines]
    if len(inputs) != len(expected):
        sys.exit(f"{stem}: {len(inputs)} inputs but {len(expected)} expected lines")
    return inputs, expected


def check_gpt2_testvectors(data, reference):
    """llama.cpp's ggml-vocab-gpt-2 vectors are the crate's ids on GPT-2's tokenizer.json."""
    tok = Tokenizer.from_file(os.path.join(data, TOKENIZERS["gpt2"]))
    inputs, expected = read_testvectors(os.path.join(data, "tokenizers/testvectors/ggml-vocab-gpt-2.gguf"))
    bad = 0
    for i, (text, want) in enumerate(zip(inputs, expected)):
        got = tok.encode(text, add_special_tokens=False).ids
        if got != want:
            bad += 1
            print(f"[rust] testvector {i} {text!r}: expected {want} got {got}")
    print(f"[rust] ggml-vocab-gpt-2: {len(inputs) - bad}/{len(inputs)} cases agree with {reference}")
    if bad:
        sys.exit(1)


def byte_offsets(text, char_offsets):
    """The crate's (start, end) character offsets as UTF-8 byte offsets into text."""
    starts = [0] * (len(text) + 1)
    b = 0
    for i, ch in enumerate(text):
        starts[i] = b
        b += len(ch.encode("utf-8"))
    starts[len(text)] = b
    return [[starts[s], starts[e]] for s, e in char_offsets]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--goldens", required=True, help="tests/goldens/tokenizers")
    ap.add_argument("--stdlib", required=True, help="the python3.11 stdlib the stdlib: texts come from")
    ap.add_argument("--out", required=True, help="a directory for one <tokenizer>.json each")
    ap.add_argument("--only", help="one tokenizer name")
    args = ap.parse_args()

    reference = f"tokenizers@{tokenizers.__version__}"
    print(f"[rust] {reference} (Debian python3-tokenizers {package_version('python3-tokenizers')})")
    if not args.only or args.only == "gpt2":
        check_gpt2_testvectors(args.data, reference)
    corpora = json.load(open(os.path.join(HERE, "corpora.json"), encoding="utf-8"))["texts"]
    texts = {}
    for c in corpora:
        raw = open(text_path(c["text"], args), "rb").read()
        texts[c["name"]] = (raw, raw.decode("utf-8"))
    os.makedirs(args.out, exist_ok=True)
    for name, rel in TOKENIZERS.items():
        if args.only and args.only != name:
            continue
        tok = Tokenizer.from_file(os.path.join(args.data, rel))
        results = {}
        for c in corpora:
            raw, text = texts[c["name"]]
            enc = tok.encode(text, add_special_tokens=False)
            ids = enc.ids
            r = {
                "text_sha256": hashlib.sha256(raw).hexdigest(),
                "ids": ids,
                "round_trip": tok.decode(ids, skip_special_tokens=False) == text,
            }
            if len(raw) < OFFSETS_LIMIT:
                r["offsets"] = byte_offsets(text, enc.offsets)
            results[c["name"]] = r
            print(f"[rust] {name} {c['name']}: {len(ids)} ids, round trip {r['round_trip']}")
        with open(os.path.join(args.out, f"{name}.json"), "w", encoding="utf-8") as f:
            json.dump({"reference": reference, "tokenizer_path": rel, "results": results}, f)


if __name__ == "__main__":
    sys.exit(main())
