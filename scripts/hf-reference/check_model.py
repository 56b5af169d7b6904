#!/usr/bin/env python3
"""Loads a model directory the way a Hugging Face user would and prints ONE JSON object saying
whether transformers took it as it is, and what it computes: the reference for volt's exports.

Runs inside the sid reference root (scripts/hf-reference/check-model.sh does that):

  check_model.py MODEL_DIR [--tokenizer DIR] [--ids 1,2,3 | --text STR] [--prompt-ids 1,2
                 --max-new-tokens N [--ignore-eos]] [--dtype bfloat16|float16] [--tokenizers-lib]
  check_model.py --batch JOBS.json     # JOBS.json: a list of argument lists, one check each; prints
                                       # a JSON list of results (imports paid once: make interop)

Exit status: 0 when the model loaded cleanly and every asked-for part ran; 1 when loading reported
a problem (missing/unexpected/mismatched weights, bad config values) or a part failed (the JSON
still says which, under "errors"); 2 for bad arguments.
"""
import argparse
import json
import os
import sys
import traceback

import torch
import transformers

from hf_common import captured_messages, greedy_generate, load_model, problems, token_nll

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def id_list(text):
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of token ids: {text!r}")


def tokenizer_section(tok_dir, text, use_tokenizers_lib, errors):
    section = {"dir": tok_dir}
    messages = []
    try:
        with captured_messages(messages):
            tok = transformers.AutoTokenizer.from_pretrained(tok_dir)
            section["class"] = type(tok).__name__
            if text is not None:
                section["ids_with_special"] = tok(text, add_special_tokens=True)["input_ids"]
                section["ids_without_special"] = tok(text, add_special_tokens=False)["input_ids"]
                section["decoded"] = tok.decode(section["ids_without_special"])
    except Exception as e:  # a model without a tokenizer is still checkable
        section["error"] = f"{type(e).__name__}: {e}"
        errors.append(f"tokenizer: {section['error']}")
    section["messages"] = messages
    if use_tokenizers_lib:
        lib = {}
        path = os.path.join(tok_dir, "tokenizer.json")
        try:
            import tokenizers
            if not os.path.isfile(path):
                raise FileNotFoundError(f"no tokenizer.json in {tok_dir}")
            t = tokenizers.Tokenizer.from_file(path)
            lib["version"] = tokenizers.__version__
            if text is not None:
                lib["ids_with_special"] = t.encode(text, add_special_tokens=True).ids
                lib["ids_without_special"] = t.encode(text, add_special_tokens=False).ids
                if "ids_with_special" in section:
                    lib["agrees_with_auto_tokenizer"] = (
                        lib["ids_with_special"] == section["ids_with_special"]
                        and lib["ids_without_special"] == section["ids_without_special"])
        except Exception as e:
            lib["error"] = f"{type(e).__name__}: {e}"
            errors.append(f"tokenizers-lib: {lib['error']}")
        section["tokenizers_lib"] = lib
    return section


def compute_section(model_dir, dtype_name, ids, prompt, max_new_tokens, stop_at_eos, errors):
    section = {}
    try:
        model, info, messages = load_model(model_dir, dtype=DTYPES[dtype_name])
    except Exception as e:
        section["error"] = f"{type(e).__name__}: {e}"
        errors.append(f"{dtype_name} load: {section['error']}")
        return section, None
    vocab = model.get_input_embeddings().num_embeddings
    for what, seq in (("scored ids", ids), ("prompt ids", prompt)):
        bad = [t for t in seq or [] if not 0 <= t < vocab]
        if bad:
            errors.append(f"{dtype_name}: {what} {bad[:5]} outside the model's vocabulary [0, {vocab})")
            return section, (model, info, messages)
    section["messages"] = []
    with captured_messages(section["messages"]):
        if ids is not None:
            nll, hf_loss = token_nll(model, torch.tensor([ids]))
            section["nll"] = float(nll.mean())
            section["nll_hf_loss"] = hf_loss
            section["n_predicted_tokens"] = nll.numel()
        if prompt is not None:
            section["generate"] = {"prompt_ids": prompt, "max_new_tokens": max_new_tokens,
                                   "stop_at_eos": stop_at_eos,
                                   "new_ids": greedy_generate(model, prompt, max_new_tokens, stop_at_eos)}
    return section, (model, info, messages)


def parser():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--tokenizer", help="tokenizer directory (default: MODEL_DIR)")
    ap.add_argument("--ids", type=id_list, help="token ids to score (mean NLL)")
    ap.add_argument("--text", help="text to tokenize (and score when --ids is not given)")
    ap.add_argument("--prompt-ids", type=id_list, help="prompt for greedy generation")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--ignore-eos", action="store_true", help="generate all max-new-tokens")
    ap.add_argument("--dtype", choices=["bfloat16", "float16"], help="also compute in this dtype")
    ap.add_argument("--tokenizers-lib", action="store_true",
                    help="also encode --text with tokenizers.Tokenizer.from_file(tokenizer.json)")
    return ap


def check(argv):
    """One check: (result dict, exit status)."""
    ap = parser()
    args = ap.parse_args(argv)
    if not os.path.isdir(args.model_dir):
        ap.error(f"{args.model_dir}: not a directory")
    if args.max_new_tokens < 1:
        ap.error("--max-new-tokens must be at least 1")

    torch.manual_seed(0)
    errors = []
    result = {"model_dir": os.path.abspath(args.model_dir), "transformers": transformers.__version__,
              "torch": torch.__version__, "attn_implementation": "eager"}
    try:
        tok_dir = args.tokenizer or args.model_dir
        if args.text is not None or args.tokenizers_lib or args.tokenizer:
            result["tokenizer"] = tokenizer_section(tok_dir, args.text, args.tokenizers_lib, errors)
        ids = args.ids
        if ids is None and args.text is not None:
            ids = result["tokenizer"].get("ids_with_special")
        if ids is not None and len(ids) < 2:
            errors.append("scoring needs at least 2 token ids")
            ids = None

        section, loaded = compute_section(args.model_dir, "float32", ids, args.prompt_ids,
                                          args.max_new_tokens, not args.ignore_eos, errors)
        if loaded is not None:
            model, info, messages = loaded
            found = problems(messages) + [f"{k}: {v}" for k, v in info.items() if v]
            result["load"] = {"ok": not found, "problems": found, "messages": messages,
                              "loading_info": info, "model_type": model.config.model_type,
                              "class": type(model).__name__,
                              "num_parameters": model.num_parameters()}
            if found:
                errors.append("load reported problems")
        result["float32"] = section
        if args.dtype:
            result[args.dtype], _ = compute_section(args.model_dir, args.dtype, ids, args.prompt_ids,
                                                    args.max_new_tokens, not args.ignore_eos, errors)
    except Exception:
        errors.append(traceback.format_exc(limit=3).strip())
    result["errors"] = errors
    result["ok"] = not errors
    return result, 0 if not errors else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--batch":
        with open(sys.argv[2]) as f:
            jobs = json.load(f)
        results = []
        for argv in jobs:
            try:
                result, _ = check(argv)
            except SystemExit as e:  # argparse's errors
                result = {"argv": argv, "ok": False, "errors": [f"bad arguments (exit {e.code})"]}
            result["argv"] = argv
            results.append(result)
            print(f"[check_model] {len(results)}/{len(jobs)} {argv[0]}: {'ok' if result['ok'] else 'FAILED'}",
                  file=sys.stderr, flush=True)
        print(json.dumps(results, indent=1))
        return 0 if all(r["ok"] for r in results) else 1
    result, code = check(sys.argv[1:])
    print(json.dumps(result, indent=1))
    return code


if __name__ == "__main__":
    sys.exit(main())
