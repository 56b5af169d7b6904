#!/usr/bin/env python3
"""Differential checks of volt's chat templates against jinja2 (set up as transformers sets it
up, by ../make_goldens.py), on random inputs. Run by run.sh, which builds render_batch first.

  templates N SEED      random template programs (expressions, filters, tests, methods, loops,
                        macros, blocks, whitespace markers) on fixed variables: same text, or
                        both raise the same exception type
  conversations N SEED  random conversations on every golden template: same text or error, and
                        the same assistant spans as make_goldens.py computes
  spans N SEED          a unique tag in every message: each span holds its own reply's tag and
                        no other message's (no prompt byte is in a span)

Known differences are skipped, not reported: what Python prints with an address (bound methods,
generators), integers beyond 64 bits, complex numbers, and an unknown filter or test name left
in a branch that jinja2's constant folding drops (see tests/goldens/chat_templates/README.md).
"""
import copy
import json
import os
import random
import re
import subprocess
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import make_goldens as mg  # noqa: E402

warnings.simplefilter("ignore")  # jinja2's generated code for some programs makes Python warn
BATCH = os.environ.get("RENDER_BATCH", os.path.join(HERE, "render_batch"))


def volt(requests):
    p = subprocess.run([BATCH], input="".join(json.dumps(r) + "\n" for r in requests), capture_output=True, text=True)
    answers = [json.loads(line) for line in p.stdout.splitlines()]
    if p.returncode != 0 or len(answers) != len(requests):
        sys.exit(f"render_batch failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    return answers


def jinja(compiled, special, messages, add_generation_prompt, tools, extra):
    try:
        return {"text": mg.render(compiled, special, copy.deepcopy(messages), add_generation_prompt, tools, None,
                                  extra)[0]}
    except Exception as e:
        return {"error": type(e).__name__, "message": str(e)}


def same_outcome(ref, got):
    if "error" in ref:
        return "error" in got and (ref["error"] + ": ") in got["error"]
    return got.get("text") == ref["text"]


# ---------------------------------------------------------------- random template programs

STRS = ["", " ", "a", "Hello", "  pad  ", "\n\nx\n", "it's", 'say "hi"', "<|im_end|>", "{{ x }}", "é", "日本", "👍",
        "a,b,,c", "ΣΑΣ", "ß", "tab\tsep", "line1\nline2", "0", "1.5", "True", "\\", "<think>r</think>ans", " lead"]
NAMES = ["x", "y", "s", "n", "f", "lst", "d", "messages", "m", "nope", "ns", "t", "e"]
FILTERS = [("trim", []), ("length", []), ("count", []), ("upper", []), ("lower", []), ("title", []), ("capitalize", []),
           ("first", []), ("last", []), ("list", []), ("string", []), ("int", []), ("float", []), ("abs", []),
           ("round", []), ("round", ["1"]), ("tojson", []), ("tojson", ["indent=2"]), ("items", []), ("dictsort", []),
           ("default", ["'D'"]), ("d", ["'D'", "true"]), ("join", ["', '"]), ("join", []), ("reverse", []), ("sort", []),
           ("unique", []), ("min", []), ("max", []), ("sum", []), ("indent", []), ("indent", ["2", "true"]),
           ("replace", ["'a'", "'b'"]), ("center", ["9"]), ("wordcount", []), ("e", []), ("safe", []),
           ("select", []), ("reject", ["'none'"]), ("map", ["'upper'"]), ("map", ["attribute='role'"]),
           ("selectattr", ["'role'", "'equalto'", "'user'"]), ("rejectattr", ["'content'"]), ("batch", ["2"]),
           ("slice", ["2"]), ("truncate", ["5"]), ("format", ["1"]), ("attr", ["'upper'"]), ("sort", ["attribute='role'"])]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
         "boolean", "true", "false", "odd", "even", "divisibleby 2", "equalto 1", "in [1, 'a']", "lower", "upper",
         "callable", "eq 'a'", "gt 1", "lt 1", "sameas none"]
METHODS = ["strip()", "strip('a ')", "lstrip('\\n')", "rstrip()", "split()", "split(',')", "split(' ', 1)",
           "rsplit(',', 1)", "startswith('a')", "endswith(('x', 'e'))", "upper()", "lower()", "title()",
           "replace('a', 'x')", "find('l')", "count('a')", "splitlines()", "get('role')", "get('zz', 3)", "items()",
           "keys()", "values()", "index(1)", "format(1, 2)", "join(['p', 'q'])", "capitalize()", "zfill(4)",
           "isdigit()", "partition(',')", "append(1)"]
VARIABLES = {
    "messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": " Hi, there "},
                 {"role": "assistant", "content": "Hello!\n"}, {"role": "user", "content": "日本 👍"}],
    "x": 3, "y": "y-val", "s": "hello, world", "n": None, "f": 2.5, "lst": [3, 1, 2, 1], "d": {"b": 2, "a": 1},
    "e": "", "t": True,
}
PRELUDE = "{% set ns = namespace(v=0, w=[]) %}"
KNOWN = re.compile(r"built-in method|generator object|at 0x|j\)|complex|No (filter|test) named '[a-z]+\.", re.IGNORECASE)


class Programs:
    def __init__(self, rng):
        self.r = rng

    def lit(self, depth):
        r = self.r
        k = r.randrange(9)
        if k == 0:
            return str(r.choice([0, 1, -1, 2, 3, 7, 10, 255, 1000, -42]))
        if k == 1:
            return r.choice(["0.5", "1.0", "-2.5", "1e3", "3.14159", "0.1", "1e-5", "2.0", "1e16", "0.0"])
        if k == 2:
            return repr(r.choice(STRS))
        if k == 3:
            return r.choice(["true", "false", "none", "True", "None"])
        if k == 4 and depth > 0:
            return "[" + ", ".join(self.expr(depth - 1) for _ in range(r.randrange(4))) + "]"
        if k == 5 and depth > 0:
            return "{" + ", ".join(f"{r.choice(['a', 'role', 'b'])!r}: {self.expr(depth - 1)}"
                                   for _ in range(r.randrange(3))) + "}"
        if k == 6 and depth > 0:
            items = [self.expr(depth - 1) for _ in range(r.randrange(3))]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        return r.choice(NAMES)

    def expr(self, depth=3):
        r = self.r
        if depth <= 0:
            return self.lit(0)
        a = lambda: self.expr(depth - 1)  # noqa: E731
        k = r.randrange(16)
        if k == 0:
            return f"{a()} {r.choice(['+', '-', '*', '/', '//', '%', '**', '~'])} {a()}"
        if k == 1:
            return f"{a()} {r.choice(['==', '!=', '<', '<=', '>', '>=', 'in', 'not in'])} {a()}"
        if k == 2:
            return f"{a()} {r.choice(['and', 'or'])} {a()}"
        if k == 3:
            return f"not {a()}"
        if k == 4:
            return f"({a()} if {a()} else {a()})"
        if k == 5:
            name, args = r.choice(FILTERS)
            return f"{a()} | {name}" + (f"({', '.join(args)})" if args else "")
        if k == 6:
            return f"{a()} is {r.choice(['', 'not '])}{r.choice(TESTS)}"
        if k == 7:
            return f"{a()}.{r.choice(METHODS)}"
        if k == 8:
            return f"{a()}[{r.choice(['0', '-1', '1:', '::-1', ':2', '1:3', '::2', repr('role'), 'x', '-1:'])}]"
        if k == 9:
            return f"{a()}.{r.choice(['role', 'content', 'a', 'x', 'items', 'upper'])}"
        if k == 10:
            return f"-{a()}"
        if k == 11:
            return f"({a()})"
        if k == 12:
            return r.choice(["range(3)", "range(1, 5, 2)", "dict(a=1)", "namespace(v=1).v", "messages | length",
                             "loop.index", "loop.first", "strftime_now('%Y')"])
        return self.lit(depth)

    def tag(self, body):
        return "{%" + self.r.choice(["", "", "-", "+"]) + " " + body + " " + self.r.choice(["", "", "-", "+"]) + "%}"

    def out(self, e):
        return "{{" + self.r.choice(["", "", "-"]) + " " + e + " " + self.r.choice(["", "", "-"]) + "}}"

    def stmts(self, depth=3, in_loop=False):
        r = self.r
        parts = []
        for _ in range(r.randrange(1, 5)):
            k = r.randrange(12 if depth > 0 else 3)
            parts.append(r.choice(["", "", " ", "\n", "  \n", "\n  ", "\t", "\n\n"]))
            if k <= 1:
                parts.append(self.out(self.expr()))
            elif k == 2:
                parts.append(r.choice(["text", "a b", "<|x|>", "é", "-", ""]))
            elif k == 3:
                els = self.tag("else") + self.stmts(depth - 1, in_loop) if r.random() < 0.4 else ""
                parts.append(self.tag(f"if {self.expr(2)}") + self.stmts(depth - 1, in_loop) + els + self.tag("endif"))
            elif k == 4:
                target = r.choice(["m", "x", "k, v", "i"])
                it = r.choice(["messages", "lst", "d.items()", "range(3)", "s", "d", self.expr(2)])
                cond = f" if {self.expr(1)}" if r.random() < 0.2 else ""
                els = self.tag("else") + "E" if r.random() < 0.2 else ""
                parts.append(self.tag(f"for {target} in {it}{cond}") + self.stmts(depth - 1, True) + els +
                             self.tag("endfor"))
            elif k == 5:
                parts.append(self.tag(f"set {r.choice(['x', 'y', 'z', 'a, b'])} = {self.expr(2)}"))
            elif k == 6:
                parts.append(self.tag(f"set ns.{r.choice(['v', 'w'])} = {self.expr(2)}"))
            elif k == 7 and in_loop:
                parts.append(self.tag(r.choice(["break", "continue"])))
            elif k == 8:
                parts.append("{#" + r.choice(["", "-"]) + " c " + r.choice(["", "-"]) + "#}")
            elif k == 9:
                parts.append(self.tag("macro mac(p, q=2)") + self.stmts(depth - 1) + self.tag("endmacro") +
                             self.out("mac(" + self.expr(1) + ")"))
            elif k == 10:
                parts.append(self.tag("set t") + self.stmts(depth - 1, in_loop) + self.tag("endset") + self.out("t"))
            elif k == 11:
                parts.append(self.tag(f"filter {r.choice(['upper', 'trim', 'title'])}") +
                             self.stmts(depth - 1, in_loop) + self.tag("endfilter"))
        return "".join(parts)


def check_templates(n, rng):
    programs = [PRELUDE + Programs(rng).stmts() for _ in range(n)]
    variables = {k: v for k, v in VARIABLES.items() if k != "messages"}
    answers = volt([{"source": p, "messages": VARIABLES["messages"], "extra": variables} for p in programs])
    differences = 0
    for program, got in zip(programs, answers):
        try:
            ref = {"text": mg.ENV.from_string(program).render(**copy.deepcopy(VARIABLES))}
        except Exception as e:
            ref = {"error": type(e).__name__, "message": str(e)}
        if KNOWN.search(json.dumps(ref) + json.dumps(got)) or "OverflowError" in ref.get("error", "") or \
                any(len(x) > 18 for x in re.findall(r"\d+", ref.get("text", ""))):
            continue
        if not same_outcome(ref, got):
            differences += 1
            if differences <= 10:
                print(f"DIFFERENT {program!r}\n  jinja2: {json.dumps(ref, ensure_ascii=False)[:300]}\n  volt:   "
                      f"{json.dumps(got, ensure_ascii=False)[:300]}")
    return differences


# ---------------------------------------------------------------- random conversations

TEXTS = ["Hello", "", " ", "  padded  ", "\n\nlead\n", "multi\nline\ntext", "日本語のテキスト", "emoji 👍🏽🌍", "مرحبا",
         "{{ x }}", "{% if true %}y{% endif %}", "<|im_end|>", "</s>", "<|eot_id|>", "<end_of_turn>", "[INST]",
         "<think>\nthinking\n</think>\n\nanswer", "<think>x</think>", "'q' \"dq\" \\ back", "tab\there", "a" * 50,
         "ΣΑΣ", "İstanbul", "ß", "\u200b\u200d", "1.5", "None", "true"]


def random_conversation(rng):
    def message(role):
        m = {"role": role, "content": rng.choice(TEXTS)}
        if role == "assistant" and rng.random() < 0.2:
            m["reasoning_content"] = rng.choice(TEXTS)
        if role == "assistant" and rng.random() < 0.15:
            if rng.random() < 0.5:
                m["content"] = rng.choice(["", None])
            args = rng.choice([{"location": rng.choice(TEXTS)}, "{\"tz\": \"UTC\"}", {}])
            m["tool_calls"] = [{"id": "call12345", "type": "function",
                                "function": {"name": rng.choice(["get_time", "f"]), "arguments": args}}]
        if role == "tool":
            m["tool_call_id"] = "call12345"
        return m

    msgs = [message("system")] if rng.random() < 0.4 else []
    for i in range(rng.randrange(1, 7)):
        role = ("user" if i % 2 == 0 else "assistant") if rng.random() < 0.85 else \
            rng.choice(["user", "assistant", "system", "tool"])
        msgs.append(message(role))
    return msgs


def random_cases(n, rng):
    templates = {name: mg.template_and_tokens(name) for name in mg.SOURCES}
    cases = []
    for _ in range(n):
        name = rng.choice(sorted(templates))
        extra = {"enable_thinking": rng.random() < 0.5} if rng.random() < 0.3 else {}
        cases.append({"name": name, "source": templates[name][0], "special": templates[name][1],
                      "messages": random_conversation(rng), "add_generation_prompt": rng.random() < 0.5,
                      "tools": [mg.WEATHER_TOOL] if rng.random() < 0.2 else None, "extra": extra, "spans": True})
    return cases


def check_conversations(n, rng):
    cases = random_cases(n, rng)
    answers = volt([{k: v for k, v in c.items() if k != "name"} for c in cases])
    compiled = {}
    differences = 0
    for c, got in zip(cases, answers):
        tmpl = compiled.setdefault(c["name"], mg.ENV.from_string(c["source"]))
        args = (c["special"], c["messages"], c["add_generation_prompt"], c["tools"], c["extra"])
        ref = jinja(tmpl, *args)
        ok = same_outcome(ref, got)
        if ok and "text" in ref:
            def render_fn(msgs, agp):
                return mg.render(tmpl, c["special"], copy.deepcopy(msgs), agp, c["tools"], None, c["extra"])[0]
            marks = mg.render(tmpl, c["special"], copy.deepcopy(c["messages"]), c["add_generation_prompt"], c["tools"],
                              None, c["extra"])[1]
            has_generation = re.search(r"\{%[-+]?\s*generation\s*[-+]?%\}", c["source"]) is not None
            try:
                method, spans = mg.assistant_spans(render_fn, c["messages"], ref["text"], has_generation, marks,
                                                   c["special"].get("eos_token"))
                ref.update(method=method, spans=[list(s) for s in spans])
                ok = got.get("method") == method and got.get("spans") == ref["spans"]
            except ValueError as e:
                ref["span_error"] = str(e)
                ok = "span_error" in got
        if not ok:
            differences += 1
            if differences <= 10:
                print(f"DIFFERENT {c['name']} {json.dumps(c['messages'], ensure_ascii=False)[:400]}\n"
                      f"  jinja2: {json.dumps(ref, ensure_ascii=False)[:400]}\n  volt:   "
                      f"{json.dumps(got, ensure_ascii=False)[:400]}")
    return differences


def check_spans(n, rng):
    cases = random_cases(n, rng)
    for c in cases:
        for j, m in enumerate(c["messages"]):
            if isinstance(m.get("content"), str):
                m["content"] += f" TAG{j}X{rng.randrange(10 ** 6)}"
    answers = volt([{k: v for k, v in c.items() if k != "name"} for c in cases])
    violations = 0
    for c, got in zip(cases, answers):
        text = got.get("text", "").encode("utf-8")
        for begin, end, index in got.get("spans", []):
            span = text[begin:end].decode("utf-8", "replace")
            for j, m in enumerate(c["messages"]):
                tag = re.search(r"TAG\d+X\d+$", m["content"]).group(0) if isinstance(m.get("content"), str) else None
                if tag is None:
                    continue
                inside = tag in span
                if index < 0:
                    wrong = inside and m["role"] != "assistant"
                else:
                    wrong = (j != index and inside) or (j == index and tag in got["text"] and not inside)
                if wrong:
                    violations += 1
                    if violations <= 10:
                        print(f"VIOLATION {c['name']} span of message {index} ({got['method']}) vs message {j}: "
                              f"{span!r}")
    return violations


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("templates", "conversations", "spans"):
        sys.exit(__doc__)
    mode, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    found = {"templates": check_templates, "conversations": check_conversations, "spans": check_spans}[mode](n, rng)
    print(f"{mode}: {n} random cases (seed {seed}), {found} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
