"""A folder tidymark may not enter: `TM001` for the folder, the run goes on and ends normally.

A folder with mode 000 cannot be listed; one with mode 600 can be listed but nothing in it
can be looked at (no search permission), so even asking whether it has a `.tidymark.yaml`
fails.  Both once raised `PermissionError` — in `fix`, after other files had been written and
without a summary.  Root ignores permission bits, so the kernel's answers are also reproduced
at the system calls (`os.stat`, `os.lstat`, `os.scandir`, `os.open`), and a real `chmod` test
runs where the tests do not run as root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tidymark.cli import main

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
FIXED = "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    for name in ("a.md", "sub/b.md", "sub/deeper/c.md", "z.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _deny(monkeypatch, folder: Path, mode: int) -> None:
    """Answer as the kernel does for a non-root user when ``folder`` has ``mode`` (000 or 600)."""
    inside = str(folder) + os.sep

    def denied(path, listing: bool) -> bool:
        if isinstance(path, int):  # a file descriptor: already open
            return False
        p = os.path.abspath(os.fsdecode(path))
        return p.startswith(inside) or (listing and mode == 0o000 and p == str(folder))

    def wrap(real, listing: bool = False):
        def call(path=".", *args, **kwargs):
            if denied(path, listing):
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "stat", wrap(os.stat))
    monkeypatch.setattr(os, "lstat", wrap(os.lstat))
    monkeypatch.setattr(os, "open", wrap(os.open))
    monkeypatch.setattr(os, "scandir", wrap(os.scandir, listing=True))


def _check_outcome(proj: Path, capsys, command: str, extra=()) -> None:
    code = main([command, "--no-cache", "-j", "1", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    assert code == 1, (out, err)
    assert "sub:1:1: TM001 cannot read folder: Permission denied" in out, out
    assert "sub/b.md" not in out and "sub/deeper" not in out
    if command == "fix":
        assert (proj / "a.md").read_text(encoding="utf-8") == FIXED
        assert (proj / "z.md").read_text(encoding="utf-8") == FIXED  # after the folder: the run went on
        assert "Fixed 2 problems in 2 files (1 remaining)" in out and "Scanned 3 files" in out, out
        assert "The originals of the 2 changed files are kept" in out
    else:
        assert "a.md:2:1: FM002" in out and "z.md:2:1: FM002" in out
        assert "Found 3 problems" in out
    assert (proj / "sub" / "b.md").read_text(encoding="utf-8") == BAD


@pytest.mark.parametrize("mode", [0o000, 0o600], ids=["000", "600"])
@pytest.mark.parametrize("command", ["check", "fix"])
def test_a_folder_without_permission_is_reported_and_the_run_goes_on(proj, capsys, monkeypatch, mode, command):
    _deny(monkeypatch, proj / "sub", mode)
    _check_outcome(proj, capsys, command)


def test_json_output_names_the_folder(proj, capsys, monkeypatch):
    _deny(monkeypatch, proj / "sub", 0o600)
    code = main(["check", "--no-cache", "-j", "1", "--output-format", "json"])
    items = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(i["path"], i["code"]) for i in items if i["code"] == "TM001"] == [("sub", "TM001")]


def test_a_file_named_inside_such_a_folder(proj, capsys, monkeypatch):
    _deny(monkeypatch, proj / "sub", 0o600)
    code = main(["fix", "--no-cache", "sub/b.md", "a.md"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and code == 1, (out, err)
    assert "sub/b.md:1:1: TM001 cannot read: Permission denied" in out
    assert (proj / "a.md").read_text(encoding="utf-8") == FIXED


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores permission bits (the cases above reproduce them at the system calls)")
@pytest.mark.parametrize("mode", [0o000, 0o600], ids=["000", "600"])
@pytest.mark.parametrize("command", ["check", "fix"])
def test_a_real_folder_without_permission(proj, capsys, mode, command):
    (proj / "sub").chmod(mode)
    try:
        _check_outcome(proj, capsys, command)
    finally:
        (proj / "sub").chmod(0o755)


def test_config_and_write_baseline_behind_such_a_folder(proj, capsys, monkeypatch):
    _deny(monkeypatch, proj / "sub", 0o600)
    assert main(["config", "sub/deeper"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "sub/deeper: cannot read its configuration: Permission denied" in err
    assert main(["check", "--no-cache", "--write-baseline", "sub/deeper/base.json", "a.md"]) == 2
    err = capsys.readouterr().err
    assert "--write-baseline sub/deeper/base.json: Permission denied" in err, err
