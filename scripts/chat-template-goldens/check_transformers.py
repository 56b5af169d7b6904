#!/usr/bin/env python3
"""Checks the chat template goldens against transformers itself.

make_goldens.py renders with jinja2 set up as transformers sets it up; this runs every golden
case through transformers' own tokenizer.apply_chat_template(..., tokenize=False) (and, for the
templates with {% generation %} marks, through render_jinja_template with
return_assistant_tokens_mask=True) and reports every difference. It needs a Python with
transformers and tokenizers, e.g. the Debian sid reference root:

    scripts/reference-roots/in-root.sh sid python3 scripts/chat-template-goldens/check_transformers.py

Exit status 0 when every case agrees.
"""
import json
import os
import sys

import transformers
from transformers import AutoTokenizer
from transformers.utils import chat_template_utils

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("VOLT_DATA_DIR") or os.path.join(ROOT, "..", "shared", "data")
GOLDENS = os.path.join(ROOT, "tests", "goldens", "chat_templates")


def byte_spans(text, spans):
    return [[len(text[:b].encode("utf-8")), len(text[:e].encode("utf-8")), -1] for b, e in spans]


def main():
    print(f"transformers {transformers.__version__}")
    conversations = json.load(open(os.path.join(GOLDENS, "conversations.json"), encoding="utf-8"))
    checked = differences = 0
    for name in sorted(os.listdir(GOLDENS)):
        if not name.endswith(".json") or name in ("conversations.json", "language.json"):
            continue
        golden = json.load(open(os.path.join(GOLDENS, name), encoding="utf-8"))
        source = golden["source"]
        template = None
        if "tokenizer_config" in source:
            tok = AutoTokenizer.from_pretrained(os.path.join(DATA, source["tokenizer_config"]))
        else:
            tok = AutoTokenizer.from_pretrained(os.path.join(DATA, source["special_tokens_of"]))
            template = open(os.path.join(GOLDENS, source["file"]), encoding="utf-8").read()
        template_text = template if template is not None else tok.chat_template
        for case in golden["cases"]:
            messages = conversations[case["conversation"]]
            kwargs = dict(case["extra"])
            try:
                text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=case["add_generation_prompt"],
                                               tools=case["tools"], chat_template=template, **kwargs)
                got = {"text": text}
            except Exception as e:
                got = {"error": type(e).__name__ + ": " + str(e)}
            checked += 1
            if "error" in case:
                same = "error" in got
            else:
                same = got.get("text") == case["text"]
            if same and case.get("span_method") == "generation_marks":
                rendered, indices = chat_template_utils.render_jinja_template(
                    conversations=[messages], chat_template=template_text, return_assistant_tokens_mask=True,
                    add_generation_prompt=case["add_generation_prompt"], tools=case["tools"],
                    **{**tok.special_tokens_map, **kwargs})
                same = byte_spans(rendered[0], indices[0]) == case["spans"]
                if not same:
                    got = {"spans": byte_spans(rendered[0], indices[0])}
            if not same:
                differences += 1
                print(f"DIFFERENT {golden['template']} {case['id']}:\n  golden: {json.dumps({k: case[k] for k in ('text', 'error', 'spans') if k in case}, ensure_ascii=False)[:400]}\n  transformers: {json.dumps(got, ensure_ascii=False)[:400]}")
    print(f"{checked} cases, {differences} different")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
