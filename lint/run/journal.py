"""The fix journal: the original bytes of every file a ``fix`` run changed, and ``undo``.

Before a file is replaced, its original bytes and a small record (the path, the SHA-256 of
the original and of the content about to be written, the mode) are written to the run's
journal folder and flushed to disk, so the original survives whatever happens next.  At
the end of the run (also when it is interrupted) the records are gathered into
``manifest.json``.  The default journal lives in ``<cache-dir>/journal/<run-id>/`` and only
the newest :data:`KEEP_RUNS` runs are kept; ``fix --backup DIR`` writes it to DIR instead.

``undo`` puts a file back only while it still holds exactly what tidymark wrote: a file
edited (or deleted) since is reported and left alone.  Restoring goes through the same
atomic replace as fixing, and keeps the file's current mode.

A journal is data that may come from elsewhere (a cache folder committed to a repository):
``undo`` restores only files inside the folder it runs in and the folder the fix run was
started in (both resolved, so a symlink cannot lead out), each from the backup its own
record names (``files/<key of the path>.orig``); any other record is refused and named.  A
run whose manifest is damaged is listed as damaged and undone from its per-file records.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL_DIR_NAME = "journal"
MANIFEST = "manifest.json"
ENTRIES = "files"
UNDONE = "undone.json"
KEEP_RUNS = 20
FORMAT = 1
_RUN_ID = re.compile(r"^\d{8}T\d{6}(?:\.\d+)?-\d+(?:-\d+)?$")


class JournalError(Exception):
    """The journal cannot be written or read; the message is for the user."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_run_id() -> str:
    """A sortable, unique run id: UTC time to the microsecond, then the process id."""
    now = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return f"{stamp}.{int(now % 1 * 1_000_000):06d}-{os.getpid()}"


def journal_root(cache_dir: Path) -> Path:
    return cache_dir / JOURNAL_DIR_NAME


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync'd, then renamed into place."""
    from tidymark.run.fsio import replace_via_temp

    replace_via_temp(path, data, ".tmp")


@dataclass
class Entry:
    path: str               # the file that was written (a symlink's target), absolute
    display: str            # the path as the run showed it
    backup: str             # the original bytes, relative to the run folder
    original_sha256: str
    written_sha256: str
    mode: int
    size: int

    def to_json(self) -> dict:
        return {"path": self.path, "display": self.display, "backup": self.backup,
                "original_sha256": self.original_sha256, "written_sha256": self.written_sha256,
                "mode": self.mode, "size": self.size}

    @classmethod
    def from_json(cls, o: dict) -> "Entry":
        return cls(str(o["path"]), str(o.get("display") or o["path"]), str(o["backup"]),
                   str(o["original_sha256"]), str(o["written_sha256"]), int(o.get("mode", 0o644)),
                   int(o.get("size", 0)))


class Journal:
    """One run's journal folder; safe to use from several worker processes at once."""

    def __init__(self, directory: Path):
        self.directory = directory

    @property
    def entries_dir(self) -> Path:
        return self.directory / ENTRIES

    @staticmethod
    def _key(real: str) -> str:
        return sha256(os.fsencode(real))[:32]

    def save(self, real_path: str, display: str, original: bytes, new: bytes, mode: int) -> Entry:
        """Keep ``original`` (fsync'd) before ``real_path`` is replaced by ``new``.

        Raises :class:`JournalError` when the backup cannot be written: the caller must then
        leave the file alone.
        """
        key = self._key(real_path)
        entry = Entry(real_path, display, f"{ENTRIES}/{key}.orig", sha256(original), sha256(new), mode,
                      len(original))
        try:
            created = not self.entries_dir.is_dir()
            self.entries_dir.mkdir(parents=True, exist_ok=True)
            if created:
                _fsync_dir(self.directory)
                _fsync_dir(self.directory.parent)
            _write_durable(self.entries_dir / f"{key}.orig", original)
            record = json.dumps(entry.to_json(), sort_keys=True).encode("utf-8")
            _write_durable(self.entries_dir / f"{key}.json", record)
            _fsync_dir(self.entries_dir)
        except OSError as exc:
            self.forget(real_path)
            raise JournalError(f"cannot save a backup of the original in {self.directory}: "
                               f"{exc.strerror or exc}") from None
        return entry

    def forget(self, real_path: str) -> None:
        """Drop the record of a file that was not written after all."""
        key = self._key(real_path)
        for suffix in (".json", ".orig"):
            try:
                (self.entries_dir / f"{key}{suffix}").unlink()
            except OSError:
                pass

    def records(self) -> list[Entry]:
        out = []
        try:
            names = sorted(os.listdir(self.entries_dir))
        except OSError:
            return []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                out.append(Entry.from_json(json.loads((self.entries_dir / name).read_bytes())))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        out.sort(key=lambda e: e.path)
        return out

    def finish(self, *, command: list[str], complete: bool) -> int:
        """Write ``manifest.json`` from the records; returns how many files it lists (0: none)."""
        entries = self.records()
        if not entries:
            if self.entries_dir.is_dir() and not any(self.entries_dir.iterdir()):
                try:
                    self.entries_dir.rmdir()
                    self.directory.rmdir()
                except OSError:
                    pass
            return 0
        manifest = {"format": FORMAT, "run_id": self.directory.name,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "cwd": os.getcwd(), "command": command, "complete": complete,
                    "files": [e.to_json() for e in entries]}
        try:
            _write_durable(self.directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        except OSError as exc:
            raise JournalError(f"cannot write {self.directory / MANIFEST}: {exc.strerror or exc} "
                               f"(the backups themselves are in {self.entries_dir})") from None
        return len(entries)


def prune(root: Path, keep: int = KEEP_RUNS) -> list[Path]:
    """Delete all but the newest ``keep`` runs under ``root``; returns what was deleted."""
    import shutil

    runs = list_runs(root)
    removed = []
    for run in runs[:-keep] if keep else runs:
        try:
            shutil.rmtree(run.directory)
            removed.append(run.directory)
        except OSError:
            continue
    return removed


# -- reading runs back -------------------------------------------------------------------

@dataclass
class Run:
    directory: Path
    entries: list[Entry] = field(default_factory=list)
    complete: bool = True
    created: str = ""
    command: list[str] = field(default_factory=list)
    undone: str | None = None
    cwd: str | None = None      # the folder the run was started in (from its manifest)
    damaged: str | None = None  # why the manifest could not be read (the records stand in for it)

    @property
    def run_id(self) -> str:
        return self.directory.name


def load_run(directory: Path) -> Run:
    """Read a run folder (its manifest, or the records when the run never finished)."""
    manifest = directory / MANIFEST
    run = Run(directory)
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_bytes())
            run.entries = [Entry.from_json(o) for o in data["files"]]
            run.complete = bool(data.get("complete", True))
            run.created = str(data.get("created", ""))
            run.command = [str(c) for c in data.get("command", [])]
            cwd = data.get("cwd")
            run.cwd = cwd if isinstance(cwd, str) else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # the per-file records were written (and flushed) before each file was replaced:
            # they stand in for the manifest, as for a run that never finished
            run = Run(directory, Journal(directory).records(), complete=False,
                      damaged=f"{MANIFEST} cannot be read ({exc or type(exc).__name__})")
    elif (directory / ENTRIES).is_dir():
        run.entries = Journal(directory).records()
        run.complete = False
    else:
        raise JournalError(f"{directory} holds no tidymark journal (no {MANIFEST})")
    undone = directory / UNDONE
    if undone.is_file():
        try:
            run.undone = str(json.loads(undone.read_bytes()).get("undone", "")) or "yes"
        except (OSError, ValueError, AttributeError):
            run.undone = "yes"
    return run


def list_runs(root: Path) -> list[Run]:
    """The runs under a journal root, oldest first (run ids sort by time)."""
    try:
        names = sorted(n for n in os.listdir(root) if _RUN_ID.match(n))
    except OSError:
        return []
    out = []
    for name in names:
        try:
            run = load_run(root / name)
        except JournalError:
            continue
        if run.entries or run.damaged:  # a damaged run is listed (as damaged), never skipped
            out.append(run)
    return out


@dataclass
class UndoOutcome:
    restored: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)     # already the original content
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why): edited or deleted since
    failed: list[tuple[str, str]] = field(default_factory=list)   # (path, why): could not be read or written
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why): a record undo does not trust
    marked: bool = False                                          # the run is now marked undone


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def refusal(e: Entry, run: Run, root: Path) -> str | None:
    """Why undo must not act on the record ``e`` of ``run`` from the folder ``root``, or None.

    A record is trusted only for an absolute, normalised path (no ``..``) that resolves (links
    followed) inside ``root`` and inside the folder the run was started in, restored from the
    backup its own key names inside the run folder.
    """
    p = e.path
    if not os.path.isabs(p) or os.path.normpath(p) != p or p.startswith("//"):
        return "the journal names it by a path that is not absolute and normalised (crafted or damaged record)"
    if e.backup != f"{ENTRIES}/{Journal._key(p)}.orig":
        return f"the record names backup {e.backup!r}, not its own (crafted or damaged record)"
    real = os.path.realpath(p)
    roots = [os.path.realpath(root)]
    if run.cwd is not None:
        roots.append(os.path.realpath(run.cwd) if os.path.isabs(run.cwd) else "")
    for folder in roots:
        if not folder or not _inside(real, folder):
            where = folder or run.cwd
            return (f"outside {where or 'the folder the run was started in'} (undo restores only files "
                    f"inside the folder it runs in and the folder the fix run was started in; the original "
                    f"is in {run.directory / e.backup})")
    return None


def _label(path: str) -> str:
    """A path as the user would type it here: relative below the current folder, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def undo(run: Run, *, dry_run: bool = False, root: Path | None = None) -> UndoOutcome:
    """Put back the original of every file that still holds what the run wrote, among the
    files inside ``root`` (default: the current folder) that :func:`refusal` lets through.

    The run is marked undone only when something was restored (or every file already held
    its original) and nothing failed or was refused.
    """
    from tidymark.run.rulebook import write_atomic

    out = UndoOutcome()
    root = Path.cwd() if root is None else root
    for e in run.entries:
        path = Path(e.path)
        label = _label(e.path)
        why = refusal(e, run, root)
        if why is not None:
            out.refused.append((label, why))
            continue
        try:
            original = (run.directory / e.backup).read_bytes()
        except OSError as exc:
            out.failed.append((label, f"backup {run.directory / e.backup} cannot be read: {exc.strerror or exc}"))
            continue
        if sha256(original) != e.original_sha256:
            out.failed.append((label, f"backup {run.directory / e.backup} is damaged (checksum mismatch)"))
            continue
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            out.skipped.append((label, "deleted since the fix run; not restored (the original is in "
                                       f"{run.directory / e.backup})"))
            continue
        except OSError as exc:
            out.failed.append((label, f"cannot read: {exc.strerror or exc}"))
            continue
        digest = sha256(current)
        if digest == e.original_sha256:
            out.already.append(label)
            continue
        if digest != e.written_sha256:
            out.skipped.append((label, "changed since the fix run; not restored, so the newer edit is kept "
                                       f"(the original is in {run.directory / e.backup})"))
            continue
        if dry_run:
            out.restored.append(label)
            continue
        try:
            write_atomic(path, original, current)
        except OSError as exc:
            out.failed.append((label, f"cannot restore: {exc.strerror or exc}"))
            continue
        out.restored.append(label)
    # files edited since stay as they are: the run is done, once it restored something (or
    # found every file as before); a run that restored nothing stays listed as it was
    done = bool(out.restored) or (bool(out.already) and not out.skipped)
    if not dry_run and done and not out.failed and not out.refused:
        try:
            _write_durable(run.directory / UNDONE, json.dumps(
                {"undone": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}).encode("utf-8"))
            out.marked = True
        except OSError:
            pass
    return out
