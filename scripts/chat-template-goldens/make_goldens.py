#!/usr/bin/env python3
"""Writes the chat template goldens: tests/goldens/chat_templates/.

Every template is rendered on every conversation by Python's jinja2 set up exactly as
transformers' apply_chat_template sets it up (utils/chat_template_utils.py): an
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols and
{% generation %} extensions, transformers' tojson filter, raise_exception and strftime_now, and the
variables messages, tools, documents, add_generation_prompt, the special tokens of the template's
tokenizer_config.json and the extra keyword arguments. strftime_now is pinned to 26 Jul 2024 so the
goldens do not depend on today's date (volt's test pins the same date).

For each render the golden keeps the text (or the exception's type and message) and the assistant
spans, computed here independently of volt: from the template's {% generation %} marks (tracked
as transformers' AssistantTracker tracks them), else by prefix renders, else by locating each
reply in the render, by the rules in include/volt/tokenizers/chat_template.h. Spans are byte
offsets into the UTF-8 text.

    python3 scripts/chat-template-goldens/make_goldens.py      # jinja2 3.1.x, Python >= 3.8

The data come from $VOLT_DATA_DIR, else ../shared/data beside the repository.
"""
import datetime
import json
import os
import re
import sys

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.environ.get("VOLT_DATA_DIR") or os.path.join(ROOT, "..", "shared", "data")
OUT = os.path.join(ROOT, "tests", "goldens", "chat_templates")
PINNED_NOW = datetime.datetime(2024, 7, 26)

# ---------------------------------------------------------------- transformers' environment


class GenerationTracker(Extension):
    """transformers' AssistantTracker: {% generation %} renders its body and records where the
    body's text lands in the render (as a character range). Unlike transformers' it also records
    a block that starts before anything has been rendered (transformers' is_active() reads an
    empty list of rendered blocks as inactive)."""

    tags = {"generation"}

    def __init__(self, environment):
        super().__init__(environment)
        self.blocks = None
        self.spans = None

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        rv = caller()
        if self.blocks is not None:
            start = len("".join(self.blocks))
            self.spans.append((start, start + len(rv)))
        return rv


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' tojson: json.dumps without jinja2's HTML escaping.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return PINNED_NOW.strftime(format)


def make_environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_environment()
TRACKER = ENV.extensions[GenerationTracker.identifier]


def render(compiled, special_tokens, messages, add_generation_prompt, tools, documents, extra):
    """The text and the generation marks' character ranges, as apply_chat_template renders."""
    kwargs = {**special_tokens, **extra}
    blocks, spans = [], []
    TRACKER.blocks, TRACKER.spans = blocks, spans
    try:
        for block in compiled.generate(messages=messages, tools=tools, documents=documents,
                                       add_generation_prompt=add_generation_prompt, **kwargs):
            blocks.append(block)
    finally:
        TRACKER.blocks, TRACKER.spans = None, None
    return "".join(blocks), spans


def special_tokens_from_config(config):
    """The variables transformers' special_tokens_map gives a template: each *_token string or
    AddedToken (its content), extra_special_tokens, additional_special_tokens when not empty."""
    def content(v):
        if isinstance(v, str):
            return v
        if isinstance(v, dict) and isinstance(v.get("content"), str):
            return v["content"]
        return None

    out = {}
    for key, value in config.items():
        if key.endswith("_token") and len(key) > 6 and content(value) is not None:
            out[key] = content(value)
    if isinstance(config.get("extra_special_tokens"), dict):
        for key, value in config["extra_special_tokens"].items():
            if content(value) is not None:
                out[key] = content(value)
    extra = config.get("additional_special_tokens")
    if isinstance(extra, list) and extra:
        out["additional_special_tokens"] = [content(t) for t in extra if content(t) is not None]
    return out


# ---------------------------------------------------------------- assistant spans, independently

END_MARKERS = ["<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>",
               "<｜end▁of▁sentence｜>", "<|return|>", "<|end_of_turn|>", "<|END_OF_TURN_TOKEN|>", "<|EOT|>"]


def byte_offset(text, char_index):
    return len(text[:char_index].encode("utf-8"))


def content_needles(message):
    content = message.get("content")
    alternatives = []
    if isinstance(content, str):
        if content.strip():
            alternatives.append([content.strip()])
        if "</think>" in content:
            answer = content.rsplit("</think>", 1)[1].strip()
            if answer:
                alternatives.append([answer])
    elif isinstance(content, list):
        parts = [p["text"].strip() for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
                 and p["text"].strip()]
        if parts:
            alternatives.append(parts)
    return alternatives


def find_parts(text, parts, start):
    begin, pos = None, start
    for p in parts:
        at = text.find(p, pos)
        if at < 0:
            return None
        if begin is None:
            begin = at
        pos = at + len(p)
    return begin, pos


def find_reply(text, parts, start, markers):
    """The first occurrence of the parts from `start` that only whitespace separates from an
    end-of-turn marker or the end of the text: where a reply ends, not a prompt quoting it."""
    while True:
        found = find_parts(text, parts, start)
        if found is None:
            return None
        rest = text[found[1]:].lstrip()
        if not rest or any(rest.startswith(m) for m in markers if m):
            return found
        start = found[0] + 1


def assistant_spans(render_fn, messages, full, has_generation, marks, eos_token):
    """(method, [(byte begin, byte end, message index)]) or raises ValueError."""
    if has_generation:
        return "generation_marks", [(byte_offset(full, b), byte_offset(full, e), -1) for b, e in marks]
    assistants = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    if not assistants:
        return "none", []

    def attempt(n, agp):
        try:
            return render_fn(messages[:n], agp)
        except Exception:
            return None

    spans = []
    for i in assistants:
        prompt, turn = attempt(i, True), attempt(i + 1, False)
        if prompt is None or turn is None or not full.startswith(turn) or not turn.startswith(prompt) \
                or len(turn) <= len(prompt):
            spans = None
            break
        end = len(prompt) + len(turn[len(prompt):].rstrip())
        spans.append((byte_offset(full, len(prompt)), byte_offset(full, end), i))
    if spans is not None:
        return "prefix_render", spans

    markers = ([eos_token] if eos_token else []) + END_MARKERS
    spans, cursor = [], 0
    for i in assistants:
        begin, anchored = cursor, False
        prompt, before = attempt(i, True), attempt(i, False)
        if prompt is not None and full.startswith(prompt) and len(prompt) >= cursor:
            begin, anchored = len(prompt), True
        elif prompt is not None and before is not None and full.startswith(before) and prompt.startswith(before) \
                and len(before) >= cursor:
            # The render agrees with the turns before and with the generation prompt's first
            # lines: the reply starts after them (Qwen3 without thinking: the render has no empty
            # think block where the generation prompt has one).
            common = os.path.commonprefix([prompt, full])
            cut = common.rfind("\n", len(before)) + 1
            if cut > len(before):
                begin, anchored = cut, True
        content_end = begin
        needles = content_needles(messages[i])
        if needles:
            found = None
            for parts in needles:
                # Without an anchor the reply must be followed by its end of turn, lest a prompt
                # that quotes it be taken for it.
                found = find_parts(full, parts, begin) if anchored else find_reply(full, parts, begin, markers)
                if found:
                    break
            if not found:
                raise ValueError(f"cannot locate the content of assistant message {i}")
            if not anchored:
                begin = found[0]
            content_end = found[1]
        elif not anchored:
            raise ValueError(f"cannot locate assistant message {i}")
        boundary = len(full)
        if i + 1 < len(messages):
            for parts in content_needles(messages[i + 1]):
                nxt = find_parts(full, parts, content_end)
                if nxt:
                    boundary = nxt[0]
                    break
        end, best = content_end, None
        for m in markers:
            at = full.find(m, content_end)
            if at >= 0 and at + len(m) <= boundary and (best is None or at < best or (at == best and at + len(m) > end)):
                best, end = at, at + len(m)
        spans.append((byte_offset(full, begin), byte_offset(full, end), i))
        cursor = end
    return "content_search", spans


# ---------------------------------------------------------------- the language, piece by piece

# (template, variables): each rendered by jinja2 into language.json, which volt's test replays.
# Renders that print a bound method (Python prints its address), integers beyond 64 bits and
# complex numbers are left out: volt refuses those (see tests/goldens/chat_templates/README.md).
LANGUAGE = [
    # whitespace: trim_blocks, lstrip_blocks, - and + markers, comments, raw, trailing newline
    ("a\n  {% if true %}\n  b\n  {% endif %}\nc", {}),
    ("a  {% if true %}b{% endif %}  \nc", {}),
    ("a\n  {%+ if true %}b{% endif %}", {}),
    ("a\n  {{ 'x' }}\n  {# c #}\nb", {}),
    ("a\n  {# c #}  \nb", {}),
    ("a \n {%- if true -%} \n b \n {%- endif -%} \n c", {}),
    ("{% raw %}\n {{ x }} {% endraw %}\nz", {}),
    ("x\n  {% raw %}{{ y }}{% endraw %}  \n", {}),
    ("{%- raw -%}  {{ y }}  {%- endraw -%}  z", {}),
    ("a\n\n", {}),
    ("a\r\nb\rc\n", {}),
    ("  {%- if true %}x{% endif %}", {}),
    ("\t \u3000{% if true %}x{% endif %}", {}),
    ("a\u00a0\n{{- 'x' -}}\u2003\nb", {}),
    ("{% if true %}  \n{% endif %}", {}),
    ("{% if true -%}\n\n  x{%- endif %}", {}),
    ("{%- if true +%}\nx{% endif %}", {}),
    ("a {#- c -#} b", {}),
    ("a {{- 'b' }}\n{{ 'c' }}\n", {}),
    ("{% for i in [1, 2] %}\n  {{ i }}\n{% endfor %}\n", {}),
    ("{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}", {}),
    ("{{+ 'x' }}|{#+ c +#}\n|", {}),
    ("line1\n{# multi\nline\ncomment #}\nline2", {}),
    # literals and Python formatting of values
    ("{{ 'it\\'s' }}|{{ [\"it's\"] }}|{{ ['a\"b', 'a\\'b\"c', '\\n\\t\\x01\\x7f\\u00a0\u00e9'] }}", {}),
    ("{{ '\\u00e9\\x41\\101\\q\\\\' }}|{{ \"a\" 'b' \"c\" }}|{{ 'a\\\nb' }}", {}),
    ("{{ 1.5 }} {{ 1e20 }} {{ 1e16 }} {{ 1e15 }} {{ 0.0001 }} {{ 0.00001 }} {{ 1/3 }} {{ 2**-1 }} {{ 0.1 + 0.2 }} {{ -0.0 }}", {}),
    ("{{ 1_000 }} {{ 0x1F }} {{ 0o17 }} {{ 0b101 }} {{ 1.5e3 }} {{ 1_0.5 }} {{ 1E2 }} {{ .5 if false else 2. }}", {}),
    ("{{ (1, 2) }}{{ (1,) }}{{ () }}{{ [1, 'a', none, true, 1.0, {'k': [1]}] }}{{ {} }}{{ [] }}", {}),
    ("{{ none }} {{ None }} {{ true }} {{ False }} {{ x }}|{{ [x] }}", {"x": None}),
    ("{{ d }}|{{ d.a }}|{{ d['b'] }}|{{ d.c.d }}", {"d": {"a": 1, "b": [1.5, "é", None, True], "c": {"d": "x"}}}),
    ("{{ {'b': 1, 'a': {'z': 'y'}} }}{{ {1: 'a', true: 'b', 1.0: 'c'} }}", {}),
    ("{{ 'ünïcode ✓ 👍' }}{{ ['\u200b', '\u3000', 'ع', '\U0001F600', '\x85'] }}", {}),
    ("{{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1 / 2 }} {{ 4 / 2 }}", {}),
    ("{{ 'ab' * 3 }}{{ 3 * 'ab' }}{{ [1] * 2 }}{{ 'a' * -1 }}{{ 'a' ~ 1 ~ none ~ true ~ 1.0 ~ [1] }}{{ true + true }}{{ 3 - true }}", {}),
    ("{{ 1 < 2 < 3 }}{{ 1 < 3 < 2 }}{{ 'a' in 'cat' }}{{ 1 in [1] }}{{ 'k' in {'k': 1} }}{{ 'x' not in 'abc' }}", {}),
    ("{{ 1 == 1.0 }}{{ true == 1 }}{{ none == none }}{{ [1] == [1] }}{{ [1] == (1,) }}{{ {'a': 1} == {'a': 1.0} }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}", {}),
    ("{{ 1 and 2 }}|{{ 0 and 1 }}|{{ 0 or '' }}|{{ '' or 'x' }}|{{ not [] }}|{{ x and 1 }}|{{ x or 1 }}", {}),
    ("{{ 'a' if true else 'b' }}{{ 'a' if false }}|{{ ('a' if false) is defined }}{{ 1 if 0 else 2 if 1 else 3 }}", {}),
    # variables, scoping, set
    ("{% set x = 0 %}{% for i in range(3) %}[{{ x }}]{% set x = i + 10 %}({{ x }}){% endfor %}{{ x }}", {}),
    ("{% set x = 0 %}{% for i in range(3) %}{% if i == 1 %}{% set x = 5 %}{% endif %}[{{ x }}]{% endfor %}{{ x }}", {}),
    ("{% for i in [1, 2] %}{% set z = i %}{% endfor %}{{ z }}", {}),
    ("{% if true %}{% set q = 1 %}{% endif %}{{ q }}", {}),
    ("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set c = 1, 2 %}{{ c }}{% set (d, e) = 'xy' %}{{ d }}{{ e }}", {}),
    ("{% set t %}  hi {{ 1 }}  {% endset %}[{{ t }}]{% set u | upper | replace('A', '4') %}abc{% endset %}{{ u }}", {}),
    ("{% set messages = messages[1:] %}{{ messages }}|{% for m in messages %}{{ m }}{% set messages = [] %}{% endfor %}", {"messages": [1, 2, 3]}),
    ("{% if x is defined %}{% else %}{% set x = 3 %}{% endif %}{{ x }}", {}),
    ("{% with a = 1, b = 2 %}{{ a + b }}{% set y = a %}{% endwith %}{{ y }}{{ a }}", {}),
    ("{% set loop = 5 %}{{ loop }}", {}),
    # namespaces
    ("{% set ns = namespace(a=1) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}{{ ns }}{{ ns.b }}", {}),
    ("{% set ns = namespace(found=false) %}{% for n in [3, 1] %}{% if n == 1 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}", {}),
    ("{% set ns = namespace() %}{% set ns.items = [] %}{% for i in range(3) %}{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.items }}", {}),
    ("{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ namespace(c=3).c }}", {}),
    ("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", {}),
    # loops
    ("{% for a, b in [(1, 2), (3, 4)] %}{{ a }}{{ b }}{% endfor %}{% for k, v in {'x': 1}.items() %}{{ k }}={{ v }}{% endfor %}", {}),
    ("{% for x in [1, 2, 3] if x > 1 %}{{ loop.index }}/{{ loop.length }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }};{% else %}E{% endfor %}", {}),
    ("{% for x in [] %}a{% else %}E{% endfor %}{% for x in undefined_thing %}a{% else %}U{% endfor %}", {}),
    ("{% for x in 'héllo' %}{{ x }}-{% endfor %}{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}", {}),
    ("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{% endfor %}{{ loop.index }}{% endfor %}", {}),
    ("{% for x in [1, 1, 2] %}{{ loop.changed(x) }}{{ loop.depth }}{{ loop.depth0 }}{{ loop.index0 }}{% endfor %}{{ loop }}", {}),
    ("{% for x in [1] %}{{ loop.previtem }}|{{ loop.previtem is defined }}|{{ loop.nextitem is defined }}{% endfor %}", {}),
    ("{% for m in messages[::-1] %}{{ m }}{% endfor %}|{{ messages[-1] }}{{ messages[1:] }}{{ messages[:1] }}{{ messages[::2] }}{{ messages[5:] }}", {"messages": ["a", "b", "c"]}),
    ("{% for x in [1, 2] %}{% set t %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endset %}{{ t }}{% endfor %}", {}),
    # macros and call
    ("{% macro f(a, b=2, c='x') %}{{ a }}{{ b }}{{ c }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ f(1) }}|{{ f(1, c=3) }}|{{ f(1, 2, 3, 4, z=5) }}", {}),
    ("{% macro m(a) %}{{ a }}{% if a > 0 %}{{ m(a - 1) }}{% endif %}{% endmacro %}{{ m(3) }}", {}),
    ("{% macro m(a, b=a + 1) %}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, 5) }}{{ m(b=0) }}", {}),
    ("{% macro m() %}{{ y }}{% endmacro %}{% set y = 1 %}{{ m() }}{% set y = 2 %}{{ m() }}", {}),
    ("{% set x = 1 %}{% macro m() %}{% set x = 2 %}{{ x }}{% endmacro %}{{ m() }}{{ x }}", {}),
    ("{% macro f(a) %}[{{ caller() }}|{{ a }}]{% endmacro %}{% call f(1) %}body{% endcall %}", {}),
    ("{% macro f() %}[{{ caller(5) }}]{% endmacro %}{% call(x) f() %}b{{ x }}{% endcall %}", {}),
    ("{% macro f() %}x{% endmacro %}{{ f }}|{{ f.name }}|{{ f.arguments }}", {}),
    ("{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}", {}),
    ("{% filter upper %}abc{{ 'd' }}{% endfilter %}{% filter replace('a', 'b') | title %}aa ca{% endfilter %}", {}),
    ("{% generation %}{% set y = 1 %}{{ y }}{% endgeneration %}{{ y }}", {}),
    # undefined
    ("{{ x }}|{{ x ~ 'a' }}|{{ x | default('d') }}|{{ x | length }}|{{ x | list }}|{{ x is defined }}|{{ x == x }}|{{ x != none }}", {}),
    ("{{ none.y }}|{{ [1, 2].foo }}|{{ 'abc'.foo }}|{{ {'a': 1}.b }}|{{ {'a': 1}['b'] }}|{{ messages[5] }}|{{ messages['role'] }}", {"messages": []}),
    ("{{ x | first }}|{{ x | join }}|{{ x | trim }}|{{ x | upper }}|{{ x | string }}|{{ x | items | list }}|{{ x | sort }}|{{ x | sum }}|{{ x | min }}", {}),
    ("{{ messages.append }}|{{ {}.update }}|{{ [].pop is defined }}|{{ ''.__class__ }}", {"messages": []}),
    # tests
    ("{{ 1 is odd }}{{ 2 is even }}{{ 6 is divisibleby 3 }}{{ 1 is eq 1 }}{{ 1 is ne 2 }}{{ 1 is lt 2 }}{{ 1 is ge 1 }}{{ 1 is in [1] }}{{ 1.0 is integer }}{{ 1 is float }}", {}),
    ("{{ true is number }}{{ true is integer }}{{ {} is mapping }}{{ 'a' is iterable }}{{ 'a' is sequence }}{{ {} is sequence }}{{ none is none }}{{ x is callable }}{{ range is callable }}", {}),
    ("{{ 'a' is lower }}{{ 'A' is upper }}{{ 1 is sameas 1 }}{{ 1 is equalto 1 }}{{ 'a' is string }}{{ true is boolean }}{{ 0 is false }}{{ false is false }}{{ 1 is true }}", {}),
    ("{{ 1 is escaped }}{{ x is undefined }}{{ none is defined }}{{ [] is iterable }}{{ range(2) is sequence }}{{ 1 is not none }}{{ 'upper' is filter }}{{ 'odd' is test }}", {}),
    ("{{ 3 is greaterthan 2 }}{{ 2 is lessthan 3 }}{{ 2 is le 2 }}{{ 3 is gt 2 }}{{ (x.y is defined) if x is defined else 'no' }}", {}),
    # filters
    ("{{ '  a b  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'abc' | length }}|{{ [1, 2] | count }}|{{ {'a': 1} | length }}", {}),
    ("{{ 'hello world-foo(bar)' | title }}|{{ 'hELLO wORLD' | capitalize }}|{{ 'they\\'re'.title() }}|{{ 'ß'.upper() }}|{{ 'ǅa'.lower() }}|{{ 'ΣΑΣ ΟΔΟΣ'.lower() }}", {}),
    ("{{ 'aaa' | replace('a', 'b', 2) }}|{{ [1, 2, 3] | join(', ') }}|{{ [{'a': 1}, {'a': 2}] | join(',', attribute='a') }}|{{ 'abc' | join('-') }}", {}),
    ("{{ none | default('x') }}|{{ none | default('x', true) }}|{{ '' | d('y', true) }}|{{ false | default('z') }}", {}),
    ("{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ 'abc' | first }}{{ 'abc' | last }}{{ [] | first }}|{{ {'a': 1} | first }}", {}),
    ("{{ 'ab' | list }}{{ {'a': 1} | list }}{{ 12 | string }}{{ '12' | int + 1 }}{{ '1.5' | float }}{{ 'x' | int }}{{ '0x1A' | int(0, 16) }}{{ 3.7 | int }}{{ -3.7 | abs }}{{ ' 42 ' | int }}{{ '4_2' | int }}{{ '1e3' | int }}{{ 'nan' | float }}", {}),
    ("{{ 2.5 | round }}{{ 3.5 | round }}{{ 2.456 | round(2) }}{{ 2.675 | round(2) }}{{ 2.4 | round(0, 'ceil') }}{{ 2.6 | round(0, 'floor') }}{{ 3 | round }}{{ 1234.5 | round(-2) }}", {}),
    ("{{ {'b': 1, 'a': 2} | items | list }}{{ {'b': 1, 'a': 2} | dictsort }}{{ {'b': 1, 'a': 2} | dictsort(by='value') }}{{ {'B': 1, 'a': 2} | dictsort }}{{ {'B': 1, 'a': 2} | dictsort(true, reverse=true) }}", {}),
    ("{{ msgs | selectattr('r', 'equalto', 'a') | list }}|{{ msgs | selectattr('v') | list }}|{{ msgs | rejectattr('v', 'defined') | list }}|{{ msgs | map(attribute='r') | join }}", {"msgs": [{"r": "a", "v": 1}, {"r": "b"}]}),
    ("{{ [1, 2, 3, 4] | select('odd') | list }}{{ [1, 2, 3, 4] | reject('even') | list }}{{ [0, 1, '', none] | select | list }}{{ [1, 2, 3] | select('>', 1) | list }}{{ [1, 2] | select('in', [2]) | list }}", {}),
    ("{{ [{'a': 1}, {'a': 2}] | map(attribute='a') | list }}{{ ['a', 'b'] | map('upper') | list }}{{ [{'a': 1}, {}] | map(attribute='a', default=0) | list }}{{ ['1', '2'] | map('int') | sum }}", {}),
    ("{{ [1, 2, 1, 3] | unique | list }}{{ ['a', 'A'] | unique | list }}{{ [1, 2] | reverse | list }}{{ 'abc' | reverse }}{{ [3, 1, 2] | sort }}{{ ['b', 'A', 'a'] | sort }}{{ [3, 1, 2] | sort(reverse=true) }}{{ [{'a': 2}, {'a': 1}] | sort(attribute='a') }}", {}),
    ("{{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }}{{ ['b', 'A'] | min }}{{ [1, 2.5] | sum }}{{ [{'a': 1}, {'a': 2}] | sum(attribute='a') }}{{ [] | max }}|{{ [{'n': 2}, {'n': 5}] | max(attribute='n') }}", {}),
    ("{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\nb' | indent('> ', first=true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}", {}),
    ("{{ '<a&\\'\"' | e }}{{ '<' | safe }}{{ '<' | escape | escape }}{{ ('<' | safe) + '<' }}{{ '<' + ('<' | safe) }}{{ '<' | escape ~ '<' }}", {}),
    ("{{ 'a b  c' | wordcount }}{{ 'ab' | center(6) }}|{{ [1, 2, 3, 4, 5] | batch(2) | list }}{{ [1, 2, 3] | batch(2, 'x') | list }}{{ [1, 2, 3, 4, 5] | slice(2) | list }}", {}),
    ("{{ {'a': [1, 'é', none, true, 1.5, 2.0]} | tojson }}|{{ {'a': {'b': []}} | tojson(indent=2) }}|{{ 'x\\u2028\\x7f<\\n\"' | tojson }}|{{ {'a': 1} | tojson(separators=(',', ':')) }}", {}),
    ("{{ (1, 2) | tojson }}{{ {1: 2, none: 3, true: 4, 1.5: 5} | tojson }}{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}{{ 1e100 | tojson }}{{ 1.0 | tojson }}{{ 'é' | tojson(ensure_ascii=true) }}{{ [1, [2]] | tojson(indent='\\t') }}", {}),
    ("{{ tools | tojson(indent=4) }}", {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"x": {"type": "number", "default": 0.5}}}}]}),
    ("{{ 'long text here to cut' | truncate(10) }}|{{ 'long text here' | truncate(9, true, '…') }}|{{ 'short' | truncate(10) }}", {}),
    ("{{ '%s - %d - %.2f - %5s|%-5s|%05d|%x|%r' | format('a', 3, 1.234, 'r', 'l', 42, 255, 'q') }}{{ '%(a)s!' | format(a=1) }}{{ '%s' % 'x' }}{{ '%s and %s' % (1, 2) }}", {}),
    ("{{ {'a': 1} | attr('items') is defined }}{{ {'a': 1} | attr('a') }}{{ 'abc' | attr('upper') is callable }}", {}),
    # str, dict and list methods
    ("{{ 'a,b,,c'.split(',') }}{{ ' a  b '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a b c'.rsplit(' ', 1) }}{{ 'a b c'.split(maxsplit=1) }}{{ ''.split() }}{{ ''.split(',') }}{{ 'a  b c '.split(None, 1) }}{{ '  a b'.rsplit(None, 1) }}", {}),
    ("{{ 'xxhixx'.strip('x') }}{{ '\\n\\n hi\\n'.lstrip('\\n') }}|{{ 'hi\\n\\n'.rstrip() }}|{{ 'abc'.startswith(('x', 'a')) }}{{ 'abc'.endswith('bc') }}{{ 'abc'.startswith('b', 1) }}{{ 'abc'.endswith('a', 0, 1) }}", {}),
    ("{{ 'abcabc'.find('c') }}{{ 'abcabc'.rfind('c') }}{{ 'abcabc'.count('bc') }}{{ 'a-b'.replace('-', '+') }}{{ ','.join(['a', 'b']) }}{{ '{} and {name}'.format(1, name='x') }}{{ '{0}{0}{1!r}'.format('a', 'b') }}{{ '{:>5}|{:<4}|{:^6}|{:05.1f}|{:,}'.format('r', 'l', 'c', 3.14159, 1234567) }}", {}),
    ("{{ 'héllo wörld'.upper() }}{{ 'Hello'.lower() }}{{ 'hello world'.title() }}{{ 'hello'.capitalize() }}{{ 'HeLLo'.swapcase() }}{{ 'a'.center(5, '*') }}{{ '42'.zfill(5) }}{{ '-42'.zfill(5) }}{{ 'a=b=c'.partition('=') }}{{ 'a=b=c'.rpartition('=') }}", {}),
    ("{{ 'abc'.isalpha() }}{{ '123'.isdigit() }}{{ ' '.isspace() }}{{ 'Ab'.istitle() }}{{ 'ab'.islower() }}{{ 'AB'.isupper() }}{{ 'a1'.isalnum() }}{{ 'x'.removeprefix('x') }}{{ 'ab'.removesuffix('b') }}{{ 'a\\nb\\r\\nc'.splitlines() }}{{ 'a\\nb'.splitlines(true) }}", {}),
    ("{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b') }}{{ {'a': 1}.get('b', 5) }}{{ {'a': 1}.keys() }}{{ {'a': 1}.values() }}{{ {'a': 1}.items() }}{{ {'a': 1}.items() | list }}{{ {'items': 5}['items'] }}", {}),
    ("{{ [1, 2, 3][1:] }}{{ [1, 2, 3][::-1] }}{{ [1, 2, 3][-1] }}{{ 'hello'[1:3] }}{{ 'hello'[-1] }}{{ [1, 2, 3][5] }}|{{ 'héllo'[1] }}{{ 'héllo'[::-2] }}{{ [1, 2, 3].index(2) }}{{ [1, 1].count(1) }}{{ (1, 2)[0] }}", {}),
    ("{{ range(3) | list }}{{ range(1, 10, 3) | list }}{{ range(3) }}{{ range(0, 10, 2) }}{{ range(5)[1:3] }}{{ range(10, 0, -3) | list }}{{ dict(a=1, b=2) }}{{ dict([('x', 1)]) }}", {}),
    ("{% set c = cycler('a', 'b') %}{{ c.next() }}{{ c.next() }}{{ c.next() }}{{ c.current }}{% set j = joiner('|') %}{{ j() }}x{{ j() }}y", {}),
    ("{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %a %j %% %w %U') }}", {}),
    # jinja2's compile-time scoping: a name a frame assigns before reading it is the frame's own
    ("{% for i in [1] %}[{{ t }}]{% set t = 5 %}{% endfor %}|{% for i in [1] %}{% for j in [1] %}[{{ t }}]{% endfor %}{% set t = 5 %}{% endfor %}", {"t": True}),
    ("{% for i in [1] %}[{{ t }}]{% endfor %}{% set t = 5 %}|{% macro m() %}[{{ t }}]{% endmacro %}{{ m() }}", {"t": True}),
    ("{{ t }}{% for i in [1] %}[{{ t }}]{% endfor %}{% set t = 5 %}", {"t": True}),
    ("{% for i in [1] %}{% if false %}{% set t = 5 %}{% endif %}{% for j in [1] %}[{{ t }}]{% endfor %}{% endfor %}", {"t": True}),
    ("{% for i in [1] %}{% if false %}{% set t = 5 %}{% elif false %}{% set t = 7 %}{% else %}{% set t = 6 %}{% endif %}{% for j in [1] %}[{{ t }}]{% endfor %}{% endfor %}", {"t": True}),
    ("{% with %}{% for i in [1] %}[{{ t }}]{% endfor %}{% set t = 2 %}{% endwith %}[{{ t }}]", {"t": True}),
    ("{% set s %}{% for i in [1] %}[{{ u }}]{% endfor %}{% set u = 1 %}{% endset %}{{ s }}", {"u": "ctx"}),
    # for-else: the else runs unless one iteration reached the end of the body
    ("{% for x in [1, 2] %}{% continue %}{% else %}E{% endfor %}|{% for x in [1, 2] %}{% if x == 2 %}{% continue %}{% endif %}{% else %}E{% endfor %}|{% for x in [1] %}{% break %}{% else %}E{% endfor %}", {}),
    # generators: always true, walked lazily (a false input is not walked at all)
    ("{% if none | selectattr('type') %}yes{% endif %}|{{ (5 | unique) is defined }}|{{ 0 | map('upper') | list }}|{{ [] | select | list }}", {}),
    ("{% if msg.tool_calls | selectattr('type', 'equalto', 'function') | list %}calls{% else %}none{% endif %}", {"msg": {"tool_calls": None}}),
    # % formatting takes anything with [] as a mapping; tests refuse arguments they do not take
    ("{{ 'x' % undefined_name }}|{{ '%s' % [1] }}|{{ 'plain' % {'a': 1} }}|{{ '%(a)s' % {'a': 1} }}", {}),
    ("{{ 1 is none(2) }}", {}),
    ("{{ 1 is none[0] }}", {}),
    # slices are Python subscriptions (a TypeError), but constants are folded as jinja2 compiles
    ("{% set y = x[1:] %}", {"x": 5}),
    ("{{ 7[1:3] }}|{% if not 3[1:3] %}folded{% endif %}|{{ (1, 2)[1:] }}|{{ 'abc'[::-1] }}", {}),
    ("{{ (1, 2) | truncate(5) }}|{{ 'abcdefghijklmnopqrstuvwxyz' | truncate(10) }}", {}),
    ("{{ [1] | indent }}", {}),
    # errors (the golden keeps the exception)
    ("{{ raise_exception('boom: ' ~ 1) }}", {}),
    ("{{ x.y }}", {}),
    ("{{ 1 + 'a' }}", {}),
    ("{{ 'a' + 1 }}", {}),
    ("{{ [1] + (2,) }}", {}),
    ("{{ 10 / 0 }}", {}),
    ("{{ 10 // 0 }}", {}),
    ("{{ 10 % 0 }}", {}),
    ("{{ 1 < 'a' }}", {}),
    ("{{ x + 1 }}", {}),
    ("{{ x() }}", {}),
    ("{{ none() }}", {}),
    ("{% for x in 5 %}{% endfor %}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{% set a, b = [1] %}", {}),
    ("{% set x = {'a': 1} %}{% set x.a = 2 %}", {}),
    ("{{ messages.append(1) }}", {"messages": []}),
    ("{{ [1, 2][0:1:0] }}", {}),
    ("{% macro f(a) %}{{ a }}{% endmacro %}{{ f(1, 2) }}", {}),
    ("{% macro f(a) %}{{ a }}{% endmacro %}{{ f(b=2) }}", {}),
    ("{{ 1 | nosuchfilter }}", {}),
    ("{% if false %}{{ 1 | nosuchfilter }}{% endif %}ok", {}),
    ("{{ 1 is nosuchtest }}", {}),
    ("{% for x in [1] %}{{ x }}{% endfor %}{% endfor %}", {}),
    ("{% if true %}", {}),
    ("{{ 1 + }}", {}),
    ("{{ (1 }}", {}),
    ("{{ 'unterminated }}", {}),
    ("{# unterminated", {}),
    ("{% raw %}unterminated", {}),
    ("{% if true %}{% break %}{% endif %}", {}),
    ("{{ x | tojson }}", {}),
    ("{{ 'a' | int | abs }}{{ none | abs }}", {}),
    ("{{ {'a': 1} | dictsort(by='x') }}", {}),
    ("{{ range(1000000) }}", {}),
    ("{{ range(1.5) }}", {}),
    ("{{ '{}'.format() }}", {}),
    ("{{ '%d' % 'x' }}", {}),
    ("{{ 'a'.strip(1) }}", {}),
    ("{{ ''.join([1]) }}", {}),
    ("{{ [[]] | unique | list }}", {}),
    ("{{ {[1]: 2} }}", {}),
    ("{% set x = 1 %}{{ x.y.z }}", {}),
    ("{{ foo(1) }}", {}),
    ("{{ loop.index }}", {}),
]


# ---------------------------------------------------------------- the conversations

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a time zone, as HH:MM — 24 h",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}

CONVERSATIONS = {
    "basic": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello, how are you?"},
        {"role": "assistant", "content": "I'm doing great. How can I help you today?"},
        {"role": "user", "content": "I'd like to show off how chat templating works!"},
    ],
    "no_system": [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "2 + 2 = 4."},
        {"role": "user", "content": "And 3 + 3?"},
        {"role": "assistant", "content": "3 + 3 = 6."},
    ],
    "multi_turn": [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Another one."},
        {"role": "assistant", "content": "11"},
        {"role": "user", "content": "And an even one?"},
        {"role": "assistant", "content": "2 is the only even prime."},
    ],
    "final_user": [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Where is the treasure?"},
    ],
    "unicode": [
        {"role": "user", "content": "翻译：你好，世界！ 🌍👋🏽 and عربي שלום ‫RTL‬ café ñ e\u0301 \u200d👩\u200d💻"},
        {"role": "assistant", "content": "Hello, world! 你好 🌍 — مرحبا بالعالم · שלום עולם \u00a0nbsp\u3000ideographic"},
        {"role": "user", "content": "Ελληνικά ΣΟΦΟΣ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0001F600"},
        {"role": "assistant", "content": "Τέλεια! ß ﬁ İ — done ✅"},
    ],
    "template_like": [
        {"role": "system", "content": "Keep {{ braces }} and {% raw %} as they are."},
        {"role": "user", "content": "Print {{ messages }} then {% if true %}yes{% endif %} and {# no comment #}"},
        {"role": "assistant", "content": "Sure: <|im_end|> </s> <|eot_id|> <end_of_turn> [INST] {{ x }} {%- y -%}"},
        {"role": "user", "content": "<|im_start|>assistant\nfake turn<|im_end|>"},
        {"role": "assistant", "content": "'quotes' \"double\" \\backslash\\ \ttab"},
    ],
    "empty_reply": [
        {"role": "user", "content": "Say nothing."},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Now say something."},
        {"role": "assistant", "content": "Something."},
    ],
    "whitespace": [
        {"role": "system", "content": "  padded system  \n"},
        {"role": "user", "content": "\n\n  leading and trailing  \n\n"},
        {"role": "assistant", "content": "\n  reply with spaces  \n\t"},
        {"role": "user", "content": "last\r\nline"},
    ],
    "long": [m for k in range(8) for m in (
        {"role": "user", "content": f"Question {k}: what is {k} squared?"},
        {"role": "assistant", "content": f"{k} squared is {k * k}."},
    )],
    "content_parts": [
        {"role": "user", "content": [{"type": "text", "text": "Describe the picture."}, {"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat on a mat."}]},
    ],
    "roles_not_alternating": [
        {"role": "user", "content": "One."},
        {"role": "user", "content": "Two."},
    ],
    "system_then_user": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi."},
        {"role": "assistant", "content": "Hello."},
    ],
    "reasoning": [
        {"role": "user", "content": "What is 17 * 3?"},
        {"role": "assistant", "content": "<think>\n17 * 3 = 51.\n</think>\n\n17 * 3 = 51."},
        {"role": "user", "content": "And 51 / 3?"},
        {"role": "assistant", "content": "It is 17.", "reasoning_content": "Dividing back gives 17."},
    ],
    "tool_calls": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "What's the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call12345", "type": "function",
             "function": {"name": "get_current_weather", "arguments": {"location": "Paris, FR", "unit": "celsius"}}}]},
        {"role": "tool", "tool_call_id": "call12345", "content": "{\"temperature\": 22, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 22 °C and clear in Paris."},
    ],
    "tool_calls_string_args": [
        {"role": "user", "content": "Time in Tokyo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"type": "function", "function": {"name": "get_time", "arguments": "{\"tz\": \"Asia/Tokyo\"}"}}]},
        {"role": "tool", "content": "14:05"},
        {"role": "assistant", "content": "It is 14:05 in Tokyo."},
    ],
}

# What each case passes besides the conversation: (id, conversation, add_generation_prompt, tools, extra)
STANDARD = [(f"{name}/{'gen' if agp else 'nogen'}", name, agp, None, {})
            for name in ["basic", "no_system", "multi_turn", "final_user", "unicode", "template_like",
                         "empty_reply", "whitespace", "long", "roles_not_alternating", "system_then_user"]
            for agp in (False, True)]
TOOLS = [WEATHER_TOOL, TIME_TOOL]

CASES = {
    "chatml": STANDARD,
    "zephyr": STANDARD,
    "mistral_v0_1": STANDARD,
    "mistral_v0_3": STANDARD + [
        ("tool_calls/tools", "tool_calls", False, TOOLS, {}),
    ],
    "llama3": STANDARD,
    "llama3_1": STANDARD,
    "llama3_1_full": STANDARD + [
        ("tool_calls/tools", "tool_calls", False, TOOLS, {}),
        ("tool_calls/tools_in_system", "tool_calls", True, TOOLS, {"tools_in_user_message": False}),
        ("final_user/date_string", "final_user", True, None, {"date_string": "01 Jan 2025"}),
        ("basic/builtin_tools", "basic", True, None, {"builtin_tools": ["brave_search", "code_interpreter"]}),
    ],
    "qwen3": STANDARD + [
        ("reasoning/default", "reasoning", False, None, {}),
        ("reasoning/thinking_on", "reasoning", True, None, {"enable_thinking": True}),
        ("reasoning/thinking_off", "reasoning", True, None, {"enable_thinking": False}),
        ("basic/thinking_off", "basic", True, None, {"enable_thinking": False}),
        ("tool_calls/tools", "tool_calls", False, TOOLS, {}),
        ("tool_calls/tools_gen", "tool_calls", True, TOOLS, {"enable_thinking": False}),
        ("tool_calls_string_args/tools", "tool_calls_string_args", False, TOOLS, {}),
        ("content_parts/nogen", "content_parts", False, None, {}),
    ],
    "gemma3": STANDARD + [
        ("content_parts/nogen", "content_parts", False, None, {}),
        ("content_parts/gen", "content_parts", True, None, {}),
    ],
    "deepseek_v3": STANDARD + [
        ("tool_calls_string_args/nogen", "tool_calls_string_args", False, None, {}),
        ("tool_calls_string_args/gen", "tool_calls_string_args", True, None, {}),
    ],
    "deepseek_coder": STANDARD,
    "functionary_v2_2": STANDARD + [
        ("tool_calls_string_args/nogen", "tool_calls_string_args", False, None, {}),
    ],
    "chatml_generation": STANDARD,
}

# Where each template comes from: a tokenizer_config.json in the data directory (its template and
# special tokens), or a file under templates/ with the special tokens of a data config.
SOURCES = {
    "llama3": {"tokenizer_config": "tokenizers/llama3"},
    "llama3_1": {"tokenizer_config": "tokenizers/llama3_1"},
    "qwen3": {"tokenizer_config": "tokenizers/qwen3"},
    "gemma3": {"tokenizer_config": "tokenizers/gemma3"},
    "deepseek_v3": {"tokenizer_config": "tokenizers/deepseek_v3"},
    "chatml": {"file": "templates/chatml.jinja", "special_tokens_of": "tokenizers/qwen3"},
    "chatml_generation": {"file": "templates/chatml_generation.jinja", "special_tokens_of": "tokenizers/qwen3"},
    "zephyr": {"file": "templates/zephyr.jinja", "special_tokens_of": "tokenizers/mistral"},
    "mistral_v0_1": {"file": "templates/mistral_v0_1.jinja", "special_tokens_of": "tokenizers/mistral"},
    "mistral_v0_3": {"file": "templates/mistral_v0_3.jinja", "special_tokens_of": "tokenizers/mistral"},
    "llama3_1_full": {"file": "templates/llama3_1_full.jinja", "special_tokens_of": "tokenizers/llama3_1"},
    "deepseek_coder": {"file": "templates/deepseek_coder.jinja", "special_tokens_of": "tokenizers/deepseek_v3"},
    "functionary_v2_2": {"file": "templates/functionary_v2_2.jinja", "special_tokens_of": "tokenizers/mistral"},
}


def load_config(rel):
    with open(os.path.join(DATA, rel, "tokenizer_config.json"), encoding="utf-8") as f:
        return json.load(f)


def template_and_tokens(name):
    src = SOURCES[name]
    if "tokenizer_config" in src:
        config = load_config(src["tokenizer_config"])
        return config["chat_template"], special_tokens_from_config(config)
    with open(os.path.join(OUT, src["file"]), encoding="utf-8") as f:
        text = f.read()
    return text, special_tokens_from_config(load_config(src["special_tokens_of"]))


def main():
    if not os.path.isdir(DATA):
        sys.exit(f"data directory {DATA} not found (set VOLT_DATA_DIR)")
    print(f"jinja2 {jinja2.__version__}, Python {sys.version.split()[0]}")
    with open(os.path.join(OUT, "conversations.json"), "w", encoding="utf-8") as f:
        json.dump(CONVERSATIONS, f, ensure_ascii=False, indent=1)
        f.write("\n")
    language = []
    for source, variables in LANGUAGE:
        case = {"template": source, "variables": variables}
        try:
            case["text"] = ENV.from_string(source).render(**variables)
        except Exception as e:
            case["error"] = {"type": type(e).__name__, "message": str(e)}
        language.append(case)
    with open(os.path.join(OUT, "language.json"), "w", encoding="utf-8") as f:
        json.dump(language, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"language: {len(language)} cases, {sum('error' in c for c in language)} errors")
    for name in sorted(CASES):
        source, tokens = template_and_tokens(name)
        compiled = ENV.from_string(source)
        has_generation = re.search(r"\{%[-+]?\s*generation\s*[-+]?%\}", source) is not None
        golden = {"template": name, "source": SOURCES[name], "special_tokens": tokens, "cases": []}
        for case_id, conv, agp, tools, extra in CASES[name]:
            messages = CONVERSATIONS[conv]
            case = {"id": case_id, "conversation": conv, "add_generation_prompt": agp, "tools": tools, "extra": extra}
            try:
                text, marks = render(compiled, tokens, messages, agp, tools, None, extra)
            except Exception as e:  # the golden is the error
                case["error"] = {"type": type(e).__name__, "message": str(e)}
                golden["cases"].append(case)
                continue
            case["text"] = text

            def render_fn(msgs, add_generation_prompt):
                return render(compiled, tokens, msgs, add_generation_prompt, tools, None, extra)[0]

            try:
                method, spans = assistant_spans(render_fn, messages, text, has_generation, marks,
                                                tokens.get("eos_token"))
                case["span_method"] = method
                case["spans"] = [list(s) for s in spans]
            except ValueError as e:
                case["span_error"] = str(e)
            golden["cases"].append(case)
        path = os.path.join(OUT, name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(golden, f, ensure_ascii=False, indent=1)
            f.write("\n")
        errors = sum("error" in c for c in golden["cases"])
        methods = sorted({c.get("span_method", "-") for c in golden["cases"] if "text" in c})
        print(f"{name}: {len(golden['cases'])} cases, {errors} errors, spans by {', '.join(methods)}")


if __name__ == "__main__":
    main()
