"""``tidymark watch``: notes are checked or fixed when they arrive, once they have settled."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("watchfiles")

from tidymark.cli import main  # noqa: E402
from tidymark.pipeline import RunOptions, Worker  # noqa: E402
from tidymark.watch import Watcher  # noqa: E402

DIRTY = "---\ntitle: |\n  Subsidies cannot buy loyalty\nsource: https://example.com/a\n---\nBody text.\n"
FIXED = "---\ntitle: Subsidies cannot buy loyalty\nsource: https://example.com/a\n---\nBody text.\n"
SETTLE = 0.6


def wait_for(predicate, timeout: float = 30.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Running:
    """``python -m tidymark watch`` in a folder, its output in files."""

    def __init__(self, folder: Path, *args: str, settle: float = SETTLE):
        self.folder = folder
        self.out = folder.parent / "watch.out"
        self.err = folder.parent / "watch.err"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tidymark", "watch", ".", "--settle", str(settle), *args],
            cwd=folder, stdout=self.out.open("wb"), stderr=self.err.open("wb"), stdin=subprocess.DEVNULL,
            # Ctrl-C's default action even when the suite runs as a background job (SIGINT ignored there)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        wait_for(lambda: "watching" in self.stderr() or self.proc.poll() is not None, what="the watcher to start")
        assert self.proc.poll() is None, self.stderr()
        time.sleep(0.3)  # the file events are being listened to

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8")

    def lines_for(self, name: str) -> list[str]:
        return [line for line in self.stdout().splitlines() if f" {name}: " in line]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def vault(tmp_path) -> Path:
    folder = tmp_path / "Clippings"
    folder.mkdir()
    (folder / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    return folder


def test_a_note_written_in_two_steps_is_fixed_once(vault):
    w = Running(vault, "--fix", settle=1.5)
    try:
        note = vault / "clip.md"
        note.write_text(DIRTY[:20], encoding="utf-8")  # a clipper's first write: part of the note
        time.sleep(0.2)
        note.write_text(DIRTY, encoding="utf-8")      # ... then the rest
        wait_for(lambda: w.lines_for("clip.md"), what="the note to be handled")
        assert note.read_text(encoding="utf-8") == FIXED
        mtime = note.stat().st_mtime_ns
        time.sleep(3)  # its own write comes back as an event: ignored, no second fix
        assert len(w.lines_for("clip.md")) == 1, w.stdout()
        assert "clip.md: fixed 1 problem (FM002), clean" in w.lines_for("clip.md")[0]
        assert note.stat().st_mtime_ns == mtime
        # the fix can be undone, as any fix run
        assert (vault / ".tidymark_cache" / "journal").is_dir()
    finally:
        code = w.stop()
    assert code == 0
    assert "stopped watching; 1 note handled, 1 fixed" in w.stderr()
    assert "Traceback" not in w.stderr()


def test_a_note_being_edited_is_not_overwritten(vault):
    w = Running(vault, "--fix", settle=1.5)
    try:
        note = vault / "draft.md"
        end = time.monotonic() + 4
        i = 0
        while time.monotonic() < end:  # someone typing and saving, faster than the settle time
            note.write_text(DIRTY + f"More text {i}.\n", encoding="utf-8")
            i += 1
            time.sleep(0.2)
            assert not w.lines_for("draft.md"), "a note was handled while it kept changing"
        last = DIRTY + f"More text {i - 1}.\n"
        assert note.read_text(encoding="utf-8") == last
        wait_for(lambda: w.lines_for("draft.md"), what="the note to be handled once settled")
        assert note.read_text(encoding="utf-8") == FIXED + f"More text {i - 1}.\n"
        assert len(w.lines_for("draft.md")) == 1
    finally:
        assert w.stop() == 0


def test_check_mode_reports_and_never_writes(vault):
    w = Running(vault)
    try:
        note = vault / "clip.md"
        note.write_text(DIRTY, encoding="utf-8")
        wait_for(lambda: w.lines_for("clip.md"), what="the note to be checked")
        assert note.read_text(encoding="utf-8") == DIRTY
        out = w.stdout()
        assert "clip.md:2:1: FM002 " in out and "clip.md: 1 problem left" in out
    finally:
        assert w.stop() == 0


def _watcher(folder: Path, mode: str = "fix", **kw) -> tuple[Watcher, io.StringIO]:
    out = io.StringIO()
    w = Watcher([folder], RunOptions(mode=mode, use_cache=False), settle=0.0, out=out, **kw)
    return w, out


def test_a_note_changed_between_read_and_write_is_left_alone(vault, monkeypatch):
    monkeypatch.chdir(vault)
    note = vault / "race.md"
    note.write_text(DIRTY, encoding="utf-8")
    w, out = _watcher(vault)
    real_read = Worker.read
    edited = DIRTY + "Typed while tidymark was fixing.\n"

    def read_then_edit(self, path, settings):
        doc = real_read(self, path, settings)
        path.write_text(edited, encoding="utf-8")  # the user saves right after tidymark read the note
        return doc

    monkeypatch.setattr(Worker, "read", read_then_edit)
    w.changes({str(note)})
    w.tick()
    assert note.read_text(encoding="utf-8") == edited
    assert "race.md: not fixed, the file changed on disk" in out.getvalue()
    monkeypatch.setattr(Worker, "read", real_read)
    w.changes({str(note)})  # the event of the user's save
    w.tick()
    assert note.read_text(encoding="utf-8") == FIXED + "Typed while tidymark was fixing.\n"


def test_only_notes_the_walk_would_check(vault, monkeypatch):
    monkeypatch.chdir(vault)
    (vault / ".gitignore").write_text("private/\nscratch.md\n", encoding="utf-8")
    (vault / ".tidymark.yaml").write_text("exclude: [templates/]\n", encoding="utf-8")
    w, _ = _watcher(vault)
    yes = ["a.md", "sub/b.markdown", "sub/deeper/C.MD"]
    no = [".a.md.x1y2.tidymark-tmp", ".hidden.md", "a.txt", ".obsidian/workspace.md", ".trash/old.md",
          "node_modules/x.md", "templates/t.md", "private/p.md", "scratch.md"]
    for name in yes:
        assert w.is_note(vault / name), name
    for name in no:
        assert not w.is_note(vault / name), name
    assert not w.is_note(vault.parent / "elsewhere.md")


def test_configuration_change_is_read_again(vault, monkeypatch):
    monkeypatch.chdir(vault)
    note = vault / "n.md"
    note.write_text(DIRTY, encoding="utf-8")
    w, out = _watcher(vault, mode="check")
    (vault / ".tidymark.yaml").write_text("ignore: [FM002]\n", encoding="utf-8")
    w.changes({str(vault / ".tidymark.yaml"), str(note)})
    w.tick()
    assert "configuration changed" in out.getvalue()
    assert "n.md: clean" in out.getvalue() and "FM002" not in out.getvalue()
    (vault / ".tidymark.yaml").write_text("select: [NOPE999]\n", encoding="utf-8")
    w.changes({str(vault / ".tidymark.yaml")})
    assert "configuration error, keeping the previous configuration" in out.getvalue()


def test_settling_waits_for_the_file_to_stop_changing(vault, monkeypatch):
    monkeypatch.chdir(vault)
    now = [100.0]
    out = io.StringIO()
    w = Watcher([vault], RunOptions(mode="check", use_cache=False), settle=1.0, out=out, clock=lambda: now[0])
    note = vault / "n.md"
    note.write_text(DIRTY, encoding="utf-8")
    w.changes({str(note)})
    now[0] += 0.5
    w.tick()
    assert out.getvalue() == ""
    note.write_text(DIRTY + "more\n", encoding="utf-8")  # changed again: the wait starts over
    now[0] += 0.7
    w.tick()
    assert out.getvalue() == ""
    now[0] += 0.7
    w.tick()
    assert out.getvalue() == ""
    now[0] += 0.4
    w.tick()
    assert "n.md: 1 problem left" in out.getvalue()


def test_missing_folder_and_missing_watchfiles(vault, monkeypatch, capsys):
    monkeypatch.chdir(vault)
    assert main(["watch", "nowhere"]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err
    import builtins

    real = builtins.__import__

    def no_watchfiles(name, *a, **k):
        if name.split(".")[0] == "watchfiles":
            raise ImportError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_watchfiles)
    assert main(["watch", "."]) == 2
    assert "pip install 'tidymark[watch]'" in capsys.readouterr().err
