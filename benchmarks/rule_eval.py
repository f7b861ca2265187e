"""Per-rule evaluation over a folder: what every rule finds, and what the default fix removes.

    python benchmarks/rule_eval.py ../shared/corpus [--unsafe-fixes] [--samples 5] [--json out.json]

For each rule: files hit, diagnostics (fixed by the default fix + left), bytes removed, and a
sample of removed blocks to read.  Nothing is written to the folder (fixes are computed as
with ``tidymark fix --diff``).  Use it to review the removals before trusting a rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from tidymark.config import ConfigResolver
from tidymark.files import Walker
from tidymark.pipeline import RunOptions, run


def evaluate(paths: list[Path], unsafe: bool = False, samples: int = 5) -> dict:
    cli = {"unsafe_fixes": True} if unsafe else {}
    resolver = ConfigResolver(None, cli)
    items = [(p, str(p)) for p, problem in Walker(resolver.for_dir).walk(paths) if problem is None]
    files_hit: dict[str, set] = defaultdict(set)
    found: Counter = Counter()
    fixed: Counter = Counter()
    removed_bytes: Counter = Counter()
    removed_blocks: Counter = Counter()
    examples: dict[str, list] = defaultdict(list)
    changed = 0
    opts = RunOptions(mode="diff", cli=cli, use_cache=False, report=True)
    for res in run(items, opts):
        changed += res.changed
        for d in res.applied:
            fixed[d.code] += 1
            found[d.code] += 1
            files_hit[d.code].add(res.display)
        for d in res.diagnostics:
            found[d.code] += 1
            files_hit[d.code].add(res.display)
        for r in res.removals:
            removed_blocks[r["code"]] += 1
            removed_bytes[r["code"]] += len(r["text"].encode("utf-8"))
            if len(examples[r["code"]]) < samples:
                examples[r["code"]].append({"file": res.display, "line": r["line"], "text": r["text"][:300]})
    rules = {code: {"files": len(files_hit[code]), "diagnostics": found[code], "fixed": fixed[code],
                    "removed_blocks": removed_blocks[code], "removed_bytes": removed_bytes[code],
                    "examples": examples.get(code, [])} for code in sorted(found)}
    return {"files": len(items), "files_changed": changed, "rules": rules}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--unsafe-fixes", action="store_true")
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    data = evaluate(args.paths, args.unsafe_fixes, args.samples)
    w = sys.stdout.write
    w(f"{data['files']} files, {data['files_changed']} changed by the "
      f"{'unsafe' if args.unsafe_fixes else 'default'} fix\n\n")
    w("| Rule | Files | Diagnostics | Fixed | Blocks removed | Bytes removed |\n|---|---|---|---|---|---|\n")
    for code, r in data["rules"].items():
        w(f"| {code} | {r['files']} | {r['diagnostics']} | {r['fixed']} | {r['removed_blocks']} | {r['removed_bytes']:,} |\n")
    for code, r in data["rules"].items():
        if r["examples"]:
            w(f"\n## {code}: sample of removed blocks\n")
            for e in r["examples"]:
                text = e["text"].replace("\n", "\n    ")
                w(f"- {e['file']}:{e['line']}\n    {text}\n")
    if args.json:
        args.json.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
