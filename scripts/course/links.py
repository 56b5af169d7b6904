#!/usr/bin/env python3
"""Checks the relative links of the course's Markdown (docs/*.md, README.md, examples/*/README.md):
every linked file exists and every #anchor names a heading of its page, slugged as GitHub does.
External (scheme://) links are not fetched. Standard library only.

    python3 scripts/course/links.py     # one line per broken link; exit status 1 if there is one
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def slug(heading):
    # GitHub: lower case, drop what is not a letter, digit, '_', '-' or space, spaces to '-'.
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page, cache={}):
    if page not in cache:
        found, seen, in_code = set(), {}, False
        for line in page.read_text(encoding="utf-8").split("\n"):
            if line.startswith("```"):
                in_code = not in_code
            m = None if in_code else re.match(r"^#{1,6} (.*)", line)
            if m:
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
                base = slug(text)
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
        cache[page] = found
    return cache[page]


broken = 0
pages = sorted(ROOT.glob("docs/*.md")) + [ROOT / "README.md"] + sorted(ROOT.glob("examples/*/README.md"))
for page in pages:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for url in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", url):
            continue
        path, _, fragment = url.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.exists():
            problem = "no such file"
        elif fragment and target.suffix == ".md" and fragment not in anchors(target):
            problem = "no such heading"
        else:
            continue
        broken += 1
        print(f"{page.relative_to(ROOT)}: {url}: {problem}")
print(f"{broken} broken link(s)" if broken else "all links resolve")
sys.exit(1 if broken else 0)
