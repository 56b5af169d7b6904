#!/usr/bin/python3
"""What Hugging Face puts around a text with add_special_tokens=True, for every tokenizer of the
data dir: tests/goldens/tokenizers/add_special_tokens.json (checked by
tests/tokenizers/special_tokens_test.cpp).

Runs inside the Debian sid reference root (python3-tokenizers and python3-transformers there), as
make-goldens.sh starts it. For each tokenizer and each text it records
  - `rust`: the Rust crate, tokenizers.Tokenizer.from_file(tokenizer.json).encode(text) with and
    without add_special_tokens (the tokenizer.json's own post-processor);
  - `transformers`: AutoTokenizer.from_pretrained(dir)(text)["input_ids"], its class, BOS and EOS;
  - `expected`: the ids volt must give, with `expected_from` saying whose they are, and
    `transformers_differs` where transformers does not give them.
`expected` is the crate's (the tokenizer.json as written, post-processor included) except for
two. transformers 5.12 agrees with it for every tokenizer.json but Mistral's, whose
LlamaTokenizer class rebuilds the pipeline as a Metaspace one that adds no "▁" before a text
starting with a space (the file's normalizer prepends one, as SentencePiece always does).
DeepSeek-V3's tokenizer_config.json asks for BOS
(add_bos_token: true) on a tokenizer.json whose post-processor adds none: transformers 4.x
(LlamaTokenizerFast.update_post_processor) then rebuilt the template as "<bos> $A" and added it;
transformers 5 drops add_bos_token when a tokenizer.json exists, so it adds nothing. volt follows
the config, as 4.x did; its ids here are the crate's with that very template installed.
Llama 2's tokenizer.model is loaded with the tokenizer_config.json volt's save() writes for it;
its expected ids are SentencePiece's own (the reference of every .model golden) after <s>:
transformers 5's LlamaTokenizer rebuilds the model as a Metaspace pipeline that adds no
dummy-prefix "▁" to a text that starts with a space, so it differs from SentencePiece there.

Usage: python3 special_tokens_goldens.py --data DATA_DIR --out GOLDEN.json
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import sentencepiece
import tokenizers
import transformers
from tokenizers import Tokenizer, processors
from transformers import AutoTokenizer

TEXTS = ["Hello world", "  two leading spaces\nand a newline", ""]

# name -> (directory under the data dir, what to add to a copy of it for AutoTokenizer)
TOKENIZERS = {
    "gpt2": ("tokenizers/gpt2", None),
    "llama3": ("tokenizers/llama3", None),
    "llama3_1": ("tokenizers/llama3_1", None),
    "mistral": ("tokenizers/mistral", None),
    "qwen3": ("tokenizers/qwen3", None),
    "gemma3": ("tokenizers/gemma3", None),
    # As the Hub has it: a config.json with model_type deepseek_v3 routes transformers 5 to the
    # tokenizer.json as it is (without it, 5.12's LlamaTokenizer replaces the ByteLevel
    # pre-tokenizer with Metaspace: huggingface/transformers#45488).
    "deepseek_v3": ("tokenizers/deepseek_v3", {"config.json": {"model_type": "deepseek_v3"}}),
    "gptoss": ("tokenizers/gptoss", None),
    # What volt's SentencePieceTokenizer::tokenizer_config() writes beside a bare .model.
    "llama2": ("tokenizers/llama2", {"tokenizer_config.json": {
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
        "unk_token": "<unk>", "pad_token": None, "add_bos_token": True, "add_eos_token": False,
        "legacy": True, "clean_up_tokenization_spaces": False, "sp_model_kwargs": {}}}),
}


def package_version(name):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def token_of(tok, attr):
    name = getattr(tok, attr)
    return None if name is None else {"token": str(name), "id": getattr(tok, attr + "_id")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    out = {
        "comment": "Written by scripts/tokenizer-goldens/special_tokens_goldens.py: the ids Hugging "
                   "Face gives with and without add_special_tokens, and the ids volt must give "
                   "(expected, with expected_from naming whose they are).",
        "references": {
            "rust": f"tokenizers@{tokenizers.__version__} (Debian python3-tokenizers "
                    f"{package_version('python3-tokenizers')})",
            "transformers": f"transformers@{transformers.__version__} (Debian python3-transformers "
                            f"{package_version('python3-transformers')})",
        },
        "texts": TEXTS,
        "tokenizers": {},
    }
    for name, (rel, extra) in TOKENIZERS.items():
        src = os.path.join(args.data, rel)
        work = tempfile.mkdtemp()
        for f in os.listdir(src):
            if f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"):
                shutil.copy(os.path.join(src, f), work)
        for f, content in (extra or {}).items():
            with open(os.path.join(work, f), "w", encoding="utf-8") as fh:
                json.dump(content, fh)
        auto = AutoTokenizer.from_pretrained(work)
        rust = None
        if os.path.exists(os.path.join(src, "tokenizer.json")):
            rust = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
        config = {}
        if os.path.exists(os.path.join(work, "tokenizer_config.json")):
            config = json.load(open(os.path.join(work, "tokenizer_config.json"), encoding="utf-8"))

        # DeepSeek-V3: the template transformers 4.x built from add_bos_token, in the crate.
        expected_from = f"tokenizers@{tokenizers.__version__}"
        with_bos_template = None
        if name == "deepseek_v3":
            bos = config["bos_token"]["content"]
            with_bos_template = Tokenizer.from_file(os.path.join(src, "tokenizer.json"))
            with_bos_template.post_processor = processors.TemplateProcessing(
                single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                special_tokens=[(bos, with_bos_template.token_to_id(bos))])
            expected_from = (f"tokenizers@{tokenizers.__version__} with transformers 4.x's template "
                             "for add_bos_token: true (transformers 5 adds no BOS here)")

        spm = None
        if name == "llama2":
            spm = sentencepiece.SentencePieceProcessor(model_file=os.path.join(src, "tokenizer.model"))
            expected_from = f"sentencepiece@{sentencepiece.__version__} after <s> (add_bos_token)"

        cases = []
        for text in TEXTS:
            case = {
                "text": text,
                "transformers": auto(text)["input_ids"],
                "transformers_without": auto(text, add_special_tokens=False)["input_ids"],
            }
            if rust is not None:
                case["rust"] = rust.encode(text).ids
                case["rust_without"] = rust.encode(text, add_special_tokens=False).ids
            if with_bos_template:
                case["expected"] = with_bos_template.encode(text).ids
            elif spm:
                case["expected"] = [spm.bos_id()] + spm.encode(text)
            else:
                case["expected"] = case["rust"]
            cases.append(case)
            print(f"[special] {name} {text!r}: {case['expected']}")
        out["tokenizers"][name] = {
            "path": rel,
            "transformers_class": type(auto).__name__,
            "bos": token_of(auto, "bos_token"),
            "eos": token_of(auto, "eos_token"),
            "config": {k: config[k] for k in ("bos_token", "eos_token", "add_bos_token", "add_eos_token")
                       if k in config},
            "expected_from": expected_from,
            "transformers_differs": [c["text"] for c in cases if c["transformers"] != c["expected"]],
            "cases": cases,
        }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
