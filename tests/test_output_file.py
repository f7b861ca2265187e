"""--output-file FILE: the output goes to FILE, written whole, instead of stdout."""

from __future__ import annotations

import json
import os

import pytest

from tidymark.cli import main


@pytest.fixture
def notes(tmp_path, monkeypatch):
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (tmp_path / "a.md").write_text("---\ntitle: A\ndraft: true\n---\n# A\n\nText.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "junit", "github"])
def test_the_output_goes_to_the_file(notes, capsys, fmt):
    assert main(["check", "--no-cache", "--output-format", fmt, "."]) == 1
    expected = capsys.readouterr().out
    (notes / "out" / "report.txt").parent.mkdir()
    (notes / "out" / "report.txt").write_text("an older report\n", encoding="utf-8")
    assert main(["check", "--no-cache", "--output-format", fmt, "--output-file", "out/report.txt", "."]) == 1
    assert capsys.readouterr().out == ""
    written = (notes / "out" / "report.txt").read_text(encoding="utf-8")
    assert written == expected
    if fmt in ("json", "sarif"):
        json.loads(written)
    assert [p.name for p in (notes / "out").iterdir()] == ["report.txt"]  # no temporary file left
    mode = (notes / "out" / "report.txt").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_statistics_and_fix_summaries_go_to_the_file(notes, capsys):
    assert main(["check", "--no-cache", "--statistics", "--output-file", "stats.txt", "."]) == 1
    assert capsys.readouterr().out == ""
    text = (notes / "stats.txt").read_text(encoding="utf-8")
    assert text.splitlines()[0].split() == ["Count", "Code", "Fix", "Rule"] and "in total" in text


def test_missing_folders_are_made(notes, capsys):
    assert main(["check", "--no-cache", "--output-format", "json", "--output-file", "new/sub/out.json", "."]) == 1
    assert json.loads((notes / "new" / "sub" / "out.json").read_text(encoding="utf-8"))


def test_a_place_that_cannot_take_the_file_is_a_clear_error(notes, capsys):
    assert main(["check", "--no-cache", "--output-file", "a.md/out.json", "."]) == 2  # under a file
    _, err = capsys.readouterr()
    assert "--output-file a.md/out.json" in err and "Traceback" not in err
    (notes / "adir").mkdir()
    assert main(["check", "--no-cache", "--output-file", "adir", "."]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_run_that_fails_before_printing_leaves_the_file_as_it_was(notes, capsys):
    (notes / "out.json").write_text("previous\n", encoding="utf-8")
    assert main(["check", "--no-cache", "--select", "NOPE999", "--output-format", "json",
                 "--output-file", "out.json", "."]) == 2
    assert (notes / "out.json").read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in notes.iterdir()) == [".tidymark.yaml", "a.md", "out.json"]
