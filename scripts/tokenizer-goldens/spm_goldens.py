#!/usr/bin/python3
"""The SentencePiece reference (Debian's python3-sentencepiece) for the Llama 2 goldens.

Encodes every text of corpora.json with tokenizers/llama2/tokenizer.model exactly as
`sp.encode(text)` does (no BOS/EOS; SentencePiece's own dummy-prefix space; "<s>"/"<unk>" written
in the text are ordinary text), checks decode(encode(text)) == text, and writes the ids to a
scratch JSON that goldens.mjs turns into the committed goldens (one writer, one format).
It also checks llama.cpp's ggml-vocab-llama-spm test vectors against SentencePiece.

Usage: /usr/bin/python3 spm_goldens.py --data DATA_DIR --goldens GOLDENS_TOKENIZERS_DIR --out SCRATCH.json
Run with Debian's python3 (the one python3-sentencepiece is installed for), not another on PATH.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
STDLIB = "/usr/lib/python3.11"
MODEL = "tokenizers/llama2/tokenizer.model"


def text_path(spec, data, goldens):
    if spec.startswith("stdlib:"):
        return os.path.join(STDLIB, spec[len("stdlib:"):])
    if spec.startswith("golden:"):
        return os.path.join(goldens, spec[len("golden:"):])
    return os.path.join(data, spec)


def read_testvectors(stem):
    """llama.cpp's tests/test-tokenizer-0.cpp reading: inputs split on "\\n__ggml_vocab_test__\\n"
    (the newlines around each separator belong to the separator), one expected line per input."""
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


def package_version(name):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--goldens", required=True, help="tests/goldens/tokenizers")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    sp = spm.SentencePieceProcessor(model_file=os.path.join(args.data, MODEL))
    reference = f"sentencepiece@{spm.__version__}"
    print(f"[spm] {reference} (Debian python3-sentencepiece {package_version('python3-sentencepiece')})")

    # llama.cpp test vectors: the expected ids are SentencePiece's encode(text), without BOS.
    stem = os.path.join(args.data, "tokenizers/testvectors/ggml-vocab-llama-spm.gguf")
    inputs, expected = read_testvectors(stem)
    bad = 0
    for i, (text, want) in enumerate(zip(inputs, expected)):
        got = sp.encode(text)
        if got != want:
            bad += 1
            print(f"[spm] testvector {i} {text!r}: expected {want} got {got}")
    print(f"[spm] ggml-vocab-llama-spm: {len(inputs) - bad}/{len(inputs)} cases agree with {reference}")
    if bad:
        sys.exit(1)

    corpora = json.load(open(os.path.join(HERE, "corpora.json"), encoding="utf-8"))["texts"]
    results = {}
    for c in corpora:
        raw = open(text_path(c["text"], args.data, args.goldens), "rb").read()
        text = raw.decode("utf-8")
        ids = sp.encode(text)
        results[c["name"]] = {
            "text_sha256": hashlib.sha256(raw).hexdigest(),
            "ids": ids,
            "round_trip": sp.decode(ids) == text,
        }
        print(f"[spm] {c['name']}: {len(ids)} ids, round trip {results[c['name']]['round_trip']}")
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"reference": reference, "tokenizer_path": MODEL, "results": results}, f)


if __name__ == "__main__":
    main()
