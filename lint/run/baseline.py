"""Baselines: adopt tidymark on a big vault without fixing everything first.

``tidymark check --write-baseline FILE`` records today's problems; ``--baseline FILE``
then reports only problems that are not in it.  A problem is matched by *content*, not
by line: (file path, rule code, the flagged text with whitespace collapsed).  Editing
text above a known problem therefore does not resurrect it, while a second copy of the
same problem in the same file is new (counts are compared).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from pathlib import Path

FORMAT = 1
MAX_BASELINE_BYTES = 256 * 1024 * 1024  # some two million problems


class BaselineError(Exception):
    pass


# line numbers in messages ("(line 12)") move with edits above the problem
_LINE_REF = re.compile(r"\blines? \d+(?:\s*[-–]\s*\d+)?")


def fingerprint(code: str, flagged: str, message: str) -> str:
    basis = " ".join(flagged.split()) if flagged.strip() else _LINE_REF.sub("line #", message)
    return hashlib.sha256(f"{code}\0{basis}".encode()).hexdigest()[:20]


def _key_path(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def keys_for(result, base: Path) -> list[tuple[str, str, str]]:
    """(path, code, fingerprint) of every diagnostic of a file result."""
    text = result.text or ""
    p = _key_path(result.path, base)
    return [(p, d.code, fingerprint(d.code, text[d.span.start:d.span.end], d.message)) for d in result.diagnostics]


class Baseline:
    def __init__(self, path: Path, counts: Counter | None = None):
        self.path = path
        self.base = path.resolve().parent
        self.counts: Counter = counts or Counter()

    @classmethod
    def load(cls, path: Path) -> "Baseline":
        from tidymark.run.config import read_input

        try:
            data = json.loads(read_input(path, MAX_BASELINE_BYTES).decode("utf-8"))
        except FileNotFoundError:
            raise BaselineError(f"{path}: baseline file not found (create it with --write-baseline)") from None
        except (OSError, ValueError) as exc:
            raise BaselineError(f"{path}: cannot read baseline: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("problems"), list):
            raise BaselineError(f"{path}: not a tidymark baseline (format {FORMAT})")
        counts: Counter = Counter()
        for item in data["problems"]:
            try:
                counts[(item["path"], item["code"], item["fingerprint"])] += int(item.get("count", 1))
            except (KeyError, TypeError, ValueError):
                raise BaselineError(f"{path}: malformed entry {item!r}") from None
        return cls(path, counts)

    def filter(self, result) -> int:
        """Drop the diagnostics of ``result`` recorded in the baseline; returns how many."""
        keys = keys_for(result, self.base)
        left = Counter(self.counts)
        kept = []
        dropped = 0
        for d, k in zip(result.diagnostics, keys):
            if left[k] > 0 and not d.code.startswith("TM00"):
                left[k] -= 1
                dropped += 1
            else:
                kept.append(d)
        result.diagnostics = kept
        return dropped

    def record(self, result) -> None:
        for k in keys_for(result, self.base):
            self.counts[k] += 1

    def write(self) -> None:
        problems = [{"path": p, "code": c, "fingerprint": f, "count": n}
                    for (p, c, f), n in sorted(self.counts.items())]
        data = {"format": FORMAT, "tool": "tidymark", "problems": problems}
        try:
            payload = (json.dumps(data, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a path with a lone surrogate (not UTF-8): escaped, as JSON allows
            payload = (json.dumps(data, indent=1) + "\n").encode("ascii")
        check_target(self.path)
        from tidymark.run.fsio import replace_via_temp

        replace_via_temp(self.path, payload, ".tmp")  # atomic; the temporary file is removed on failure


def check_target(path: Path) -> None:
    """Raise BaselineError unless a baseline can be written at ``path``: a file name (not a
    folder such as ``.`` or ``/``) in a folder that exists."""
    try:
        if path.name in ("", ".", "..") or path.is_dir():
            raise BaselineError(f"--write-baseline {path}: is a folder; name the baseline file, "
                                f"e.g. {(path / '.tidymark-baseline.json').as_posix()}")
        parent = path.parent
        if not parent.is_dir():
            raise BaselineError(f"--write-baseline {path}: the folder {parent} does not exist")
    except OSError as exc:  # a folder on the way that cannot be searched
        raise BaselineError(f"--write-baseline {path}: {exc.strerror or exc}") from None
