"""Reliability of ``tidymark fix``: nothing lost, whatever fails.

* the journal of a fix run and ``tidymark undo``;
* rules that hang, raise or break the rule contract, end to end (nothing written);
* the file system failing under a fix: read-only files, a full disk, files changed or
  deleted between read and write, symlinks and loops, awkward names;
* Ctrl-C in the middle of a fix run over a large folder (a subprocess).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tidymark import journal, pipeline, registry, runner
from tidymark.run import fsio
from tidymark.cli import main
from tidymark.diagnostics import Applicability, Edit, Fix
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
BAD_FIXED = "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"
CLEAN = "---\ntitle: A clean note\n---\nBody text.\n"


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> tuple[int, list[dict], str]:
    code, out, err = run(capsys, *argv, "--output-format", "json")
    return code, json.loads(out), err


def journal_runs(root: Path) -> list[Path]:
    jr = root / ".tidymark_cache" / "journal"
    return sorted(p for p in jr.iterdir() if p.is_dir()) if jr.is_dir() else []


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tidymark-tmp")]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the journal and undo ------------------------------------------------------------------

def test_fix_keeps_a_journal_and_undo_restores_every_byte(proj, capsys):
    a = write(proj / "a.md", BAD)
    b = write(proj / "sub" / "b.md", "\ufeff" + BAD.replace("\n", "\r\n"))
    c = write(proj / "c.md", CLEAN)
    a.chmod(0o640)
    before = {p: p.read_bytes() for p in (a, b, c)}
    code, out, _ = run(capsys, "fix", ".")
    assert code == 0
    assert a.read_text(encoding="utf-8") == BAD_FIXED
    [rundir] = journal_runs(proj)
    assert f"{rundir}" in out and "`tidymark undo` restores them" in out
    manifest = json.loads((rundir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is True and manifest["command"] == ["tidymark", "fix", "."]
    files = {Path(f["path"]): f for f in manifest["files"]}
    assert set(files) == {a.resolve(), b.resolve()}  # unchanged files are not in it
    for p, f in files.items():
        orig = before[p]
        assert (rundir / f["backup"]).read_bytes() == orig
        assert f["original_sha256"] == sha(orig)
        assert f["written_sha256"] == sha(p.read_bytes())
    assert files[a.resolve()]["mode"] == 0o640

    code, out, _ = run(capsys, "undo", "--list")
    assert code == 0 and rundir.name in out and "2 files" in out

    code, out, _ = run(capsys, "undo")
    assert code == 0, out
    assert "Restored 2 of 2 files" in out
    for p, data in before.items():
        assert p.read_bytes() == data
    assert stat.S_IMODE(a.stat().st_mode) == 0o640
    assert temp_files(proj) == []
    # the run is marked undone: there is nothing left to undo
    code, _, err = run(capsys, "undo")
    assert code == 2 and "no fix run to undo" in err


def test_undo_never_overwrites_a_newer_edit(proj, capsys):
    a = write(proj / "a.md", BAD)
    b = write(proj / "b.md", BAD)
    c = write(proj / "c.md", BAD)
    run(capsys, "fix", ".")
    b.write_text(BAD_FIXED + "A paragraph the user wrote after the fix.\n", encoding="utf-8")
    c.unlink()
    code, out, _ = run(capsys, "undo")
    assert code == 1
    assert a.read_text(encoding="utf-8") == BAD
    assert b.read_text(encoding="utf-8").endswith("A paragraph the user wrote after the fix.\n")
    assert not c.exists()
    assert "Kept b.md: changed since the fix run" in out
    assert "Kept c.md: deleted since the fix run" in out
    assert "Restored 1 of 3 files" in out


def test_undo_goes_back_run_by_run(proj, capsys):
    a = write(proj / "a.md", BAD)
    run(capsys, "fix", ".")
    a.write_text(BAD, encoding="utf-8")  # the same problem comes back (e.g. a re-clip)
    time.sleep(0.01)
    run(capsys, "fix", ".")
    assert len(journal_runs(proj)) == 2
    code, out, _ = run(capsys, "undo")
    assert code == 0 and a.read_text(encoding="utf-8") == BAD
    # the older run wrote BAD_FIXED over BAD, but the file now holds BAD: already as before
    code, out, _ = run(capsys, "undo")
    assert code == 0 and "1 already as before" in out
    assert a.read_text(encoding="utf-8") == BAD


def test_undo_a_named_run_and_dry_run(proj, capsys):
    a = write(proj / "a.md", BAD)
    run(capsys, "fix", ".")
    [rundir] = journal_runs(proj)
    code, out, _ = run(capsys, "undo", "--dry-run", rundir.name)
    assert code == 0 and "Would restore a.md" in out
    assert a.read_text(encoding="utf-8") == BAD_FIXED
    code, out, _ = run(capsys, "undo", rundir.name)
    assert code == 0 and a.read_text(encoding="utf-8") == BAD
    code, _, err = run(capsys, "undo", "no-such-run")
    assert code == 2 and "neither a run" in err


def test_backup_folder_option(proj, capsys, tmp_path_factory):
    backup = tmp_path_factory.mktemp("backups") / "run1"
    a = write(proj / "a.md", BAD)
    code, _, _ = run(capsys, "fix", "--backup", str(backup), ".")
    assert code == 0
    assert journal_runs(proj) == []  # not in the cache folder
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    assert [Path(f["path"]) for f in manifest["files"]] == [a.resolve()]
    # a folder that already holds a journal is refused before anything is touched
    write(proj / "b.md", BAD)
    code, _, err = run(capsys, "fix", "--backup", str(backup), ".")
    assert code == 2 and "already holds the journal" in err
    assert (proj / "b.md").read_text(encoding="utf-8") == BAD
    code, out, _ = run(capsys, "undo", str(backup))
    assert code == 0 and a.read_text(encoding="utf-8") == BAD


def test_no_backup_keeps_no_journal(proj, capsys):
    write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "fix", "--no-backup", ".")
    assert code == 0 and "undo" not in out
    assert journal_runs(proj) == []
    code, _, err = run(capsys, "fix", "--no-backup", "--backup", "x", ".")
    assert code == 2 and "cannot be used together" in err


def test_no_journal_when_nothing_changes(proj, capsys):
    write(proj / "a.md", CLEAN)
    run(capsys, "fix", ".")
    run(capsys, "fix", "--diff", ".")
    write(proj / "b.md", BAD)
    run(capsys, "fix", "--diff", ".")
    assert journal_runs(proj) == []


def test_journal_keeps_the_last_20_runs(proj, capsys):
    for i in range(journal.KEEP_RUNS + 3):
        write(proj / "a.md", BAD.replace("Body", f"Body {i}"))
        assert run(capsys, "fix", "a.md")[0] == 0
    runs = journal_runs(proj)
    assert len(runs) == journal.KEEP_RUNS
    manifest = json.loads((runs[-1] / "manifest.json").read_text(encoding="utf-8"))
    assert "Body 22" in (runs[-1] / manifest["files"][0]["backup"]).read_text(encoding="utf-8")


def test_the_original_is_on_disk_before_the_file_is_replaced(proj, capsys, monkeypatch):
    a = write(proj / "a.md", BAD)
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else str(fd))
        return real_fsync(fd)

    seen = {}
    real_write = runner.write_atomic

    def checking_write(path, data, expected):
        [rundir] = journal_runs(proj)
        [orig] = list((rundir / "files").glob("*.orig"))
        seen["orig"] = orig.read_bytes()
        seen["synced"] = list(synced)
        return real_write(path, data, expected)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(pipeline, "write_atomic", checking_write)
    assert run(capsys, "fix", ".")[0] == 0
    assert seen["orig"] == BAD.encode()
    assert any(".orig" in s for s in seen["synced"]), seen["synced"]
    assert a.read_text(encoding="utf-8") == BAD_FIXED


def test_a_journal_that_cannot_be_written_means_no_write(proj, capsys, monkeypatch):
    a = write(proj / "a.md", BAD)

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write_durable", full)
    code, out, _ = run(capsys, "fix", ".")
    assert code == 1
    assert "a.md:1:1: TM001 cannot write fixes: cannot save a backup of the original" in out
    assert "No space left on device" in out
    assert a.read_text(encoding="utf-8") == BAD
    assert temp_files(proj) == []


def test_undo_of_a_run_that_never_finished(proj, capsys):
    """A run killed before it wrote its manifest can still be undone from its records."""
    a = write(proj / "a.md", BAD)
    run(capsys, "fix", ".")
    [rundir] = journal_runs(proj)
    (rundir / "manifest.json").unlink()
    code, out, _ = run(capsys, "undo", "--list")
    assert "interrupted" in out
    code, out, _ = run(capsys, "undo")
    assert code == 0 and a.read_text(encoding="utf-8") == BAD


def test_undo_refuses_a_damaged_backup(proj, capsys):
    a = write(proj / "a.md", BAD)
    run(capsys, "fix", ".")
    [rundir] = journal_runs(proj)
    [orig] = list((rundir / "files").glob("*.orig"))
    orig.write_bytes(b"garbage")
    code, out, _ = run(capsys, "undo")
    assert code == 2 and "damaged" in out
    assert a.read_text(encoding="utf-8") == BAD_FIXED


def test_undo_through_a_symlink_restores_the_target(proj, capsys):
    target = write(proj / "real" / "t.md", BAD)
    link = proj / "link.md"
    link.symlink_to(target)
    run(capsys, "fix", "link.md")
    assert target.read_text(encoding="utf-8") == BAD_FIXED
    assert run(capsys, "undo")[0] == 0
    assert link.is_symlink() and target.read_text(encoding="utf-8") == BAD


def test_cache_pruning_leaves_the_journal_alone(proj, capsys):
    from tidymark.cache import ResultCache

    write(proj / "a.md", BAD)
    run(capsys, "fix", ".")
    [rundir] = journal_runs(proj)
    ResultCache(proj / ".tidymark_cache", max_bytes=1).prune()
    assert (rundir / "manifest.json").is_file() and list((rundir / "files").glob("*.orig"))


# -- rules that fail: the run goes on, the rule is named, nothing is written ----------------

DOC = """## What it does
Test rule.

## Why is this bad?
Test rule.

## Example
```markdown
x
```

## Fix safety
Safe (test rule).
"""


class Hangs(Rule):
    __doc__ = "Hangs on notes mentioning `hang`.\n\n" + DOC
    code = "ZZ910"
    name = "hangs"
    summary = "hangs"

    def check(self, doc):
        if "hang" in doc.text:
            while True:
                try:
                    time.sleep(60)
                except Exception:  # noqa: BLE001 - a hostile plugin swallowing exceptions
                    pass
        return []


class OverlappingEdits(Rule):
    __doc__ = "Returns a fix whose edits overlap.\n\n" + DOC
    code = "ZZ911"
    name = "overlapping-edits"
    summary = "overlap"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def check(self, doc):
        if "overlap" in doc.text:
            yield self.diagnostic(Span(0, 4), fix=Fix.safe("x", Edit(Span(0, 4), "a"), Edit(Span(2, 6), "b")))


class OutOfRange(Rule):
    __doc__ = "Returns an edit past the end of the document.\n\n" + DOC
    code = "ZZ912"
    name = "out-of-range"
    summary = "range"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def check(self, doc):
        if "range" in doc.text:
            n = len(doc.text)
            yield self.diagnostic(Span(0, 1), fix=Fix.safe("x", Edit(Span(n - 1, n + 10), "")))


class RaisesAfterFix(Rule):
    __doc__ = "Raises on text without a block-scalar title (i.e. after FM002 fixed it).\n\n" + DOC
    code = "ZZ913"
    name = "raises-after-fix"
    summary = "raises"

    def check(self, doc):
        if "later" in doc.text and "title: |" not in doc.text:
            raise RuntimeError("only on the fixed text")
        return []


class BadEditType(Rule):
    __doc__ = "Returns an edit whose text is not a string.\n\n" + DOC
    code = "ZZ914"
    name = "bad-edit-type"
    summary = "type"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def check(self, doc):
        if "badtype" in doc.text:
            yield self.diagnostic(Span(0, 1), fix=Fix((Edit(Span(0, 1), None),), Applicability.SAFE, "t"))


HOSTILE_RULES = (Hangs, OverlappingEdits, OutOfRange, RaisesAfterFix, BadEditType)


@pytest.fixture
def hostile_rules(monkeypatch):
    real = registry.builtin_rules()
    extra = tuple(registry.RuleInfo(cls, "builtin") for cls in HOSTILE_RULES)
    monkeypatch.setattr(registry, "builtin_rules", lambda: real + extra)


@pytest.mark.parametrize("word,needle", [
    ("overlap", "rule ZZ911 (overlapping-edits) broke the rule contract: fix edits overlap"),
    ("range", "rule ZZ912 (out-of-range) broke the rule contract: edit"),
    ("badtype", "rule ZZ914 (bad-edit-type) broke the rule contract: fix has an edit that is not an Edit"),
    ("later", "rule ZZ913 (raises-after-fix) raised RuntimeError: only on the fixed text"),
])
def test_a_rule_breaking_the_contract_blocks_writing_that_file(proj, capsys, hostile_rules, word, needle):
    bad = write(proj / "a.md", BAD + f"{word}\n")
    good = write(proj / "b.md", BAD)
    code, items, err = run_json(capsys, "fix", ".")
    assert code == 2 and "Traceback" not in err
    tm = [i for i in items if i["code"] == "TM002"]
    assert len(tm) == 1 and tm[0]["path"] == "a.md", items
    assert needle in tm[0]["message"] and "no fix was applied to this file" in tm[0]["message"]
    assert bad.read_text(encoding="utf-8") == BAD + f"{word}\n"
    assert good.read_text(encoding="utf-8") == BAD_FIXED
    assert temp_files(proj) == []


def test_a_hanging_rule_is_stopped_and_named(proj, capsys, hostile_rules):
    (proj / ".tidymark.yaml").write_text("rule-timeout: 1\n", encoding="utf-8")
    bad = write(proj / "a.md", BAD + "hang\n")
    good = write(proj / "b.md", BAD)
    started = time.monotonic()
    code, items, err = run_json(capsys, "fix", ".")
    assert time.monotonic() - started < 20
    assert code == 2 and "Traceback" not in err
    [tm] = [i for i in items if i["code"] == "TM002"]
    assert tm["path"] == "a.md"
    assert "rule ZZ910 (hangs) did not finish within 1 s (`rule-timeout`)" in tm["message"]
    assert bad.read_text(encoding="utf-8") == BAD + "hang\n"
    assert good.read_text(encoding="utf-8") == BAD_FIXED
    # check mode too, and the other rules still report on that file
    code, items, _ = run_json(capsys, "check", "a.md")
    assert code == 2
    assert sorted(i["code"] for i in items) == ["FM002", "TM002"]


def test_a_hanging_rule_in_worker_processes(proj, capsys, hostile_rules):
    (proj / ".tidymark.yaml").write_text("rule-timeout: 1\n", encoding="utf-8")
    for i in range(pipeline.SERIAL_BELOW + 4):
        write(proj / f"n{i:02d}.md", BAD + ("hang\n" if i in (3, 11) else ""))
    started = time.monotonic()
    code, items, err = run_json(capsys, "fix", "-j", "2", "--no-cache", ".")
    assert time.monotonic() - started < 60
    assert code == 2 and "Traceback" not in err
    assert sorted(i["path"] for i in items if i["code"] == "TM002") == ["n03.md", "n11.md"]
    for i in range(pipeline.SERIAL_BELOW + 4):
        text = (proj / f"n{i:02d}.md").read_text(encoding="utf-8")
        assert text == (BAD + "hang\n" if i in (3, 11) else BAD_FIXED)


def test_rule_timeout_is_validated(proj, capsys):
    (proj / ".tidymark.yaml").write_text("rule-timeout: -1\n", encoding="utf-8")
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", ".")
    assert code == 2 and "`rule-timeout` must be a number of seconds" in err


def test_the_time_limit_puts_back_a_running_timer():
    from tidymark.engine import _TimeLimit

    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        limit = _TimeLimit(5)
        limit.start()
        limit.stop()
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left <= 0.5
        time.sleep(0.7)
        assert fired == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_each_rule_of_a_document_gets_the_whole_time_limit():
    # one handler per document, one timer per rule: a rule after a stopped one, and a rule
    # after quick ones, still gets the whole limit; the caller's timer is put back after
    from tidymark.document import Document
    from tidymark.engine import check_document

    def rule(code, seconds):
        class Sleeper(Rule):
            __doc__ = "Sleeps.\n\n" + DOC
            name = f"sleeps-{code.lower()}"
            summary = "sleeps"

            def check(self, doc):
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    pass
                return [self.diagnostic(Span(0, 1), "done")]
        Sleeper.code = code
        return Sleeper()

    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 5)
        rules = [rule("ZZ931", 0.25), rule("ZZ932", 5), rule("ZZ933", 0.25), rule("ZZ934", 0.25)]
        got = check_document(Document("x\n"), rules, timeout=0.4)
        assert [(d.code, d.message[:4]) for d in got] == [
            ("TM002", "rule"), ("ZZ931", "done"), ("ZZ933", "done"), ("ZZ934", "done")], got
        assert "ZZ932" in got[0].message
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 3 < left <= 5 and fired == []
        assert signal.getsignal(signal.SIGALRM) is not None and fired == []
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_no_time_limit_outside_the_main_thread():
    import threading

    from tidymark.document import Document
    from tidymark.engine import _run_rule

    class Quick(Rule):
        __doc__ = "Sleeps briefly.\n\n" + DOC
        code = "ZZ915"
        name = "quick"
        summary = "quick"

        def check(self, doc):
            time.sleep(0.3)
            return []

    out = []
    t = threading.Thread(target=lambda: out.append(_run_rule(Quick(), Document("x"), 0.05)))
    t.start()
    t.join()
    assert out == [[]]


# -- the file system failing under a fix -------------------------------------------------------

def _chattr(path: Path, flag: str) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def test_read_only_file_is_reported_not_crashed_on(proj, capsys, monkeypatch):
    ro = write(proj / "ro.md", BAD)
    ok = write(proj / "ok.md", BAD)
    ro.chmod(0o444)
    immutable = _chattr(ro, "+i")  # root ignores permission bits; the immutable flag stops it too
    if not immutable:
        real = fsio.tempfile.mkstemp

        def mkstemp(*args, **kwargs):
            if ".ro.md." in kwargs.get("prefix", ""):
                raise PermissionError(errno.EACCES, "Permission denied")
            return real(*args, **kwargs)

        monkeypatch.setattr(fsio.tempfile, "mkstemp", mkstemp)
    try:
        code, out, err = run(capsys, "fix", ".")
    finally:
        if immutable:
            _chattr(ro, "-i")
    assert code == 1 and "Traceback" not in out + err
    line = next(x for x in out.splitlines() if x.startswith("ro.md:1:1: TM001 cannot write fixes:"))
    assert "not permitted" in line or "Permission denied" in line
    assert "ro.md:2:1: FM002" in out  # the problem is still reported
    assert ro.read_text(encoding="utf-8") == BAD
    assert ok.read_text(encoding="utf-8") == BAD_FIXED
    assert temp_files(proj) == []
    # and the journal does not list the file that was not written
    [rundir] = journal_runs(proj)
    manifest = json.loads((rundir / "manifest.json").read_text(encoding="utf-8"))
    assert [Path(f["path"]).name for f in manifest["files"]] == ["ok.md"]


class _FullDisk:
    """A file object that writes half of the data, then fails like a full disk."""

    def __init__(self, fh):
        self.fh = fh

    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.fh.close()
        return False

    def __getattr__(self, name):
        return getattr(self.fh, name)


def test_full_disk_during_write_removes_the_temp_file_and_keeps_the_original(proj, capsys, monkeypatch):
    a = write(proj / "a.md", BAD)
    real_fdopen = os.fdopen
    monkeypatch.setattr(runner.os, "fdopen", lambda fd, *a, **k: _FullDisk(real_fdopen(fd, *a, **k)))
    code, out, err = run(capsys, "fix", "--no-backup", ".")
    assert code == 1 and "Traceback" not in out + err
    assert "a.md:1:1: TM001 cannot write fixes: No space left on device" in out
    assert a.read_text(encoding="utf-8") == BAD
    assert temp_files(proj) == []


def test_failed_rename_removes_the_temp_file(proj, capsys, monkeypatch):
    a = write(proj / "a.md", BAD)

    def replace(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(runner.os, "replace", replace)  # os.replace of every module: no journal here
    code, out, _ = run(capsys, "fix", "--no-backup", ".")
    assert code == 1 and "TM001 cannot write fixes: Invalid cross-device link" in out
    assert a.read_text(encoding="utf-8") == BAD
    assert temp_files(proj) == []


def _after_fixing(monkeypatch, action):
    """Run ``action(path)`` after the engine fixed a file and before it is written back."""
    real = pipeline.fix_document

    def wrapped(doc, *args, **kwargs):
        out = real(doc, *args, **kwargs)
        action(doc.path)
        return out

    monkeypatch.setattr(pipeline, "fix_document", wrapped)


def test_a_file_changed_between_read_and_write_is_not_overwritten(proj, capsys, monkeypatch):
    a = write(proj / "a.md", BAD)
    newer = BAD + "A line the user added while tidymark was running.\n"
    _after_fixing(monkeypatch, lambda p: Path(p).write_text(newer, encoding="utf-8"))
    code, out, _ = run(capsys, "fix", ".")
    assert code == 1
    assert "a.md:1:1: TM001 cannot write fixes: the file changed on disk while tidymark was working on it" in out
    assert a.read_text(encoding="utf-8") == newer
    assert temp_files(proj) == [] and journal_runs(proj) == []


def test_a_file_changed_while_the_temp_file_is_written_is_not_overwritten(proj, capsys, monkeypatch):
    """The content is compared again right before the rename."""
    a = write(proj / "a.md", BAD)
    newer = BAD + "edited\n"
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tidymark-tmp"):
            a.write_text(newer, encoding="utf-8")

    monkeypatch.setattr(runner.os, "fsync", fsync)
    code, out, _ = run(capsys, "fix", "--no-backup", ".")
    assert code == 1 and "changed on disk" in out
    assert a.read_text(encoding="utf-8") == newer
    assert temp_files(proj) == []


def test_a_file_deleted_between_read_and_write_is_not_recreated(proj, capsys, monkeypatch):
    a = write(proj / "a.md", BAD)
    _after_fixing(monkeypatch, lambda p: Path(p).unlink())
    code, out, err = run(capsys, "fix", ".")
    assert code == 1 and "Traceback" not in out + err
    assert "a.md:1:1: TM001 cannot write fixes: the file was deleted while tidymark was working on it" in out
    assert not a.exists()
    assert temp_files(proj) == []


# -- symlinks ----------------------------------------------------------------------------------

def test_directory_symlink_loops_are_not_followed(proj, capsys):
    write(proj / "notes" / "a.md", BAD)
    (proj / "notes" / "loop").symlink_to(proj / "notes")       # notes/loop -> notes
    (proj / "notes" / "up").symlink_to(proj)                    # notes/up -> the tree itself
    (proj / "notes" / "self").symlink_to(proj / "notes" / "self")  # a link to itself
    code, items, err = run_json(capsys, "check", ".")
    assert "Traceback" not in err
    assert [(i["path"], i["code"]) for i in items] == [("notes/a.md", "FM002")]  # once


def test_file_symlink_loops_are_reported(proj, capsys):
    (proj / "x.md").symlink_to(proj / "y.md")
    (proj / "y.md").symlink_to(proj / "x.md")
    (proj / "self.md").symlink_to(proj / "self.md")
    write(proj / "ok.md", BAD)
    code, items, err = run_json(capsys, "fix", ".")
    assert code == 1 and "Traceback" not in err
    tm = sorted((i["path"], i["code"]) for i in items if i["code"] == "TM001")
    assert tm == [("self.md", "TM001"), ("x.md", "TM001"), ("y.md", "TM001")]
    assert all("symlink" in i["message"] for i in items if i["code"] == "TM001")
    assert (proj / "ok.md").read_text(encoding="utf-8") == BAD_FIXED
    code, items, _ = run_json(capsys, "check", "self.md")
    assert code == 1 and items[0]["code"] == "TM001"


def test_symlinks_are_followed_only_inside_the_tree(proj, capsys, tmp_path_factory):
    outside = write(tmp_path_factory.mktemp("elsewhere") / "secret.md", BAD)
    inside = write(proj / "vault" / "real.md", BAD)
    (proj / "vault" / "out.md").symlink_to(outside)
    (proj / "vault" / "alias.md").symlink_to(inside)
    (proj / "vault" / "outdir").symlink_to(outside.parent)
    code, items, _ = run_json(capsys, "fix", "vault")
    assert code == 0, items
    assert outside.read_text(encoding="utf-8") == BAD  # never followed out of the tree
    assert inside.read_text(encoding="utf-8") == BAD_FIXED
    assert (proj / "vault" / "alias.md").is_symlink()
    # named on the command line, a link is followed (the user asked for that file)
    code, items, _ = run_json(capsys, "check", "vault/out.md")
    assert [i["code"] for i in items] == ["FM002"]


# -- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["with space.md", "naïve café 补贴 😀.md", "-x.md", "--y.md", "-.md",
                                  "a'quote\".md", "#hash;semi&amp$.md"])
def test_awkward_file_names(proj, capsys, name):
    f = write(proj / "dir with space" / name, BAD)
    code, out, err = run(capsys, "check", ".")
    assert code == 1 and "Traceback" not in err
    assert f"dir with space/{name}:2:1: FM002" in out
    code, out, err = run(capsys, "fix", "--", f"dir with space/{name}")
    assert code == 0, out + err
    assert f.read_text(encoding="utf-8") == BAD_FIXED
    assert run(capsys, "undo")[0] == 0
    assert f.read_text(encoding="utf-8") == BAD


def test_a_name_starting_with_a_dash_after_double_dash(proj, capsys):
    write(proj / "-x.md", BAD)
    code, out, _ = run(capsys, "check", "--", "-x.md")
    assert code == 1 and out.startswith("-x.md:2:1: FM002")


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes")
def test_a_file_name_that_is_not_utf8(proj, capsys):
    raw = os.fsencode(str(proj)) + b"/caf\xe9\nx.md"
    with open(raw, "wb") as fh:
        fh.write(BAD.encode())
    code, out, err = run(capsys, "fix", ".")
    assert code == 0, out + err
    assert "Traceback" not in err
    with open(raw, "rb") as fh:
        assert fh.read() == BAD_FIXED.encode()
    code, out, err = run(capsys, "undo")
    assert code == 0 and "Restored caf\\xe9\\nx.md" in out
    with open(raw, "rb") as fh:
        assert fh.read() == BAD.encode()


# -- interrupting a fix run ---------------------------------------------------------------------

PARAGRAPH = "A paragraph of the article with enough words to take the rules some time to read. " * 12


def _large_folder(root: Path, n: int) -> dict[str, bytes]:
    (root / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    body = "\n\n".join(f"{i}. {PARAGRAPH}" for i in range(60))
    files = {}
    for i in range(n):
        data = f"---\ntitle: |\n  Note {i}\n---\n# Heading {i}\n\n{body}\n".encode()
        (root / f"n{i:03d}.md").write_bytes(data)
        files[f"n{i:03d}.md"] = data
    return files


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return {int(x) for x in fh.read().split()}
    except OSError:
        return set()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(signal, "SIGINT"),
                    reason="needs Linux /proc and signals")
@pytest.mark.parametrize("jobs,group", [("2", False), ("1", False), ("2", True)],
                         ids=["pool", "serial", "pool-terminal"])
def test_ctrl_c_during_fix_leaves_every_file_old_or_new(tmp_path, jobs, group):
    """``group``: Ctrl-C in a terminal signals the whole process group, workers included."""
    files = _large_folder(tmp_path, 300)
    fixed = {k: v.replace(b"title: |\n  Note", b"title: Note") for k, v in files.items()}
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    # Ctrl-C as from a terminal even when the tests run as a background job (which starts
    # with SIGINT ignored, and a child would inherit that)
    main = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
            "sys.argv[0] = 'tidymark'; runpy.run_module('tidymark', run_name='__main__', alter_sys=True)")
    proc = subprocess.Popen([sys.executable, "-c", main, "fix", "--no-cache", "-j", jobs, "."],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=group)
    jr = tmp_path / ".tidymark_cache" / "journal"
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        workers |= _children(proc.pid)
        if len(list(jr.glob("*/files/*.json"))) >= 3:  # a few files are done: interrupt now
            break
        time.sleep(0.02)
    workers |= _children(proc.pid)
    if group:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    state = {}
    for name, data in files.items():
        now = (tmp_path / name).read_bytes()
        assert now in (data, fixed[name]), f"{name} is neither the old nor the new version"
        state[name] = now == fixed[name]
    changed = sum(state.values())
    assert 0 < changed < len(files)
    assert f"interrupted after " in err and f"of 300 files ({changed} changed; every file is either" in err
    assert temp_files(tmp_path) == []
    time.sleep(0.2)
    assert not [p for p in workers if _alive(p)], "worker processes outlived the run"
    # the journal lists exactly the changed files, and undo puts every one back
    [rundir] = [p for p in jr.iterdir() if p.is_dir()]
    manifest = json.loads((rundir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["complete"] is False
    assert sorted(Path(f["path"]).name for f in manifest["files"]) == sorted(k for k, v in state.items() if v)
    undo = subprocess.run([sys.executable, "-m", "tidymark", "undo"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data
