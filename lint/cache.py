"""The result cache: unchanged files are not parsed again.

A cached result is keyed by the SHA-256 of (the file's bytes, tidymark's own code and
data, the Python version, and the exact rules with their options that run on the file),
so no change of content, rule, option or tidymark version can reuse a stale result.
Entries are small JSON files in a sharded folder, written through a temporary file and
renamed into place, so concurrent runs never see half an entry.  The folder is bounded:
at the end of a run, least recently used entries beyond ``max_bytes`` are deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from tidymark.diagnostics import Applicability, Diagnostic, Edit, Fix, FixKind, Severity
from tidymark.source import Span

CACHE_DIR_NAME = ".tidymark_cache"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
FORMAT = 2
#: An entry used again is marked as recently used (for pruning) at most this often (seconds).
TOUCH_AFTER = 3600


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of tidymark's version, the Python version and its source and data files.

    A file counts by its path, size and modification time (as a build tool's cache does):
    editing, replacing or reinstalling any of them changes the fingerprint, and a one-file
    run does not read and hash the whole package.
    """
    import tidymark
    import tidymark.rules

    h = hashlib.sha256(f"{FORMAT}|{tidymark.__version__}|{sys.version}".encode())
    roots = [os.path.dirname(tidymark.__file__), *tidymark.rules.__path__]
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".yaml", ".yml", ".json")):
                    path = os.path.join(folder, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    h.update(f"{os.path.relpath(path, root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def rules_fingerprint(rules) -> str:
    h = hashlib.sha256()
    for r in rules:
        h.update(f"{type(r).__module__}.{type(r).__qualname__}|{r.code}|{r.options!r}\n".encode())
        if not type(r).__module__.startswith("tidymark."):
            try:  # plugin and local rules: their own source counts too
                import inspect

                h.update(inspect.getsource(type(r)).encode())
            except (OSError, TypeError):
                h.update(b"?")
    return h.hexdigest()


def to_json(d: Diagnostic) -> dict:
    fix = None
    if d.fix is not None:
        fix = {"a": int(d.fix.applicability), "t": d.fix.title, "k": d.fix.kind.value,
               "e": [[e.span.start, e.span.end, e.text] for e in d.fix.edits]}
    return {"c": d.code, "n": d.name, "m": d.message, "s": [d.span.start, d.span.end], "v": int(d.severity),
            "p": [d.line, d.column, d.end_line, d.end_column], "f": fix}


_EDITS = Fix.__dict__["edits"]  # the slot of Fix.edits


class _CachedFix(Fix):
    """A fix read back from the cache: its edits are built on first use.

    A warm run that prints text never looks at them, and a note with an escaped body carries
    thousands.  Everything else behaves as :class:`Fix` (equality, copies, pickling).
    """

    __slots__ = ("_raw",)

    @property  # type: ignore[override]
    def edits(self) -> tuple[Edit, ...]:
        raw = getattr(self, "_raw", None)
        if raw is not None:  # written in Fix's order, so no sorting again
            _EDITS.__set__(self, tuple(Edit(Span(a, b), t) for a, b, t in raw))
            object.__setattr__(self, "_raw", None)
        return _EDITS.__get__(self, Fix)

    @edits.setter
    def edits(self, value: tuple[Edit, ...]) -> None:  # Fix.__init__, dataclasses.replace, unpickling
        _EDITS.__set__(self, value)
        object.__setattr__(self, "_raw", None)

    def __eq__(self, other: object) -> bool:  # equal to the Fix it was written from
        if not isinstance(other, Fix):
            return NotImplemented
        return (self.edits, self.applicability, self.title, self.kind) == \
            (other.edits, other.applicability, other.title, other.kind)

    __hash__ = Fix.__hash__

    def __repr__(self) -> str:
        return Fix.__repr__(self).replace(type(self).__name__, "Fix", 1)

    @classmethod
    def from_json(cls, f: dict) -> "_CachedFix":
        raw = f["e"]
        # checked now (cheaply), so that a damaged entry is a cache miss, not a later error
        if not isinstance(raw, list) or not all(
                type(e) is list and len(e) == 3 and type(e[0]) is int and type(e[1]) is int
                and 0 <= e[0] <= e[1] and type(e[2]) is str for e in raw):
            raise ValueError("damaged fix edits")
        fix = object.__new__(cls)
        object.__setattr__(fix, "_raw", raw)
        object.__setattr__(fix, "applicability", Applicability(f["a"]))
        object.__setattr__(fix, "title", f["t"])
        object.__setattr__(fix, "kind", FixKind(f["k"]))
        return fix


def from_json(o: dict) -> Diagnostic:
    fix = None
    if o["f"] is not None:
        fix = _CachedFix.from_json(o["f"])
    line, col, eline, ecol = o["p"]
    return Diagnostic(o["c"], o["n"], o["m"], Span(*o["s"]), Severity(o["v"]), fix, line, col, eline, ecol)


def write_entry(directory: Path, path: Path, data) -> None:
    """Write one JSON file of the cache folder ``directory`` whole or not at all (through a
    temporary file renamed into place, so concurrent runs never read half of it).  Failing
    to write is not an error: the entry is only missing next time."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (directory / ".gitignore").exists():
            (directory / ".gitignore").write_text("# created by tidymark\n*\n", encoding="utf-8")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


class ResultCache:
    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.directory = directory
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def key(self, data: bytes, rules_fp: str) -> str:
        h = hashlib.sha256(code_fingerprint().encode())
        h.update(rules_fp.encode())
        h.update(hashlib.sha256(data).digest())
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> tuple[list[Diagnostic], dict] | None:
        """The cached diagnostics and cross-document facts of a file, or None."""
        p = self._path(key)
        try:
            with open(p, "rb") as fh:
                used = os.fstat(fh.fileno()).st_mtime
                raw = json.loads(fh.read())
            out = ([from_json(o) for o in raw["d"]], dict(raw.get("f") or {}))
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        if time.time() - used > TOUCH_AFTER:
            try:
                os.utime(p)  # recently used: kept by pruning
            except OSError:
                pass
        self.hits += 1
        return out

    def put(self, key: str, diagnostics: list[Diagnostic], facts: dict | None = None) -> None:
        write_entry(self.directory, self._path(key),
                    {"d": [to_json(d) for d in diagnostics], "f": facts or {}})

    def prune(self) -> int:
        """Delete least recently used entries beyond ``max_bytes``; returns how many."""
        try:
            entries = []
            total = 0
            for sub in self.directory.iterdir():
                if not sub.is_dir():
                    continue
                for f in sub.iterdir():
                    st = f.stat()
                    entries.append((st.st_mtime, st.st_size, f))
                    total += st.st_size
        except OSError:
            return 0
        removed = 0
        if total <= self.max_bytes:
            return 0
        for _, size, f in sorted(entries):
            try:
                f.unlink()
            except OSError:
                continue
            removed += 1
            total -= size
            if total <= self.max_bytes * 0.8:
                break
        return removed
