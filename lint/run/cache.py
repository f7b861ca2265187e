"""The result cache: unchanged files are not parsed again.

A cached result is keyed by the SHA-256 of (the file's bytes, tidymark's own code and
data, the Python version, and the exact rules with their options that run on the file),
so no change of content, rule, option or tidymark version can reuse a stale result.
Entries are small JSON files in a sharded folder, written through a temporary file and
renamed into place, so concurrent runs never see half an entry.  The folder is bounded:
at the end of a run, the shard folders it wrote to are pruned, least recently used entries
first, to their share of ``max_bytes``.

A run over a folder also keeps a :class:`FileIndex`: for each file, its stat signature, the
digest of its bytes and its last result, in one file per folder of notes.  An unchanged file
is then answered with one ``stat``: not read, not hashed, no entry file opened.

Every file of the cache folder is sealed: it starts with a checksum of the rest of its bytes
and of what it belongs to (an entry's key, an index file's folder).  A file whose checksum
does not match (a flipped bit, a torn or foreign write, an entry copied under another key)
is a miss, so a damaged cache costs time, never a wrong result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from functools import lru_cache
from pathlib import Path

from tidymark.diagnostics import Applicability, Diagnostic, Edit, Fix, FixKind, Severity
from tidymark.source import Span

CACHE_DIR_NAME = ".tidymark_cache"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
#: Entries are kept in 256 shard folders named by the first two hex digits of their key.
SHARDS = 256
#: How far a file server's clock may lag behind this machine's for pruning to still find the
#: shard folders a run's worker processes wrote to (by their modification time).
CLOCK_SKEW_NS = 60_000_000_000
FORMAT = 4
#: An entry used again is marked as recently used (for pruning) at most this often (seconds).
TOUCH_AFTER = 3600


def cache_folder(configured: Path | None) -> Path:
    """The cache folder: the configured one (``cache-dir``, ``--cache-dir``), else
    ``.tidymark_cache`` in the folder the run starts in."""
    return configured or Path.cwd() / CACHE_DIR_NAME


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
               "e": _compact_json([[e.span.start, len(e.span), e.text] for e in d.fix.edits])}
    return {"c": d.code, "n": d.name, "m": d.message, "s": [d.span.start, d.span.end], "v": int(d.severity),
            "p": [d.line, d.column, d.end_line, d.end_column], "f": fix}


_EDITS = Fix.__dict__["edits"]  # the slot of Fix.edits

# A fix's edits are kept as one JSON string of [start, length, text] triples: reading an
# entry back then costs one string, not a list per edit (an escaped body's fix has thousands,
# and a warm run that prints text never looks at them).  The string is checked against this
# expression when read (at C speed), so a damaged one is a cache miss, and once it matches it
# can only parse to valid edits (lengths cannot be negative).
_compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # as every cache file is written
_ascii_json = json.JSONEncoder(separators=(",", ":")).encode  # ... but one that holds a lone surrogate
_JSON_STR = r'"[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+"'
_JSON_INT = r"(?:0|[1-9][0-9]*+)"
_EDIT_JSON = rf"\[{_JSON_INT},{_JSON_INT},{_JSON_STR}\]"
_EDITS_JSON = re.compile(rf"\[(?:{_EDIT_JSON}(?:,{_EDIT_JSON})*+)?\]")


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
            _EDITS.__set__(self, tuple(Edit(Span(a, a + n), t) for a, n, t in json.loads(raw)))
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
        if type(raw) is not str or _EDITS_JSON.fullmatch(raw) is None:
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


@lru_cache(maxsize=64)
def _key_hasher(code_fp: str, rules_fp: str):
    """The hash of the code and rules fingerprints, to which each key adds its content."""
    h = hashlib.sha256(code_fp.encode())
    h.update(rules_fp.encode())
    return h


def parse_entry(raw) -> tuple[list[Diagnostic], dict] | None:
    """The diagnostics and facts of a stored entry, or None when it is damaged."""
    try:
        return [from_json(o) for o in raw["d"]], dict(raw.get("f") or {})
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def digest(data: bytes) -> str:
    """The digest of a file's bytes that its entry key is made from."""
    return hashlib.sha256(data).hexdigest()


#: A sealed cache file: ``{"x":"<checksum>",`` then the rest of the JSON object, the checksum
#: being that of the rest's bytes and of what the file belongs to (see :func:`unseal`).
_SEAL_HEAD = b'{"x":"'
_SEAL_HEX = 32
_SEAL_BODY = len(_SEAL_HEAD) + _SEAL_HEX + 2


def _checksum(belongs_to: str, body) -> bytes:
    """128 bits of SHA-256 (hardware-accelerated on current CPUs: twice BLAKE2b's speed here)."""
    h = hashlib.sha256(belongs_to.encode("utf-8", "surrogateescape"))
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()[:_SEAL_HEX].encode("ascii")


def seal(payload: bytes, belongs_to: str = "") -> bytes:
    """A JSON object's bytes with the checksum of its content and ``belongs_to`` put first
    (still one JSON object, with an ``x`` member)."""
    body = payload[1:]
    if payload[:1] != b"{" or body.lstrip()[:1] == b"}":
        raise ValueError("only a non-empty JSON object can be sealed")
    return _SEAL_HEAD + _checksum(belongs_to, body) + b'",' + body


def unseal(data: bytes, belongs_to: str = "") -> bool:
    """Whether ``data`` is a sealed file whose checksum matches its content and ``belongs_to``
    (one hash of the bytes, at C speed: a warm run does not notice it)."""
    return (data[:len(_SEAL_HEAD)] == _SEAL_HEAD and data[_SEAL_BODY - 2:_SEAL_BODY] == b'",'
            and data[len(_SEAL_HEAD):_SEAL_BODY - 2] == _checksum(belongs_to, memoryview(data)[_SEAL_BODY:]))


def read_entry(path: Path, belongs_to: str = ""):
    """The JSON value of a sealed cache file, or None when it is missing, damaged or not
    the one for ``belongs_to``."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        return json.loads(data) if unseal(data, belongs_to) else None
    except (OSError, ValueError):
        return None


def write_entry(directory: Path, path: Path, data, belongs_to: str = "") -> None:
    """Write one JSON file of the cache folder ``directory`` whole or not at all (through a
    temporary file renamed into place, so concurrent runs never read half of it), sealed
    with the checksum of its content and ``belongs_to`` (:func:`seal`).  Failing to write is
    not an error: the entry is only missing next time."""
    try:
        payload = (data if isinstance(data, str) else _compact_json(data)).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (a file name that is not UTF-8): escaped, as JSON allows
        payload = _ascii_json(json.loads(data) if isinstance(data, str) else data).encode("ascii")
    try:
        payload = seal(payload, belongs_to)
    except ValueError:  # not an object (no caller writes one): nothing kept, as for a failed write
        return
    from tidymark.run.fsio import replace_via_temp

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not (directory / ".gitignore").exists():
            (directory / ".gitignore").write_text("# created by tidymark\n*\n", encoding="utf-8")
        replace_via_temp(path, payload, "", durable=False, prefix=".tmp-")
    except OSError:
        pass


class ResultCache:
    def __init__(self, directory: Path, max_bytes: int | None = None):
        self.directory = directory
        self.max_bytes = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
        self.written: set[str] = set()  # the shard folders this process wrote entries to
        self.hits = 0
        self.misses = 0

    def key(self, data: bytes, rules_fp: str) -> str:
        return self.key_for_digest(digest(data), rules_fp)

    @staticmethod
    def key_for_digest(content_digest: str, rules_fp: str) -> str:
        """The entry key of content with this :func:`digest` under these rules."""
        h = _key_hasher(code_fingerprint(), rules_fp).copy()
        h.update(bytes.fromhex(content_digest))
        return h.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> tuple[list[Diagnostic], dict] | None:
        """The cached diagnostics and cross-document facts of a file, or None."""
        hit = self.get_entry(key)
        return None if hit is None else hit[:2]

    def get_entry(self, key: str) -> tuple[list[Diagnostic], dict, dict] | None:
        """The cached diagnostics and facts of a file with the entry they were read from, or None."""
        p = self._path(key)
        try:
            with open(p, "rb") as fh:
                used = os.fstat(fh.fileno()).st_mtime
                data = fh.read()
            # damaged, or another key's entry (swapped, copied): a miss, never a wrong result
            raw = json.loads(data) if unseal(data, key) else None
            raw.pop("x")
        except (OSError, ValueError, AttributeError):
            self.misses += 1
            return None
        out = parse_entry(raw)
        if out is None:
            self.misses += 1
            return None
        if time.time() - used > TOUCH_AFTER:
            try:
                os.utime(p)  # recently used: kept by pruning
            except OSError:
                pass
        self.hits += 1
        return (*out, raw)

    def put(self, key: str, diagnostics: list[Diagnostic], facts: dict | None = None) -> dict:
        """Store a file's result; returns the entry as written."""
        entry = {"d": [to_json(d) for d in diagnostics], "f": facts or {}}
        write_entry(self.directory, self._path(key), entry, key)
        self.written.add(key[:2])
        return entry

    def prune(self, since_ns: int | None = None) -> int:
        """Delete least recently used entries beyond the bound; returns how many.

        Without ``since_ns``: the whole folder, down to ``max_bytes``.  With it (the time a
        run started): only the shard folders written since then, each down to its share of
        ``max_bytes`` (keys are uniform, so the shares fill alike).  A run that wrote one
        entry lists one shard, not the whole cache: its cost does not grow with the cache.
        Written means written by this process, or (worker processes) changed since the run
        started by the folder's time, with :data:`CLOCK_SKEW_NS` of leeway for a file server
        whose clock is behind.
        """
        if since_ns is None:
            return self._prune_files(self._folder_files(self._shards()), self.max_bytes)
        removed = 0
        share = self.max_bytes / SHARDS
        shards = set(self._shards(since_ns - CLOCK_SKEW_NS))
        shards.update(os.path.join(self.directory, s) for s in self.written)
        self.written.clear()
        for shard in sorted(shards):
            removed += self._prune_files(self._folder_files([shard]), share)
        return removed

    def _shards(self, changed_since_ns: int | None = None) -> list[str]:
        """The shard folders (those changed at or after ``changed_since_ns``, if given)."""
        try:
            with os.scandir(self.directory) as it:
                return [e.path for e in it if len(e.name) == 2 and e.is_dir(follow_symlinks=False)
                        and (changed_since_ns is None or e.stat().st_mtime_ns >= changed_since_ns)]
        except OSError:
            return []

    @staticmethod
    def _folder_files(folders: list[str]) -> list[tuple[float, int, str]]:
        """(last use, size, path) of every file in these folders (shards, or the index's)."""
        out = []
        for folder in folders:
            try:
                with os.scandir(folder) as it:
                    for e in it:
                        try:
                            st = e.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        out.append((st.st_mtime, st.st_size, e.path))
            except OSError:
                continue
        return out

    @staticmethod
    def _prune_files(files: list[tuple[float, int, str]], bound: float) -> int:
        """Delete the least recently used of ``files`` until they hold 80 % of ``bound``
        (nothing when they are within it)."""
        total = sum(size for _, size, _ in files)
        if total <= bound:
            return 0
        removed = 0
        for _, size, path in sorted(files):
            try:
                os.unlink(path)
            except OSError:
                continue
            removed += 1
            total -= size
            if total <= bound * 0.8:
                break
        return removed


def signature(st: os.stat_result) -> list[int]:
    """What a file's stat says about its bytes: device, inode, size, modification and
    inode-change times.  Any write changes the inode-change time (which no tool can set
    back, unlike the modification time); a replace changes the inode."""
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


#: A file changed this shortly before it was read is not indexed: a second change within the
#: same tick of a coarse file-system clock would leave its signature as it was.
RACY_NS = 2_000_000_000
#: The index is a folder of the cache folder: one JSON file per folder of notes.
INDEX_NAME = "index"
INDEX_FORMAT = 2
#: Entries longer than this (as JSON) are not copied into the index, only their key: a note
#: with many findings is answered from its entry file, and the index a warm run holds in memory
#: stays small (~1 KB per file).
INDEX_ENTRY_MAX = 2048
#: Folders whose index files a run holds at once (a walk in path order leaves a folder for its
#: sub-folders and comes back to it: a few are kept open).
OPEN_FOLDERS = 16


def settled(sig: list[int], read_ns: int) -> bool:
    """Whether a file with this signature, read at ``read_ns``, can be indexed."""
    return max(sig[3], sig[4]) < read_ns - RACY_NS


class _Folder:
    """The index records of the files of one folder, by file name, as one run holds them."""

    __slots__ = ("path", "records", "loaded_stat", "changed")

    def __init__(self, path: Path, folder: str):
        self.path = path
        self.records, self.loaded_stat = self._load(folder)
        self.changed: dict[str, list] = {}

    def _load(self, folder: str) -> tuple[dict[str, list], list[int] | None]:
        try:
            with open(self.path, "rb") as fh:
                sig = signature(os.fstat(fh.fileno()))
                data = fh.read()
            raw = json.loads(data) if unseal(data, folder) else {}  # damaged or foreign: no records
            ok = raw.get("format") == INDEX_FORMAT and raw.get("folder") == folder
            records = raw["files"] if ok else {}
            return (records if isinstance(records, dict) else {}), sig
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}, None

    def save(self, folder: str, max_bytes: int) -> bool:
        """Write this run's records, merged with what other runs saved meanwhile; whether it wrote."""
        if not self.changed:
            return False
        records = self.records
        try:
            on_disk = signature(os.stat(self.path))
        except OSError:
            on_disk = None
        if on_disk != self.loaded_stat:  # another run saved meanwhile: keep its records too
            records = self._load(folder)[0]
        records.update(self.changed)
        data = _compact_json({"format": INDEX_FORMAT, "folder": folder, "files": records})
        if len(data) > max_bytes:
            newest = sorted(records.items(), key=lambda kv: kv[1][4] if type(kv[1]) is list and len(kv[1]) == 5
                            and type(kv[1][4]) is int else 0, reverse=True)
            kept, size = {}, 0
            for name, rec in newest:
                size += len(json.dumps(rec, ensure_ascii=False)) + len(name) + 8
                if size > max_bytes * 0.8:
                    break
                kept[name] = rec
            records = kept
            data = _compact_json({"format": INDEX_FORMAT, "folder": folder, "files": records})
        self.records, self.changed = records, {}
        write_entry(self.path.parent.parent, self.path, data, folder)
        return True


class FileIndex:
    """The files a run saw, by absolute path: stat signature, digest of the bytes, and the
    entry key and entry of the last result — one JSON file per folder of notes, in the
    ``index`` folder of the cache folder.

    A file whose stat signature is the recorded one has the recorded bytes (as in git's
    index): its digest is not computed again, and when its recorded entry key is the one
    today's code and rules give for that digest, the recorded entry is its result (a long
    entry is not copied: its entry file is read).  Every record is checked this way on its
    own, so a record can be old, missing or lost to a concurrent run, never wrong.  Saving
    merges with what other runs saved meanwhile.  A run holds the records of a few folders at
    a time (its memory does not grow with the number of folders), and the index is bounded to
    a sixteenth of the cache's size: the folders least recently used go first, and a folder's
    file keeps the records seen last.
    """

    def __init__(self, directory: Path, max_bytes: int | None = None):
        self.directory = directory
        self.folder = directory / INDEX_NAME
        self.max_bytes = (DEFAULT_MAX_BYTES if max_bytes is None else max_bytes) // 16
        self._open: dict[str, _Folder] = {}
        self._wrote = False

    def path_for(self, folder: str) -> Path:
        """The index file of the notes in ``folder`` (an absolute path)."""
        return self.folder / f"{hashlib.sha256(folder.encode('utf-8', 'surrogateescape')).hexdigest()[:32]}.json"

    def _records(self, folder: str) -> _Folder:
        held = self._open.pop(folder, None)
        if held is None:
            held = _Folder(self.path_for(folder), folder)
            if len(self._open) >= OPEN_FOLDERS:
                oldest = next(iter(self._open))
                self._wrote |= self._open.pop(oldest).save(oldest, self.max_bytes)
        self._open[folder] = held  # (the most recently used last)
        return held

    def lookup(self, name: str, sig: list[int]) -> tuple[str, str, dict | None] | None:
        """(digest, entry key, entry) recorded for the file ``name`` with this signature, or
        None; the entry is None when it was too long to copy (read it from its file)."""
        folder, base = os.path.split(name)
        held = self._records(folder)
        rec = held.records.get(base)
        if type(rec) is not list or len(rec) != 5 or rec[0] != sig:
            return None
        _, content, key, entry, seen = rec
        if type(content) is not str or type(key) is not str or not (entry is None or type(entry) is dict):
            return None
        if type(seen) is int and time.time() - seen > TOUCH_AFTER:
            held.changed[base] = [sig, content, key, entry, int(time.time())]  # recently used
        return content, key, entry

    def record(self, name: str, sig: list[int], content: str, key: str, entry: dict) -> None:
        folder, base = os.path.split(name)
        held = self._records(folder)
        old = held.records.get(base)
        if type(old) is list and len(old) == 5 and old[:3] == [sig, content, key]:
            return
        if len(_compact_json(entry)) > INDEX_ENTRY_MAX:
            entry = None
        held.changed[base] = [sig, content, key, entry, int(time.time())]

    def save(self) -> None:
        """Write the records of this run into the index (nothing when none changed), then
        bound the index: least recently written folders first."""
        for folder, held in self._open.items():
            self._wrote |= held.save(folder, self.max_bytes)
        if not self._wrote:
            return
        self._wrote = False
        try:
            os.unlink(self.directory / "files.json")  # the one-file index of earlier versions
        except OSError:
            pass
        ResultCache._prune_files(ResultCache._folder_files([str(self.folder)]), self.max_bytes)
