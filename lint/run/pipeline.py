"""Running the per-file pipeline over many files: a process pool and the result cache.

Files are processed in worker processes (one per core) when there are more than a
handful of them, serially otherwise; results always come back in the order of the
(sorted) file list, so output is stable.  Each worker builds its configuration resolver,
its rules and its cache handle once, not per file.

A fix run saves each file's original bytes in the run's journal before replacing it
(see ``tidymark.journal``).  Interrupting a run (Ctrl-C) never leaves a file half-written:
worker processes ignore SIGINT and stop at the next file boundary when the main process
tells them to, and in a serial run the interrupt is held back while a file is replaced.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG
from typing import Iterable, Iterator

from tidymark.run.cache import (FileIndex, ResultCache, cache_folder, digest, parse_entry, rules_fingerprint, settled,
                            signature)
from tidymark.run.config import ConfigResolver
from tidymark.diagnostics import Applicability
from tidymark.core.engine import (INTERNAL_ERROR, IO_ERROR, FixOutcome, Guard, budget_check, check_document,
                                   engine_diagnostic, fix_document)
from tidymark.core.project import ProjectRule, collect_facts
from tidymark.document import Document
from tidymark.run.rulebook import (FileResult, RuleBook, check_size, read_bytes_and_stat, read_document, unified_diff,
                                   unfixable_codes, write_atomic)
from tidymark.source import DecodeError, decode, encode

SERIAL_BELOW = 16  # fewer files than this: no pool (start-up would cost more than it saves)


@dataclass(frozen=True)
class RunOptions:
    mode: str = "check"                 # check | fix | diff
    config: Path | None = None          # --config
    cli: dict = field(default_factory=dict)  # command-line overrides of settings
    jobs: int = 0                       # 0 = one per core
    cache_dir: Path | None = None       # None = <cwd>/.tidymark_cache
    use_cache: bool = True
    keep_text: bool = False             # results carry the text (for edit positions in reports)
    report: bool = False                # results carry the removed blocks (HTML report)
    warm_checked: bool = False          # the cache was already consulted in the main process
    journal: Path | None = None         # fix: the run's journal folder (None: no backups)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM) arrived while a file was being replaced: it was held back until the
    file was written whole, and carries that file's result (so the run can count it)."""

    def __init__(self, result: FileResult, signum: int = signal.SIGINT):
        super().__init__()
        self.result = result
        self.signum = signum


class Terminated(KeyboardInterrupt):
    """SIGTERM (a parent's ``terminate()``, ``kill``, a service stopping) ends a run as Ctrl-C does."""

    signum = getattr(signal, "SIGTERM", 15)


def _raise_terminated(signum, frame):
    raise Terminated()


@contextmanager
def sigterm_as_interrupt():
    """While the block runs, SIGTERM raises :class:`Terminated` in the main thread, so a run
    ends as on Ctrl-C: the workers stop at a file boundary, every file is old or new, the
    journal is kept.  A SIGTERM that is ignored, or handled by the program calling tidymark,
    is left as it is."""
    sigterm = getattr(signal, "SIGTERM", None)
    if sigterm is None or threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(sigterm) is not signal.SIG_DFL:
        yield
        return
    signal.signal(sigterm, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(sigterm, signal.SIG_DFL)


_HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


@contextmanager
def _hold_interrupt(held: list[int]):
    """Hold back Ctrl-C (SIGINT) and SIGTERM until the block is done, so a file is replaced
    whole or not at all.

    A held signal is left in ``held`` for the caller to raise (as :class:`Interrupted`) once
    it has its result; a handler of the embedding program's own is called instead.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    olds = {}
    for sig in _HELD:
        old = signal.getsignal(sig)
        if callable(old):  # not ignored (worker processes), nor the default action
            olds[sig] = old
            signal.signal(sig, lambda signum, frame: held.append(signum))
    if not olds:
        yield
        return
    try:
        yield
    finally:
        for sig, old in olds.items():
            signal.signal(sig, old)
        if held:
            old = olds[held[0]]
            if old is not signal.default_int_handler and old is not _raise_terminated:
                sig = held[0]
                held.clear()
                old(sig, None)


class Worker:
    """Per-process state: configuration, rules and cache, built once."""

    def __init__(self, opts: RunOptions):
        self.opts = opts
        self.resolver = ConfigResolver(opts.config, opts.cli)
        self.book = RuleBook()
        self.cache = ResultCache(cache_folder(opts.cache_dir)) if opts.use_cache else None
        self.journal = None
        self._write_errors: tuple[type[BaseException], ...] = (OSError,)
        if opts.journal is not None and opts.mode == "fix":  # the journal module loads for fix runs only
            from tidymark.run.journal import Journal, JournalError

            self.journal = Journal(opts.journal)
            self._write_errors = (OSError, JournalError)
        self._fps: dict[tuple, tuple[str, bool]] = {}
        self._last_fp: tuple[list, tuple[str, bool]] | None = None
        self.index: FileIndex | None = None  # the run's file index (main process of a warm-first run)

    def _fingerprint(self, rules, settings) -> str:
        return _with_budget(self._rules_key(rules)[0], settings)

    def _rules_key(self, rules) -> tuple[str, bool]:
        """The fingerprint of a rule list, and whether a cross-document rule is in it."""
        last = self._last_fp
        if last is not None and last[0] is rules:  # the same rule list as the file before (held: no id reuse)
            return last[1]
        key = tuple(map(id, rules))
        got = self._fps.get(key)
        if got is None:
            got = self._fps[key] = (rules_fingerprint(rules), any(isinstance(r, ProjectRule) for r in rules))
        self._last_fp = (rules, got)
        return got

    def cached(self, path: Path, display: str) -> FileResult | None:
        """The check result of an unchanged file straight from the cache, or None.

        Cheap: with the run's :class:`FileIndex`, one ``stat`` when the file is as indexed;
        otherwise read, hash, one small JSON file.  A warm run answers every unchanged file
        this way in the main process, without starting workers.
        """
        if self.cache is None or self.opts.mode != "check" or self.opts.report:
            return None
        settings = self.resolver.for_file(path)  # walked files and named non-folders
        rules = self.book.rules_for_file(settings, path)
        fp, project = self._rules_key(rules)
        fp = _with_budget(fp, settings)
        hit = None
        if self.index is not None and not self.opts.keep_text:
            hit = self._from_index(path, settings, fp)
        raw = None
        if hit is None:
            try:
                raw, st = read_bytes_and_stat(path, settings)
            except (DecodeError, OSError):
                return None  # reported by the normal path
            content = digest(raw)
            key = self.cache.key_for_digest(content, fp)
            got = self.cache.get_entry(key)
            if got is None:
                return None
            hit = got[:2]
            if self.index is not None:
                rec = _index_record(path, st, time.time_ns(), content, key, got[2])
                if rec is not None:
                    self.index.record(*rec)
        res = FileResult(path, display)
        res.diagnostics, res.facts = hit
        if project and not res.facts:
            return None
        if self.opts.keep_text:
            try:
                res.text = decode(raw).text
            except DecodeError:
                return None
        return res

    def _from_index(self, path: Path, settings, fp: str) -> tuple[list, dict] | None:
        """The cached result of a file whose stat is as the index recorded it, or None."""
        try:
            st = os.stat(path)
            check_size(st.st_size, settings)
        except (OSError, DecodeError):
            return None
        if not S_ISREG(st.st_mode):
            return None
        name = os.path.abspath(path)
        sig = signature(st)
        rec = self.index.lookup(name, sig)
        if rec is None:
            return None
        content, key, entry = rec
        want = self.cache.key_for_digest(content, fp)
        if key == want and entry is not None:
            return parse_entry(entry)
        got = self.cache.get_entry(want)  # a long entry, or the same bytes under other rules or code
        if got is None:
            return None
        if key != want:
            self.index.record(name, sig, content, want, got[2])
        return got[:2]

    def process(self, path: Path, display: str) -> FileResult:
        mode = self.opts.mode
        settings = self.resolver.for_file(path)  # walked files and named non-folders
        rules = self.book.rules_for_file(settings, path)
        threshold = Applicability.UNSAFE if settings.unsafe_fixes else Applicability.SAFE
        res = FileResult(path, display)
        try:
            doc = self.read(path, settings)
            read_ns = time.time_ns()
        except DecodeError as exc:
            res.diagnostics, res.error = [engine_diagnostic(IO_ERROR, str(exc))], str(exc)
            return _at_start(res)
        except OSError as exc:
            msg = f"cannot read file: {exc.strerror or exc}"
            res.diagnostics, res.error = [engine_diagnostic(IO_ERROR, msg)], msg
            return _at_start(res)
        raw = doc.raw  # type: ignore[attr-defined]
        key = content = None
        cached = entry = None
        project = [r for r in rules if isinstance(r, ProjectRule)]
        if self.cache is not None:
            content = digest(raw)
            key = self.cache.key_for_digest(content, self._fingerprint(rules, settings))
            hit = self.cache.get_entry(key)
            if hit is not None:
                cached, res.facts, entry = hit
        if project and (cached is None or not res.facts):
            res.facts = collect_facts(doc, project)
        if self.opts.keep_text:
            res.text = doc.text
        unfixable = unfixable_codes(rules, settings)
        timeout = settings.rule_timeout or None
        known = self.book.known_for(settings)
        if mode == "check" or (cached is not None and not any(
                d.fix is not None and d.fix.applicability >= threshold and d.code not in unfixable for d in cached)):
            if cached is not None:
                res.diagnostics = cached
            else:
                res.diagnostics = check_under(self.book, doc, rules, settings, timeout=timeout)
            if cached is None and key is not None and not _failed(res.diagnostics):
                entry = self.cache.put(key, res.diagnostics, res.facts)
            if entry is not None and self.opts.warm_checked:  # for the main process's index
                res.indexed = _index_record(path, doc.stat, read_ns, content, key, entry)  # type: ignore[attr-defined]
            if self.opts.report:
                from tidymark.run.removals import removals

                res.removals = removals(doc.text, [(d, [e.span for e in d.fix.edits])
                                                   for d in res.diagnostics if d.fix is not None], threshold)
            return res
        out = fix_under(self.book, doc, rules, settings, timeout=timeout)
        if self.opts.report:
            from tidymark.run.removals import removals

            res.removals = removals(doc.text, out.applied_in_original(), Applicability.DISPLAY_ONLY)
        res.diagnostics = out.problems + out.diagnostics
        res.applied = out.applied
        if self.opts.keep_text:
            res.text = out.text
        if out.text == doc.text:
            if key is not None and not out.problems and not _failed(out.diagnostics):
                self.cache.put(key, out.diagnostics, res.facts)
            return res
        new = encode(out.text, doc.bom)
        res.changed = True
        if project and any(hasattr(r, "with_learned") for r in project):
            import zlib

            res.before = zlib.compress(raw, 1)  # what the folder step fixes again, with what it learned
        res.bytes_removed = len(raw) - len(new)
        if mode == "diff":
            res.diff = unified_diff(display, doc.text, out.text)
            return res
        held: list[int] = []
        try:
            with _hold_interrupt(held):
                self._write(path, display, new, raw)
        except self._write_errors as exc:
            msg = f"cannot write fixes: {exc}" if not isinstance(exc, OSError) else \
                f"cannot write fixes: {exc.strerror or exc}"
            res.applied, res.changed, res.error, res.bytes_removed = [], False, msg, 0
            if self.opts.keep_text:
                res.text = doc.text
            if held:
                res.diagnostics = [engine_diagnostic(IO_ERROR, msg)]
                raise Interrupted(_at_start(res), held[0]) from None
            res.diagnostics = [engine_diagnostic(IO_ERROR, msg)] + check_document(doc, rules, timeout=timeout, known=known)
            return _at_start(res)
        if held:
            raise Interrupted(res, held[0])
        if self.cache is not None and not out.problems:
            from tidymark.document import Document

            new_facts = collect_facts(Document(out.text, path), project) if project else {}
            self.cache.put(self.cache.key(new, self._fingerprint(rules, settings)), out.diagnostics, new_facts)
        return res


    def read(self, path: Path, settings):
        """The document to process (``tidymark.textrun`` gives text that is not read from a file)."""
        return read_document(path, settings)

    def _write(self, path: Path, display: str, new: bytes, raw: bytes) -> None:
        """Save the original in the journal (flushed to disk), then replace the file.  A
        worker process whose run has ended (its parent is gone) writes nothing more."""
        global _WRITING
        _exit_if_orphaned()
        _WRITING = True
        try:
            self._save_and_replace(path, display, new, raw)
        finally:
            _WRITING = False
            if _ORPHANED:  # the run ended while this file was replaced: it is whole; stop here
                os._exit(1)

    def _save_and_replace(self, path: Path, display: str, new: bytes, raw: bytes) -> None:
        if self.journal is None:
            write_atomic(path, new, raw)
            return
        real = os.path.realpath(path)
        try:
            mode = os.stat(real).st_mode & 0o7777
        except OSError:
            mode = 0o644
        self.journal.save(real, display, raw, new, mode)
        try:
            write_atomic(path, new, raw)
        except BaseException:
            self.journal.forget(real)
            raise


def check_under(book: RuleBook, doc: Document, rules: list, settings, *, timeout: float | None = None) -> list:
    """``check`` of one document under ``settings``, for the pool's workers and the batch API
    alike: the rules' diagnostics, suppression codes judged against every rule the run knows,
    and the deletion budget's note when ``fix`` would hold removals back."""
    threshold = Applicability.UNSAFE if settings.unsafe_fixes else Applicability.SAFE
    return budget_check(doc, check_document(doc, rules, timeout=timeout, known=book.known_for(settings)), threshold,
                        unfixable_codes(rules, settings), settings.max_removal)


def fix_under(book: RuleBook, doc: Document, rules: list, settings, *, timeout: float | None = None) -> FixOutcome:
    """``fix`` of one document under ``settings`` (the fix loop with the settings' threshold,
    ``unfixable`` rules and deletion budget), for the pool's workers and the batch API alike."""
    threshold = Applicability.UNSAFE if settings.unsafe_fixes else Applicability.SAFE
    return fix_document(doc, rules, threshold, unfixable_codes(rules, settings),
                        guard=Guard(max_removal=settings.max_removal), timeout=timeout, known=book.known_for(settings))


def _with_budget(fp: str, settings) -> str:
    """A rules fingerprint with what else a cached check result depends on: ``check`` marks
    the fixes the deletion budget holds back, which depends on the budget, on whether unsafe
    fixes are applied and on the rules that are never fixed."""
    return (f"{fp}|max-removal={settings.max_removal!r}|unsafe={bool(settings.unsafe_fixes)}"
            f"|unfixable={','.join(settings.unfixable)}")


def _index_record(path: Path, st: os.stat_result, read_ns: int, content: str, key: str,
                  entry: dict) -> tuple | None:
    """What the run's index records for a file read at ``read_ns`` with stat ``st`` taken
    just before (None when it had changed too shortly before)."""
    sig = signature(st)
    if not settled(sig, read_ns):
        return None
    return os.path.abspath(path), sig, content, key, entry


def _failed(diags) -> bool:
    """A rule failed (TM002): not cached, since a time-out depends on the machine's load."""
    return any(d.code == INTERNAL_ERROR[0] for d in diags)


def _at_start(res: FileResult) -> FileResult:
    from dataclasses import replace

    res.diagnostics = [replace(d, line=d.line or 1, column=d.column or 1, end_line=d.end_line or 1,
                               end_column=d.end_column or 1) for d in res.diagnostics]
    return res


_WORKER: Worker | None = None
_STOP = None
_PARENT: int | None = None   # a worker process: the pid of the run's process
_WRITING = False             # a worker is replacing a file (journal entry and file)
_ORPHANED = False            # ... and learnt meanwhile that the run's process is gone
PARENT_POLL_SECONDS = 1.0


def _exit_if_orphaned() -> None:
    """In a worker process: end it when the run's process is gone (killed, or ended by a signal
    sent to it alone): its files are no longer the run's to write, and nobody reads its results."""
    global _ORPHANED
    if _PARENT is None or os.getppid() == _PARENT:
        return
    if _WRITING:
        _ORPHANED = True  # the file being replaced is finished first (Worker._write)
        return
    os._exit(1)


def _worker_sigterm(signum, frame) -> None:
    # SIGTERM to the whole process group: the run's process ends the run (as on Ctrl-C) and
    # tells the workers to stop at a file boundary.  Sent because the parent died
    # (PR_SET_PDEATHSIG) or to an orphaned worker: stop.
    _exit_if_orphaned()


def _die_with_parent(parent: int) -> None:
    """Make this worker end when the run's process ends, whatever ends it (SIGKILL too): on
    Linux the kernel sends SIGTERM when the parent dies; everywhere a thread looks every
    :data:`PARENT_POLL_SECONDS`."""
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, _worker_sigterm)
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
            except (OSError, AttributeError):
                pass

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                if hasattr(signal, "SIGTERM"):
                    os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread, between two steps
                else:
                    _exit_if_orphaned()
                return

    threading.Thread(target=watch, name="tidymark-parent-watch", daemon=True).start()
    _exit_if_orphaned()  # the parent may have died before the above was in place


def _init(opts: RunOptions, stop=None, parent: int | None = None) -> None:
    global _WORKER, _STOP, _PARENT
    # Ctrl-C reaches every process of the terminal's process group: workers ignore it and
    # finish the file they are on; the main process tells them to stop (``stop``).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP = stop
    if parent is not None:
        _PARENT = parent
        _die_with_parent(parent)
    _WORKER = Worker(opts)


def _task(item: tuple[str, str]) -> FileResult:
    return _WORKER.process(Path(item[0]), item[1])  # type: ignore[union-attr]


def _chunk_task(items: list[tuple[str, str]]) -> list[FileResult]:
    """Process a chunk of files, stopping at a file boundary when the run is interrupted."""
    out = []
    for item in items:
        if _STOP is not None and _STOP.is_set():
            break
        _exit_if_orphaned()
        out.append(_task(item))
    return out


@dataclass
class RunState:
    """What an interrupted run got done beyond the results it yielded."""

    unreported: list[FileResult] = field(default_factory=list)


def _collect_unreported(futures, taken: int, state: RunState) -> None:
    for i, f in enumerate(futures):
        if f.cancelled() or not f.done() or f.exception() is not None:
            continue
        results = f.result()
        if i == 0:
            results = results[taken:] if taken >= 0 else []
        state.unreported.extend(results)


def job_count(requested: int, n_files: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = requested or cores
    if n_files < SERIAL_BELOW:
        return 1
    return max(1, min(jobs, n_files))


#: Cached results a warm run keeps while an earlier file is being checked.
HELD_RESULTS = 2048


def _run_warm_first(items: list[tuple[Path, str]], opts: RunOptions, state: RunState | None) -> Iterator[FileResult]:
    """Answer cached files in this process first; only the others go to the workers.

    Results are yielded in order: cached ones straight away until the first file that needs
    checking; later cached results wait for it, at most :data:`HELD_RESULTS` of them (the
    others are looked up again in their turn), so memory does not grow with the folder.
    The run's :class:`FileIndex` answers unchanged files from their stat and records every
    file checked (by the workers too), saved once at the end of the run.
    """
    from dataclasses import replace

    local = Worker(opts)
    index = local.index = FileIndex(local.cache.directory, local.cache.max_bytes)  # type: ignore[union-attr]
    held: dict[int, FileResult | None] = {}
    misses: list[int] = []
    for i, (path, display) in enumerate(items):
        res = local.cached(path, display)
        if res is None:
            misses.append(i)
        elif not misses:
            yield res
        else:
            held[i] = res if len(held) < HELD_RESULTS else None
    if misses:
        rest = run([items[i] for i in misses], replace(opts, warm_checked=True), state)
        for i in range(misses[0], len(items)):
            if i not in held:
                res = next(rest)
                if res.indexed is not None:
                    index.record(*res.indexed)
                    res.indexed = None
                yield res
                continue
            res = held.pop(i)
            if res is None:  # looked up again; changed since the first look: checked here
                res = local.cached(*items[i]) or local.process(*items[i])
            yield res
        for _ in rest:  # every result is out: the run of the others ends (the cache is pruned)
            pass
    index.save()  # (a run that found every file in the cache wrote no entry: nothing to prune)


def run(items: Iterable[tuple[Path, str]], opts: RunOptions, state: RunState | None = None) -> Iterator[FileResult]:
    """Process (path, display) pairs; yields results in the given order.

    When the consumer stops early (Ctrl-C, or closing the generator), the workers stop at
    the next file boundary, and the results of files they finished but that were not
    yielded are put in ``state.unreported``.
    """
    items = list(items)
    started_ns = time.time_ns()
    if opts.use_cache and opts.mode == "check" and not opts.report and len(items) >= SERIAL_BELOW \
            and not opts.warm_checked:
        yield from _run_warm_first(items, opts, state)
        return
    jobs = job_count(opts.jobs, len(items))
    worker_cache = None
    if jobs == 1:
        worker = Worker(opts)
        worker_cache = worker.cache
        for path, display in items:
            try:
                res = worker.process(path, display)
            except Interrupted as exc:
                if state is not None:
                    state.unreported.append(exc.result)
                raise
            yield res
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else multiprocessing.get_context()
        stop = ctx.Event()
        chunk = max(1, min(64, len(items) // (jobs * 8)))
        chunks = [[(str(p), d) for p, d in items[i:i + chunk]] for i in range(0, len(items), chunk)]
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init,
                                 initargs=(opts, stop, os.getpid())) as pool:
            futures: list = [pool.submit(_chunk_task, c) for c in chunks]
            current, taken = 0, 0
            try:
                for current in range(len(futures)):
                    taken = 0
                    for res in futures[current].result():
                        taken += 1
                        yield res
                    taken = -1
                    futures[current] = None  # its results are out: memory does not grow with the run
            except BaseException:
                stop.set()
                for f in futures:
                    if f is not None:
                        f.cancel()
                pool.shutdown(wait=True, cancel_futures=True)
                if state is not None:
                    rest = futures[current:]
                    if rest and rest[0] is None:  # stopped right after finishing a chunk
                        rest, taken = rest[1:], 0
                    _collect_unreported(rest, taken, state)
                raise
    if opts.use_cache:
        cache = worker_cache or ResultCache(cache_folder(opts.cache_dir))
        cache.prune(since_ns=started_ns)  # the shards this run wrote to
