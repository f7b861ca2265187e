"""``tidymark watch PATHS [--fix]``: check or fix notes as they arrive (a clipper saving into a vault).

Changes come from watchfiles (the operating system's file events, not a polling loop of
our own).  A note is handled only once it has *settled*: its size, time and inode have not
changed for ``--settle`` seconds (clippers write a note in several steps: the file, then its
front matter, then downloaded images' links).  Then it goes through the same per-file
pipeline as ``tidymark check``/``fix`` (settings of its folder, safe fixes unless
``--unsafe-fixes``, the content-loss guard, the journal for ``tidymark undo``); a fix is
written atomically and only if the file still holds exactly what was read, so a note being
edited while it is fixed is left alone (and looked at again when it settles).  What tidymark
writes is remembered by its hash: the event of its own write is recognised and ignored, so
the watcher never loops.  A configuration file that changes is read again.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, TextIO

from tidymark.run.config import CONFIG_NAMES, DEFAULT_EXCLUDE, ConfigError
from tidymark.run.files import MARKDOWN_SUFFIXES, Walker
from tidymark.run.pipeline import RunOptions, Worker

CONFIG_FILES = (*CONFIG_NAMES, "pyproject.toml")
INSTALL_HINT = ("tidymark watch needs watchfiles: install it with  pip install 'tidymark[watch]'  "
                "(or pip install watchfiles)")
TICK_MS = 100  # how often pending notes are looked at when no event comes


def _signature(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class _Worker(Worker):
    """The pipeline's worker, remembering the bytes it wrote last."""

    written: bytes | None = None

    def _write(self, path: Path, display: str, new: bytes, raw: bytes) -> None:
        super()._write(path, display, new, raw)
        self.written = new


class Watcher:
    """What happens to changed paths: which are notes, when they have settled, how they are handled."""

    def __init__(self, roots: list[Path], opts: RunOptions, *, settle: float, out: TextIO, quiet: bool = False,
                 journal_root: Path | None = None, argv: list[str] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.roots = [r.absolute() for r in roots]
        self.opts = opts
        self.settle = settle
        self.out = out
        self.quiet = quiet
        self.journal_root = journal_root
        self.argv = argv or []
        self.clock = clock
        self.worker = _Worker(opts)
        self.walker = Walker(self.worker.resolver.for_dir)
        self.pending: dict[Path, tuple[tuple | None, float]] = {}
        self.written: dict[Path, str] = {}  # path -> hash of what tidymark last wrote or left there
        self.handled = 0
        self.changed = 0

    # -- which paths ---------------------------------------------------------------------------
    def is_note(self, path: Path) -> bool:
        """A note the walk of its watched folder would check (suffix, hidden and excluded
        folders, the ``exclude`` setting, .gitignore)."""
        if not path.name.lower().endswith(MARKDOWN_SUFFIXES) or path.name.startswith("."):
            return False
        root = next((r for r in self.roots if r == path or r in path.parents), None)
        if root is None:
            return False
        if root == path:
            return True  # a file named on the command line
        rel = path.relative_to(root).parts
        if any(p in DEFAULT_EXCLUDE or p.startswith(".") for p in rel[:-1]):
            return False
        try:
            settings = self.worker.resolver.for_file(path)
        except ConfigError:
            return True  # reported when it is handled
        d = root
        for part in rel[:-1]:
            d = d / part
            if self.walker._excluded(d, settings, True):
                return False
        if self.walker._excluded(path, settings, False):
            return False
        if settings.respect_gitignore:
            real_parent = path.parent.resolve()
            ignored = self.walker._git_matcher(real_parent, root.resolve())
            d = root.resolve()
            for part in rel[:-1]:  # an ignored folder hides what is in it
                if self.walker._git_matcher(d, root.resolve())(part, True):
                    return False
                d = d / part
            if ignored(path.name, False):
                return False
        return True

    # -- events --------------------------------------------------------------------------------
    def changes(self, paths: set[str]) -> None:
        """Paths reported changed (created, modified, deleted)."""
        now = self.clock()
        configs = [p for p in paths if os.path.basename(p) in CONFIG_FILES]
        if configs:
            self.reload()
        for p in paths:
            path = Path(p)
            if not path.is_absolute():
                path = path.absolute()
            if not self.is_note(path):
                continue
            sig = _signature(path)
            if sig is None:
                self.pending.pop(path, None)  # deleted (or moved away)
                self.written.pop(path, None)
                continue
            self.pending[path] = (sig, now)

    def reload(self) -> None:
        try:
            worker = _Worker(self.opts)
            worker.book.rules_for(worker.resolver.for_dir(self.roots[0] if self.roots[0].is_dir()
                                                          else self.roots[0].parent))
        except ConfigError as exc:
            self._line(f"configuration error, keeping the previous configuration: {exc}")
            return
        self.worker = worker
        self.walker = Walker(worker.resolver.for_dir)
        self._line("configuration changed: read again")

    def tick(self) -> None:
        """Handle the pending notes that have settled."""
        now = self.clock()
        for path, (sig, since) in list(self.pending.items()):
            cur = _signature(path)
            if cur is None:
                del self.pending[path]
                continue
            if cur != sig:
                self.pending[path] = (cur, now)  # still being written
                continue
            if now - since < self.settle:
                continue
            del self.pending[path]
            self.handle(path)

    # -- one note ------------------------------------------------------------------------------
    def handle(self, path: Path) -> None:
        digest = _digest(path)
        if digest is None:
            return
        if self.written.get(path) == digest:
            return  # the event of tidymark's own write, or a touch: nothing new
        display = self._display(path)
        jdir = None
        if self.opts.mode == "fix" and self.journal_root is not None:
            from tidymark.run import journal

            jdir = self.journal_root / journal.new_run_id()
            self.worker.journal = journal.Journal(jdir)
            self.worker._write_errors = (OSError, journal.JournalError)
        self.worker.written = None
        try:
            res = self.worker.process(path, display)
        except ConfigError as exc:
            self._line(f"{display}: configuration error: {exc}")
            return
        settings = self.worker.resolver.for_file(path)
        from tidymark.run.rulebook import apply_settings

        res.diagnostics = apply_settings(res.diagnostics, settings)
        self.handled += 1
        if res.changed:
            self.changed += 1
            if jdir is not None:
                self._finish_journal(jdir)
        if res.changed and self.worker.written is not None:
            self.written[path] = hashlib.sha256(self.worker.written).hexdigest()  # its event is ours
        elif res.error is None:
            self.written[path] = digest  # read and left as it was
        if not self.quiet:
            for d in res.diagnostics:
                self.out.write(f"{display}:{d.line}:{d.column}: {d.code} {d.message}\n")
        self._line(self._status(display, res))

    def _finish_journal(self, jdir: Path) -> None:
        from tidymark.run import journal

        try:
            journal.Journal(jdir).finish(command=["tidymark", *self.argv], complete=True)
            journal.prune(jdir.parent)
        except journal.JournalError as exc:
            self._line(f"journal: {exc}")

    def _status(self, display: str, res) -> str:
        left = len(res.diagnostics)
        tail = f"{left} problem{'s' * (left != 1)} left" if left else "clean"
        if res.error and any(d.code == "TM001" for d in res.diagnostics):
            if res.error.startswith("cannot write fixes"):
                return f"{display}: not fixed, {res.error.removeprefix('cannot write fixes: ')}"
            return f"{display}: cannot be read: {res.error}"
        if res.changed:
            per = Counter(d.code for d in res.applied)
            what = ", ".join(f"{c} ×{n}" if n > 1 else c for c, n in sorted(per.items()))
            n = len(res.applied)
            return f"{display}: fixed {n} problem{'s' * (n != 1)} ({what}), {tail}"
        if self.opts.mode == "fix":
            return f"{display}: nothing to fix, {tail}"
        return f"{display}: {tail}" if left else f"{display}: clean"

    def _display(self, path: Path) -> str:
        try:
            rel = os.path.relpath(path)
        except ValueError:
            return str(path)
        return str(path) if rel.startswith("..") else rel

    def _line(self, text: str) -> None:
        self.out.write(f"{time.strftime('%H:%M:%S')} {text}\n")
        self.out.flush()


def run_watch(paths: list[Path], opts: RunOptions, *, settle: float, quiet: bool = False,
              journal_root: Path | None = None, argv: list[str] | None = None, out: TextIO | None = None,
              stop_event=None) -> int:
    """Watch until Ctrl-C (or ``stop_event``); returns the exit code."""
    out = out or sys.stdout
    try:
        import watchfiles
    except ImportError:
        sys.stderr.write(f"tidymark: error: {INSTALL_HINT}\n")
        return 2
    missing = [p for p in paths if not p.exists()]
    if missing:
        sys.stderr.write(f"tidymark: error: {missing[0]}: no such file or folder\n")
        return 2
    try:
        watcher = Watcher(paths, opts, settle=settle, out=out, quiet=quiet, journal_root=journal_root, argv=argv)
        for p in paths:
            watcher.worker.book.rules_for(watcher.worker.resolver.for_path(p))  # the configuration is valid
    except ConfigError as exc:
        sys.stderr.write(f"tidymark: error: {exc}\n")
        return 2
    what = "fixing (safe fixes)" if opts.mode == "fix" else "checking"
    if opts.mode == "fix" and opts.cli.get("unsafe_fixes"):
        what = "fixing (safe and unsafe fixes)"
    sys.stderr.write(f"tidymark: watching {', '.join(str(p) for p in paths)}: {what} notes when they are "
                     f"created or changed (Ctrl-C to stop)\n")
    sys.stderr.flush()

    def accept(change, path: str) -> bool:
        name = os.path.basename(path)
        return name in CONFIG_FILES or (name.lower().endswith(MARKDOWN_SUFFIXES) and not name.startswith("."))

    import signal
    import threading

    old_term = None
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, frame):
            raise KeyboardInterrupt
        old_term = signal.signal(signal.SIGTERM, on_term)  # stopped by a service manager: as Ctrl-C
    try:
        for changes in watchfiles.watch(*paths, watch_filter=accept, debounce=TICK_MS, step=20,
                                        rust_timeout=TICK_MS, yield_on_timeout=True, stop_event=stop_event,
                                        raise_interrupt=True):
            if changes:
                watcher.changes({p for _, p in changes})
            watcher.tick()
    except KeyboardInterrupt:
        pass
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    n = watcher.handled
    sys.stderr.write(f"tidymark: stopped watching; {n} note{'s' * (n != 1)} handled, {watcher.changed} fixed\n")
    return 0


def cmd_watch(args) -> int:
    """``tidymark watch`` from its parsed command line."""
    from tidymark.run.cache import cache_folder
    from tidymark.commands.common import cli_overrides
    from tidymark.run.config import ConfigResolver

    paths = args.paths or [Path(".")]
    cli = cli_overrides(args)
    try:
        top = ConfigResolver(args.config, cli).for_dir(Path("."))
    except ConfigError as exc:
        sys.stderr.write(f"tidymark: error: {exc}\n")
        return 2
    cache_dir = args.cache_dir or top.cache_dir
    journal_root = None
    if args.fix and not args.no_backup:
        from tidymark.run import journal

        journal_root = journal.journal_root(cache_folder(cache_dir)).absolute()
    opts = RunOptions(mode="fix" if args.fix else "check", config=args.config, cli=cli, cache_dir=cache_dir,
                      use_cache=args.use_cache)
    return run_watch(paths, opts, settle=args.settle, quiet=args.quiet, journal_root=journal_root,
                     argv=getattr(args, "argv", None))
