"""Help label the sample: list the notes still to label, show one with line numbers, save labels.

    python benchmarks/cleaning/label.py ../shared todo [--part dev|held-out]
    python benchmarks/cleaning/label.py ../shared show SHA_PREFIX
    python benchmarks/cleaning/label.py ../shared save SHA_PREFIX --junk 3-5,40 --meta 7 \
        [--pattern 3-5=substack-appeal] [--by NAME] [--note TEXT]

``show`` prints the note with its 1-based line numbers and marks where the front matter ends
(only body lines are labelled).  ``save`` writes ``labels/<sha256>.json``: the note's folder,
hash, part, the junk and meta line ranges, optional pattern names (our own words, such as
``wechat-footer``) and who labelled it.  Every non-blank body line not listed is article.
See README.md beside this script for the definitions (they follow the shared labelling guide).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from score import HERE, body_start, split_lines


def parse_ranges(spec: str) -> list[list[int]]:
    out = []
    for part in filter(None, (s.strip() for s in spec.split(","))):
        a, _, b = part.partition("-")
        out.append([int(a), int(b or a)])
    return sorted(out)


def find(shared: Path, sample: dict, prefix: str) -> tuple[dict, Path]:
    hits = [n for n in sample["notes"] if n["sha256"].startswith(prefix)]
    if len(hits) != 1:
        sys.exit(f"{len(hits)} sampled notes start with {prefix!r}")
    note = hits[0]
    for p in sorted((shared / note["folder"]).rglob("*.md")):
        if hashlib.sha256(p.read_bytes()).hexdigest() == note["sha256"]:
            return note, p
    sys.exit(f"note {prefix} not found in {note['folder']} (changed?)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shared", type=Path)
    sub = ap.add_subparsers(dest="cmd", required=True)
    td = sub.add_parser("todo")
    td.add_argument("--part", choices=["dev", "held-out"])
    sh = sub.add_parser("show")
    sh.add_argument("sha")
    sv = sub.add_parser("save")
    sv.add_argument("sha")
    sv.add_argument("--junk", default="")
    sv.add_argument("--meta", default="")
    sv.add_argument("--pattern", action="append", default=[], help="RANGE=name")
    sv.add_argument("--by", default="")
    sv.add_argument("--note", default="")
    args = ap.parse_args(argv)
    sample = json.loads((HERE / "sample.json").read_text(encoding="utf-8"))
    labels_dir = HERE / "labels"
    if args.cmd == "todo":
        done = {p.stem for p in labels_dir.glob("*.json")}
        for n in sample["notes"]:
            if n["sha256"] not in done and (not args.part or n["part"] == args.part):
                print(n["sha256"][:16], n["part"], n["folder"])
        return 0
    note, path = find(args.shared, sample, args.sha)
    lines = split_lines(path.read_bytes().decode("utf-8", "replace"))
    start = body_start(lines)
    if args.cmd == "show":
        print(f"# {note['folder']} {note['sha256'][:16]} ({note['part']}), {len(lines)} lines, body from line {start + 1}")
        for i, line in enumerate(lines):
            if i == start and start:
                print("----- body -----")
            print(f"{i + 1:5} {line}")
        return 0
    junk, meta = parse_ranges(args.junk), parse_ranges(args.meta)
    for a, b in junk + meta:
        if a <= start or b > len(lines) or a > b:
            sys.exit(f"range {a}-{b} is outside the body (lines {start + 1}-{len(lines)})")
    patterns = []
    for spec in args.pattern:
        rng, _, name = spec.partition("=")
        for a, b in parse_ranges(rng):
            patterns.append([a, b, name])
    rec = {"sha256": note["sha256"], "folder": note["folder"], "part": note["part"],
           "junk": junk, "meta": meta, "patterns": patterns, "by": args.by, "note": args.note}
    labels_dir.mkdir(exist_ok=True)
    (labels_dir / f"{note['sha256']}.json").write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"saved {note['sha256'][:16]}: {sum(b - a + 1 for a, b in junk)} junk, {sum(b - a + 1 for a, b in meta)} meta lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
