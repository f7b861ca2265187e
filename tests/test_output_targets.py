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


# -- `tidymark learn` never overwrites a rule pack ------------------------------------------------

def _site_notes(root: Path, n: int = 5) -> None:
    for i in range(n):
        body = "\n\n".join(f"Paragraph {k} of story {i} has enough words to count as real text." for k in range(3))
        (root / f"post{i}.md").write_text(f"---\ntitle: T\nurl: https://blog.example.org/{i}\n---\n\n{body}\n\n"
                                          f"Comments are closed on this blog.\n", encoding="utf-8")


@pytest.mark.parametrize("output", [None, "mine.yaml"], ids=["default-name", "-o existing"])
def test_learn_never_overwrites_a_rule_pack(proj, capsys, output):
    _site_notes(proj)
    argv = ["learn", "."] + (["-o", output] if output else [])
    name = output or "learned-boilerplate.yaml"
    assert main(argv) == 0, capsys.readouterr().err
    assert "written to " + name in capsys.readouterr().out
    pack = proj / name
    edited = pack.read_text(encoding="utf-8").replace("# Review every pattern", "# Reviewed by me: keep")
    pack.write_text(edited, encoding="utf-8")
    code = main(argv)  # the user runs it again
    out, err = capsys.readouterr()
    assert code == 2 and out == "", out
    assert f"{name} already exists" in err and "not overwritten" in err and "-o NEW.yaml" in err, err
    assert pack.read_text(encoding="utf-8") == edited
    assert sorted(p.name for p in proj.iterdir() if p.name.startswith(f".{name}")) == []
    # a new name gets the new candidates
    assert main(["learn", ".", "-o", "again.yaml"]) == 0
    capsys.readouterr()
    assert "Comments are closed on this blog." in (proj / "again.yaml").read_text(encoding="utf-8")


def test_learn_keeps_a_pack_that_appears_while_it_runs(proj, capsys, monkeypatch):
    """The name is taken between the first look and the write (another run, an editor)."""
    from tidymark.rules import ad005_site_boilerplate as ad005

    _site_notes(proj)
    real = ad005.SiteBoilerplate.candidates

    def candidates(self, facts):
        (proj / "race.yaml").write_text("# written meanwhile\n", encoding="utf-8")
        return real(self, facts)

    monkeypatch.setattr(ad005.SiteBoilerplate, "candidates", candidates)
    assert main(["learn", ".", "-o", "race.yaml"]) == 2
    assert "race.yaml already exists" in capsys.readouterr().err
    assert (proj / "race.yaml").read_text(encoding="utf-8") == "# written meanwhile\n"
    assert [p.name for p in proj.iterdir() if p.name.startswith(".race.yaml")] == []


def test_learn_writes_a_readable_pack_with_the_usual_mode(proj, capsys):
    _site_notes(proj)
    old = os.umask(0o022)
    try:
        assert main(["learn", ".", "-o", "fresh.yaml"]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert (proj / "fresh.yaml").stat().st_mode & 0o777 == 0o644
    assert (proj / "fresh.yaml").stat().st_nlink == 1  # the temporary name is gone
    assert main(["learn", ".", "-o", "."]) == 2  # a folder is never replaced either
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("taken", [False, True], ids=["new", "taken meanwhile"])
def test_learn_on_a_file_system_without_hard_links(proj, capsys, monkeypatch, taken):
    from tidymark.rules import ad005_site_boilerplate as ad005

    _site_notes(proj)

    def no_links(src, dst, *args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    if taken:
        real = ad005.SiteBoilerplate.candidates

        def candidates(self, facts):
            (proj / "pack.yaml").write_text("# written meanwhile\n", encoding="utf-8")
            return real(self, facts)

        monkeypatch.setattr(ad005.SiteBoilerplate, "candidates", candidates)
    code = main(["learn", ".", "-o", "pack.yaml"])
    err = capsys.readouterr().err
    text = (proj / "pack.yaml").read_text(encoding="utf-8")
    if taken:
        assert code == 2 and "pack.yaml already exists" in err and text == "# written meanwhile\n"
    else:
        assert code == 0 and "Comments are closed on this blog." in text
    assert [p.name for p in proj.iterdir() if p.name.startswith(".pack.yaml")] == []
