#!/usr/bin/env python3
"""The documentation's relative links resolve: every [text](target) in README.md and
docs/*.md (code blocks aside) that is not a URL names a file of the repository and, for
a markdown file, an #anchor among its headings, slugged as GitHub slugs them. Run by
.ci/lint; `python3 .ci/doclinks.py` from anywhere."""
import glob
import os
import re
import sys

os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def outside_code(path):
    fence = False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        elif not fence:
            yield line


def anchors(path):
    seen, out = {}, set()
    for line in outside_code(path):
        if re.match(r"#+ ", line):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


files = ["README.md"] + sorted(glob.glob("docs/*.md"))
broken = []
for f in files:
    for m in re.finditer(r"\]\(([^)\s]+)\)", "".join(outside_code(f))):
        target = m.group(1)
        if re.match(r"[a-z]+:", target):
            continue
        path, _, frag = target.partition("#")
        dest = os.path.normpath(os.path.join(os.path.dirname(f), path)) if path else f
        if not os.path.exists(dest):
            broken.append(f"{f}: {target}: no such file")
        elif frag and dest.endswith(".md") and frag not in anchors(dest):
            broken.append(f"{f}: {target}: no such heading")
for b in broken:
    print(b)
print(f"doclinks: {len(files)} files, {len(broken)} broken links")
sys.exit(1 if broken else 0)
