"""Score ``tidymark fix`` against the labelled sample: junk recall, article lines removed, meta kept.

    python benchmarks/cleaning/score.py ../shared [--part dev|held-out|all] [--unsafe-fixes]
                                                  [--tidymark "CMD"] [--show removed|article|junk-left]

The labels (``labels/*.json`` beside this script, one file per note, see ``README.md``) give,
for each sampled note, the 1-based line ranges of its body that are junk and meta; every other
non-blank body line is article.  For each vault folder with labelled notes, the whole folder is
copied to a temporary folder (so that rules that learn from the vault see all of it), checked
with ``--output-format json`` (to attribute each removal to the rule whose fix covers the line)
and fixed with the default settings.  Each labelled note is then compared line by line with its
fixed text: a line that is gone is *removed*; a line replaced by a similar one (an image URL
rewritten, entities unescaped) is *kept*.

Printed per folder, per part and overall: junk-line recall, article lines removed (each one is
printed: every one is a bug report), meta lines removed with and without their facts found in the
new front matter, and the share of removed lines that were junk or lifted meta; then recall per
rule family.  Notes are found by the SHA-256 of their bytes, so a changed file is noticed (and
skipped with a warning).  The corpus is third-party text: this script reads it and prints lines
of it to the terminal, and nothing of it is written into the project.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import html
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


# -- labels -----------------------------------------------------------------------------

def load_labels(folder: Path = HERE / "labels") -> dict[str, dict]:
    out = {}
    for path in sorted(folder.glob("*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        out[rec["sha256"]] = rec
    return out


def expand(ranges) -> set[int]:
    lines: set[int] = set()
    for r in ranges:
        a, b = int(r[0]), int(r[1])
        lines.update(range(a, b + 1))
    return lines


def split_lines(text: str) -> list[str]:
    """Lines without their endings (``\\r\\n``, ``\\n``, lone ``\\r``), as the labels count them."""
    return re.split(r"\r\n|\n|\r", text[:-1] if text.endswith("\n") else text) if text else []


def body_start(lines: list[str]) -> int:
    """0-based index of the first body line (after a ``---`` or ``+++`` front matter)."""
    if lines and lines[0].lstrip("\ufeff").rstrip() in ("---", "+++"):
        marker = lines[0].lstrip("\ufeff").rstrip()
        for i in range(1, len(lines)):
            if lines[i].rstrip() == marker or (marker == "---" and lines[i].rstrip() == "..."):
                return i + 1
    return 0


def front_matter(lines: list[str]) -> str:
    return "\n".join(lines[: body_start(lines)])


# -- comparing a note with its fixed text ------------------------------------------------

def removed_lines(old: list[str], new: list[str]) -> set[int]:
    """1-based numbers of the non-blank lines of ``old`` that are gone from ``new``.

    Blank lines are left out of the comparison (they would anchor it in the wrong places).
    Lines of a replaced block are paired in order with a similar new line (ratio >= 0.5):
    those were edited, not removed."""
    oi = [i for i, ln in enumerate(old) if ln.strip()]
    nj = [j for j, ln in enumerate(new) if ln.strip()]
    o = [old[i] for i in oi]
    n = [new[j] for j in nj]
    gone: set[int] = set()
    sm = difflib.SequenceMatcher(None, o, n, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "delete":
            gone.update(oi[i] + 1 for i in range(i1, i2))
        elif tag == "replace":
            j = j1
            for i in range(i1, i2):
                match = None
                for k in range(j, j2):
                    if _similar(o[i], n[k]):
                        match = k
                        break
                if match is None:
                    gone.add(oi[i] + 1)
                else:
                    j = match + 1
    return gone


def _similar(a: str, b: str) -> bool:
    """Is ``b`` an edit of ``a`` (entities unescaped, a URL rewritten) rather than another line?"""
    if difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.5:
        return True
    ua = html.unescape(a)
    if ua != a and difflib.SequenceMatcher(None, ua, b, autojunk=False).ratio() >= 0.5:
        return True
    sa, sb = _URL.sub("U", ua), _URL.sub("U", b)
    return (sa != ua or sb != b) and difflib.SequenceMatcher(None, sa, sb, autojunk=False).ratio() >= 0.8


_URL = re.compile(r"https?://[^\s)\]>\"']+")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_TAG = re.compile(r"(?:^|\s)#([^\s#]+)")
_WORD = re.compile(r"[\w\u3040-\u30ff\u3400-\u9fff]{2,}")


def facts_found(line: str, new_fm: str, old_fm: str) -> bool:
    """Whether the facts of a removed meta line are in the new front matter.

    URLs (up to their query), dates (year, month, day) and ``#tags`` must each be found; a line
    with none of them needs one word of two or more characters that the new front matter gained."""
    fm_dates = {tuple(int(x) for x in m.groups()) for m in _DATE.finditer(new_fm)}
    checks = []
    for url in _URL.findall(line):
        checks.append(url.split("?")[0].rstrip("/") in new_fm)
    for m in _DATE.finditer(line):
        checks.append(tuple(int(x) for x in m.groups()) in fm_dates)
    for tag in _TAG.findall(line):
        checks.append(tag.lower() in new_fm.lower())
    if checks:
        return all(checks)
    gained = set(_WORD.findall(new_fm)) - set(_WORD.findall(old_fm))
    return any(w in gained for w in _WORD.findall(line))


# -- attribution -------------------------------------------------------------------------

def fix_lines(diagnostics: list[dict]) -> dict[int, set[str]]:
    """Original line -> codes whose fix (any applicability) edits that line."""
    out: dict[int, set[str]] = defaultdict(set)
    for d in diagnostics:
        fix = d.get("fix") or {}
        for e in fix.get("edits", []):
            last = e["end_line"] - 1 if e["end_column"] == 1 and e["end_line"] > e["line"] else e["end_line"]
            for ln in range(e["line"], last + 1):
                out[ln].add(d["code"])
    return out


# -- running tidymark --------------------------------------------------------------------

def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, encoding="utf-8")
    if proc.returncode not in (0, 1):
        sys.exit(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return proc


@dataclass
class Tally:
    junk: int = 0
    junk_removed: int = 0
    meta: int = 0
    meta_lifted: int = 0
    meta_lost: int = 0
    article: int = 0
    article_removed: int = 0
    removed: int = 0
    notes: int = 0

    def add(self, other: "Tally") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def row(self, name: str) -> str:
        rec = f"{self.junk_removed / self.junk:6.1%}" if self.junk else "     -"
        prec = f"{(self.junk_removed + self.meta_lifted) / self.removed:6.1%}" if self.removed else "     -"
        return (f"{name:<44} {self.notes:>5} {self.junk:>6} {self.junk_removed:>6} {rec} "
                f"{self.meta:>5} {self.meta_lifted:>6} {self.meta_lost:>5} "
                f"{self.article:>7} {self.article_removed:>5} {prec}")


HEADER = (f"{'folder / part':<44} {'notes':>5} {'junk':>6} {'gone':>6} {'recall':>6} "
          f"{'meta':>5} {'lifted':>6} {'lost':>5} {'article':>7} {'gone':>5} {'prec.':>6}")


@dataclass
class Result:
    tallies: dict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    family_junk: Counter = field(default_factory=Counter)
    family_article: Counter = field(default_factory=Counter)
    family_meta: Counter = field(default_factory=Counter)
    article_lines: list[str] = field(default_factory=list)
    lost_meta: list[str] = field(default_factory=list)
    junk_left: list[str] = field(default_factory=list)


def score(shared: Path, labels: dict[str, dict], sample: dict, part: str, tidymark: list[str],
          extra: list[str]) -> Result:
    res = Result()
    wanted = [n for n in sample["notes"] if n["sha256"] in labels and (part == "all" or n["part"] == part)]
    by_folder: dict[str, list[dict]] = defaultdict(list)
    for n in wanted:
        by_folder[n["folder"]].append(n)
    for folder, notes in sorted(by_folder.items()):
        src = shared / folder
        with tempfile.TemporaryDirectory(prefix="tidymark-score-") as tmp:
            copy = Path(tmp) / src.name
            shutil.copytree(src, copy)
            where = {}
            for p in copy.rglob("*.md"):
                where.setdefault(hashlib.sha256(p.read_bytes()).hexdigest(), p)
            before = {n["sha256"]: where[n["sha256"]].read_bytes() for n in notes if n["sha256"] in where}
            for n in notes:
                if n["sha256"] not in where:
                    print(f"warning: note {n['sha256'][:12]} of {folder} not found (changed?)", file=sys.stderr)
            common = ["--no-cache", "--output-format", "json", *extra]
            diags = json.loads(run([*tidymark, "check", *common, "."], copy).stdout or "[]")
            by_path: dict[str, list[dict]] = defaultdict(list)
            for d in diags:
                by_path[Path(d["path"]).as_posix()].append(d)
            run([*tidymark, "fix", "--no-backup", *common, "."], copy)
            for n in notes:
                sha = n["sha256"]
                if sha not in before:
                    continue
                path = where[sha]
                rel = path.relative_to(copy).as_posix()
                old = split_lines(before[sha].decode("utf-8", "replace"))
                new = split_lines(path.read_bytes().decode("utf-8", "replace"))
                start = body_start(old)
                # bodies only: a front-matter line must not anchor the comparison of the bodies
                gone = {start + ln for ln in removed_lines(old[start:], new[body_start(new):])}
                attrib = fix_lines(by_path.get(rel, []))
                lab = labels[sha]
                junk, meta = expand(lab.get("junk", [])), expand(lab.get("meta", []))
                t = Tally(notes=1)
                old_fm, new_fm = front_matter(old), front_matter(new)
                for i in range(start, len(old)):
                    ln = i + 1
                    if not old[i].strip():
                        continue
                    fams = {c[:2] for c in attrib.get(ln, ())} or {"??"}
                    is_gone = ln in gone
                    t.removed += is_gone
                    where_s = f"{folder}/{sha[:12]}:{ln}"
                    if ln in junk:
                        t.junk += 1
                        t.junk_removed += is_gone
                        if is_gone:
                            res.family_junk.update(fams)
                        else:
                            res.junk_left.append(f"{where_s}: {old[i][:140]}")
                    elif ln in meta:
                        t.meta += 1
                        if is_gone:
                            res.family_meta.update(fams)
                            if facts_found(old[i], new_fm, old_fm):
                                t.meta_lifted += 1
                            else:
                                t.meta_lost += 1
                                res.lost_meta.append(f"{where_s} [{','.join(sorted(attrib.get(ln, ())))}]: {old[i][:140]}")
                    else:
                        t.article += 1
                        if is_gone:
                            t.article_removed += 1
                            res.family_article.update(fams)
                            res.article_lines.append(f"{where_s} [{','.join(sorted(attrib.get(ln, ())))}]: {old[i][:200]}")
                res.tallies[(folder, n["part"])].add(t)
    return res


def report(res: Result, show: set[str]) -> None:
    print(HEADER)
    total: dict[str, Tally] = defaultdict(Tally)
    for (folder, part), t in sorted(res.tallies.items()):
        print(t.row(f"{folder.split('/')[-1][:34]} {part}"))
        total[part].add(t)
        total["all"].add(t)
    print("-" * len(HEADER))
    for part in ("dev", "held-out", "all"):
        if part in total:
            print(total[part].row(f"TOTAL {part}"))
    all_t = total.get("all", Tally())
    print()
    print("junk lines removed, by rule family (a line may count for several): "
          + ", ".join(f"{k} {v}" for k, v in res.family_junk.most_common()))
    print("meta lines removed, by rule family: " + ", ".join(f"{k} {v}" for k, v in res.family_meta.most_common()))
    if all_t.article:
        print(f"article lines removed: {all_t.article_removed} of {all_t.article} "
              f"({all_t.article_removed / all_t.article:.3%}), by family: "
              + ", ".join(f"{k} {v}" for k, v in res.family_article.most_common()))
    for line in res.article_lines:
        print("  ARTICLE REMOVED  " + line)
    if "lost" in show or res.lost_meta:
        for line in res.lost_meta:
            print("  META LOST        " + line)
    if "junk-left" in show:
        for line in res.junk_left:
            print("  JUNK LEFT        " + line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shared", type=Path, help="the folder holding corpus/ and corpus-wide/")
    ap.add_argument("--part", choices=["dev", "held-out", "all"], default="dev")
    ap.add_argument("--tidymark", default=f"{sys.executable} -m tidymark",
                    help="the command that runs tidymark (default: this interpreter's)")
    ap.add_argument("--unsafe-fixes", action="store_true", help="also apply unsafe fixes")
    ap.add_argument("--show", action="append", default=[], choices=["junk-left", "lost"],
                    help="also print the junk lines left in place / meta lines lost")
    args = ap.parse_args(argv)
    sample = json.loads((HERE / "sample.json").read_text(encoding="utf-8"))
    labels = load_labels()
    if not labels:
        sys.exit("no labels found in " + str(HERE / "labels"))
    extra = ["--unsafe-fixes"] if args.unsafe_fixes else []
    res = score(args.shared, labels, sample, args.part, shlex.split(args.tidymark), extra)
    report(res, set(args.show))
    return 0


if __name__ == "__main__":
    sys.exit(main())
