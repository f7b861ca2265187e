"""Baselines: ``--write-baseline FILE`` records today's problems, ``--baseline FILE`` hides them.

Problems are matched by content (file, rule, flagged text), not by line, so edits above a
known problem do not bring it back, while a new copy of it does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tidymark.cli import main

PROXY = "https://proxy-prod.omnivore-image-cache.app/0x0,sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"
IMG = f"![]({PROXY}/https://img.example.org/a.png)"
NOTE = f"---\ntitle: |\n  Subsidies cannot buy loyalty\ndraft: true\n---\n# Heading\n\nIntro.\n\n{IMG}\n\nOutro.\n"
OTHER = "---\ntitle: Release notes\ndraft: true\n---\nBody.\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "vault"
    write(root / ".tidymark.yaml", "# defaults\n")
    write(root / "notes" / "a.md", NOTE)
    write(root / "notes" / "b.md", OTHER)
    write(root / "clean.md", "---\ntitle: Clean\n---\nBody.\n")
    monkeypatch.chdir(root)
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-cache"])
    out, err = capsys.readouterr()
    return code, out, err


def items(capsys, *argv: str) -> tuple[int, list[dict]]:
    code, out, err = run(capsys, "check", "--output-format", "json", *argv)
    assert code in (0, 1), err
    return code, json.loads(out)


def found(data: list[dict]) -> list[tuple[str, int, str]]:
    return sorted((i["path"], i["line"], i["code"]) for i in data)


@pytest.fixture
def baseline(proj, capsys) -> Path:
    code, out, err = run(capsys, "check", "--write-baseline", "baseline.json", ".")
    assert code in (0, 1), err
    assert "Baseline with 4 problems written to baseline.json" in err
    return proj / "baseline.json"


def test_written_baseline_lists_todays_problems(proj, capsys, baseline):
    data = json.loads(baseline.read_text(encoding="utf-8"))
    assert data["format"] == 1 and data["tool"] == "tidymark"
    entries = sorted((p["path"], p["code"], p["count"]) for p in data["problems"])
    assert entries == [("notes/a.md", "FM002", 1), ("notes/a.md", "IM001", 1), ("notes/a.md", "PB001", 1),
                       ("notes/b.md", "PB001", 1)]
    assert all(isinstance(p["fingerprint"], str) and p["fingerprint"] for p in data["problems"])
    # nothing about lines: the baseline does not go stale when text moves
    assert not any("line" in p for p in data["problems"])


def test_round_trip_reports_nothing(proj, capsys, baseline):
    code, out, err = run(capsys, "check", "--baseline", "baseline.json", ".")
    assert code == 0, out + err
    assert "All checks passed!" in out
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert (code, data) == (0, [])
    for fmt in ("github", "concise", "gitlab"):
        code, out, _ = run(capsys, "check", "--output-format", fmt, "--baseline", "baseline.json", ".")
        assert code == 0 and out.strip() in ("", "[]"), (fmt, out)


def test_edits_above_a_known_problem_keep_it_hidden(proj, capsys, baseline):
    a = proj / "notes" / "a.md"
    text = a.read_text(encoding="utf-8")
    head, body = text.split("# Heading\n", 1)
    # new lines above every problem in the body, and the front matter reordered
    write(a, head.replace("draft: true\n", "").replace("---\ntitle", "---\ndraft: true\ntitle", 1)
          + "# Heading\n\nA new first paragraph,\nover two lines.\n\n" + body)
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert (code, data) == (0, [])
    _, everything = items(capsys, ".")
    img = next(i for i in everything if i["code"] == "IM001")
    assert img["line"] == 14  # it moved down from line 10
    # CRLF line endings do not matter either
    write(a, a.read_text(encoding="utf-8").replace("\n", "\r\n"))
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert (code, data) == (0, [])


def test_a_new_occurrence_of_a_known_problem_is_reported(proj, capsys, baseline):
    a = proj / "notes" / "a.md"
    write(a, a.read_text(encoding="utf-8") + f"\nMore text.\n\n{IMG}\n")
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert code == 1
    assert [(i["path"], i["code"]) for i in data] == [("notes/a.md", "IM001")]  # one of the two copies
    # the same problem in another file is new too: the path is part of the match
    write(proj / "notes" / "c.md", OTHER)
    code, data = items(capsys, "--baseline", "baseline.json", "notes/c.md")
    assert code == 1 and found(data) == [("notes/c.md", 3, "PB001")]


def test_a_changed_problem_is_new(proj, capsys, baseline):
    a = proj / "notes" / "a.md"
    write(a, a.read_text(encoding="utf-8").replace("img.example.org/a.png", "img.example.org/z.png"))
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert code == 1 and [(i["path"], i["code"]) for i in data] == [("notes/a.md", "IM001")]


def test_a_fixed_problem_disappears(proj, capsys, baseline):
    code, _, _ = run(capsys, "fix", "notes/a.md")  # fixes FM002 and IM001; PB001 needs --unsafe-fixes
    assert code == 1
    _, left = items(capsys, "notes/a.md")
    assert [i["code"] for i in left] == ["PB001"]
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert (code, data) == (0, [])
    # re-recording drops what was fixed
    run(capsys, "check", "--write-baseline", "baseline.json", ".")
    entries = sorted((p["path"], p["code"]) for p in json.loads(baseline.read_text(encoding="utf-8"))["problems"])
    assert entries == [("notes/a.md", "PB001"), ("notes/b.md", "PB001")]
    # ... so the problem coming back is new again
    write(proj / "notes" / "a.md", NOTE)
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert code == 1 and sorted(i["code"] for i in data) == ["FM002", "IM001"]


def test_baseline_paths_are_relative_to_the_baseline_file(proj, capsys):
    (proj / "ci").mkdir()
    run(capsys, "check", "--write-baseline", "ci/tidymark-baseline.json", "notes")
    data = json.loads((proj / "ci" / "tidymark-baseline.json").read_text(encoding="utf-8"))
    assert {p["path"] for p in data["problems"]} == {"../notes/a.md", "../notes/b.md"}

    # from another working directory, naming the files differently, the baseline still applies
    import os

    os.chdir(proj / "notes")
    code, data = items(capsys, "--baseline", "../ci/tidymark-baseline.json", ".")
    assert (code, data) == (0, [])
    code, data = items(capsys, "--baseline", str(proj / "ci" / "tidymark-baseline.json"), str(proj / "notes" / "a.md"))
    assert (code, data) == (0, [])
    # and written from there it is the same file
    before = (proj / "ci" / "tidymark-baseline.json").read_bytes()
    run(capsys, "check", "--write-baseline", "../ci/tidymark-baseline.json", ".")
    assert (proj / "ci" / "tidymark-baseline.json").read_bytes() == before


def test_moving_the_baseline_with_the_vault_keeps_it_valid(proj, capsys, baseline, tmp_path, monkeypatch):
    import shutil

    moved = tmp_path / "elsewhere" / "vault"
    shutil.copytree(proj, moved)
    monkeypatch.chdir(moved)
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert (code, data) == (0, [])


def test_unreadable_files_are_never_baselined(proj, capsys):
    write(proj / "latin1.md", "---\ntitle: café\n---\n".encode("latin-1"))
    run(capsys, "check", "--write-baseline", "baseline.json", ".")
    code, data = items(capsys, "--baseline", "baseline.json", ".")
    assert code == 1 and [(i["path"], i["code"]) for i in data] == [("latin1.md", "TM001")]


@pytest.mark.parametrize("content, needle", [
    (None, "not found"),
    ("{not json", "cannot read baseline"),
    ("[]", "not a tidymark baseline"),
    ('{"format": 99, "problems": []}', "not a tidymark baseline"),
    ('{"format": 1, "problems": [{"path": "a.md"}]}', "malformed entry"),
    ('{"format": 1, "problems": ["a.md"]}', "malformed entry"),
    (b"\xff\xfe\x00garbage", "cannot read baseline"),
])
def test_bad_or_missing_baseline_is_a_usage_error(proj, capsys, content, needle):
    path = proj / "ci" / "base line.json"
    if content is not None:
        write(path, content)
    code, out, err = run(capsys, "check", "--baseline", str(path.relative_to(proj)), ".")
    assert code == 2
    assert out == ""  # nothing was checked
    assert str(path.relative_to(proj)) in err and needle in err, err


def test_baseline_that_is_a_folder(proj, capsys):
    (proj / "dir.json").mkdir()
    code, _, err = run(capsys, "check", "--baseline", "dir.json", ".")
    assert code == 2 and "dir.json" in err


def test_writing_a_baseline_into_a_missing_folder_fails_cleanly(proj, capsys):
    code, _, err = run(capsys, "check", "--write-baseline", "no/such/dir/b.json", ".")
    assert code == 2 and "no/such/dir/b.json" in err


def test_fingerprint_is_content_not_position():
    from tidymark.baseline import fingerprint

    # the flagged text, whitespace collapsed (so CRLF, re-wrapping and indentation do not matter)
    assert fingerprint("DM002", "# A  title\r\n", "at line 5") == fingerprint("DM002", "# A title", "at line 9")
    assert fingerprint("DM002", "# A title", "m") != fingerprint("DM001", "# A title", "m")
    assert fingerprint("DM002", "# A title", "m") != fingerprint("DM002", "# Another", "m")
    # nothing flagged (an empty span): the message, without the line numbers it mentions
    assert fingerprint("XX001", "", "Missing `url` (line 5)") == fingerprint("XX001", "", "Missing `url` (line 12)")
    assert fingerprint("XX001", "", "lines 3-4 repeat") == fingerprint("XX001", "", "lines 10–11 repeat")
    assert fingerprint("XX001", "", "Missing `url`") != fingerprint("XX001", "", "Missing `date`")


def test_text_summary_says_how_many_problems_the_baseline_hides(proj, capsys, baseline):
    code, out, _ = run(capsys, "check", "--baseline", "baseline.json", ".")
    assert code == 0
    assert out.splitlines()[-1] == "4 known problems hidden by the baseline."
    code, out, _ = run(capsys, "check", ".")
    assert "hidden by the baseline" not in out


def test_a_file_name_that_is_not_utf8_is_baselined_and_matched(proj, capsys):
    try:
        write(Path(os.fsdecode(b"notes/caf\xe9.md")), OTHER)  # Latin-1 bytes: not UTF-8
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes only UTF-8 names")
    code, out, err = run(capsys, "check", "--write-baseline", "baseline.json", ".")
    assert "Baseline with 5 problems written to baseline.json" in err and "Traceback" not in err
    assert any(p["path"] == os.fsdecode(b"notes/caf\xe9.md")
               for p in json.loads((proj / "baseline.json").read_text(encoding="utf-8"))["problems"])
    code, out, err = run(capsys, "check", "--baseline", "baseline.json", ".")
    assert code == 0 and "All checks passed!" in out, out + err
