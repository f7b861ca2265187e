"""Files tidymark writes for the user: the baseline of ``--write-baseline`` and the rule pack
of ``learn``.  A folder as the target is a clear error before any work, and nothing is left
behind; a rule pack already there (which the user may have edited) is never overwritten."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tidymark import baseline as baseline_mod
from tidymark.cli import main

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text(BAD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if ".tidymark_cache" not in p.parts}


@pytest.mark.parametrize("target", [".", "/", "sub", "sub/", "..", "sub/.."])
def test_write_baseline_to_a_folder_is_a_clear_error(proj, capsys, target):
    before = _listing(proj)
    code = main(["check", "--write-baseline", target, "sub"])
    out, err = capsys.readouterr()
    assert code == 2, err
    shown = str(Path(target))
    assert "Traceback" not in err and f"--write-baseline {shown}:" in err and "is a folder" in err, err
    assert out == ""  # refused before the run
    assert _listing(proj) == before  # no `.sub.tmp` or other temporary file left


def test_write_baseline_into_a_missing_folder_is_a_clear_error(proj, capsys):
    code = main(["check", "--write-baseline", "nowhere/base.json", "sub"])
    err = capsys.readouterr().err
    assert code == 2 and "the folder nowhere does not exist" in err, err


def test_a_baseline_that_cannot_be_written_leaves_no_temporary_file(proj, capsys, monkeypatch):
    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    code = main(["check", "--write-baseline", "base.json", "sub"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write baseline base.json: No space left on device" in err, err
    assert not (proj / "base.json").exists()
    assert [p.name for p in proj.iterdir() if p.name.startswith(".base.json")] == []


def test_write_baseline_still_writes_a_file(proj, capsys):
    assert main(["check", "--write-baseline", "sub/base.json", "sub"]) == 0
    capsys.readouterr()
    assert baseline_mod.Baseline.load(proj / "sub" / "base.json").counts
    assert main(["check", "--baseline", "sub/base.json", "sub"]) == 0
