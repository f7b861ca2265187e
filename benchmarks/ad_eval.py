"""Evaluate the boilerplate (AD) rules on a folder of real notes.

    python benchmarks/ad_eval.py ../shared/corpus [--rule AD002] [--safe-only] [--quiet]

Prints, per rule, the files hit, the diagnostics, how many fixes are safe / unsafe and
the time spent; then every removal with the text it takes out (truncated), so the
removals can be read for false positives.  The corpus is third-party text: read it here,
never copy it into the project.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.engine import check_document
from tidymark.registry import builtin_rules
from tidymark.source import DecodeError, decode


def _short(text: str, limit: int) -> str:
    text = text.replace("\r", "")
    lines = [ln for ln in text.split("\n") if ln.strip()]
    out = []
    for ln in lines[:12]:
        out.append("      | " + (ln if len(ln) <= limit else ln[:limit - 1] + "…"))
    if len(lines) > 12:
        out.append(f"      | … ({len(lines) - 12} more lines)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", nargs="+", type=Path)
    ap.add_argument("--rule", action="append", default=[], help="only these codes (repeatable)")
    ap.add_argument("--safe-only", action="store_true", help="list only removals applied by default")
    ap.add_argument("--quiet", action="store_true", help="figures only, no removals")
    ap.add_argument("--width", type=int, default=110, help="truncate removed lines to this many characters")
    args = ap.parse_args(argv)

    classes = [i.cls for i in builtin_rules() if i.cls.code.startswith("AD")
               and (not args.rule or i.cls.code in {r.upper() for r in args.rule})]
    rules = [c() for c in classes]
    files = sorted(p for root in args.corpus for p in (root.rglob("*.md") if root.is_dir() else [root]))
    hits: dict[str, set] = defaultdict(set)
    counts: Counter = Counter()
    levels: Counter = Counter()
    timing: Counter = Counter()
    removals: dict[str, list] = defaultdict(list)
    for path in files:
        try:
            decoded = decode(path.read_bytes())
        except DecodeError:
            continue
        doc = Document(decoded.text, path)
        _ = doc.blocks, doc.inline  # parse once, outside the per-rule timings
        for rule in rules:
            t0 = time.perf_counter()
            diags = check_document(doc, [rule])
            timing[rule.code] += time.perf_counter() - t0
            for d in diags:
                if d.code != rule.code:
                    print(f"!! {path}: {d.code} {d.message}", file=sys.stderr)
                    continue
                hits[rule.code].add(path)
                counts[rule.code] += 1
                level = d.fix.applicability.label if d.fix else "none"
                levels[(rule.code, level)] += 1
                if d.fix is None or (args.safe_only and d.fix.applicability < Applicability.SAFE):
                    continue
                removed = "".join(doc.text[e.span.start:e.span.end] for e in d.fix.edits)
                removals[rule.code].append((path, d, level, removed))
    print(f"{len(files)} files")
    print(f"{'rule':<7}{'name':<24}{'files':>6}{'diags':>7}{'safe':>6}{'unsafe':>8}{'none':>6}{'ms':>8}")
    for c in classes:
        code = c.code
        print(f"{code:<7}{c.name:<24}{len(hits[code]):>6}{counts[code]:>7}{levels[(code, 'safe')]:>6}"
              f"{levels[(code, 'unsafe')]:>8}{levels[(code, 'none')]:>6}{timing[code] * 1000:>8.0f}")
    if args.quiet:
        return 0
    base = [r.resolve() for r in args.corpus]
    for c in classes:
        items = removals[c.code]
        if not items:
            continue
        print(f"\n===== {c.code} {c.name}: {len(items)} removals")
        for path, d, level, removed in items:
            rel = path
            for b in base:
                try:
                    rel = path.resolve().relative_to(b)
                    break
                except ValueError:
                    continue
            print(f"  [{level}] {rel}:{d.line}-{d.end_line}  {d.message}")
            print(_short(removed, args.width))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
