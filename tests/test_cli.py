"""End-to-end tests of the ``tidymark`` command line (``tidymark.cli.main`` and subprocesses)."""

from __future__ import annotations

import builtins
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tidymark import __version__, registry, runner
from tidymark.cli import main
from tidymark.rule import Rule

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
BAD_FIXED = "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"
DRAFT = "---\ntitle: Release notes\ndraft: true\n---\nBody text.\n"
DRAFT_FIXED = "---\ntitle: Release notes\n---\nBody text.\n"
CLEAN = "---\ntitle: A clean note\ntags: [a, b]\n---\nBody text with a [link](https://example.com/).\n"
FM002_MSG = "`title` is a block scalar (`|`), so its value ends with a newline"

JSON_KEYS = {"path", "line", "column", "end_line", "end_column", "code", "name", "message", "severity", "fix"}


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    """An isolated folder (its own empty config, so no config above it applies), made the cwd."""
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> tuple[int, list[dict]]:
    code, out, err = run(capsys, *argv, "--output-format", "json")
    data = json.loads(out)
    assert isinstance(data, list), out
    return code, data


def codes(items: list[dict]) -> list[tuple[str, str]]:
    return sorted((i["path"], i["code"]) for i in items)


# -- exit codes and text output ---------------------------------------------------------

def test_clean_file_exits_0(proj, capsys):
    write(proj / "a.md", CLEAN)
    code, out, err = run(capsys, "check", "a.md")
    assert code == 0, out + err
    assert "All checks passed!" in out
    assert err == ""


def test_problems_exit_1_with_ruff_like_text(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    code, out, _ = run(capsys, "check", ".")
    assert code == 1
    lines = out.splitlines()
    assert f"a.md:2:1: FM002 [*] {FM002_MSG}" in lines
    assert "b.md:3:1: PB001 `draft: true` marks the document as a draft" in lines  # unsafe: no [*]
    assert "Found 2 problems." in lines
    assert "[*] 1 fixable with `tidymark fix`." in lines
    assert "1 hidden fix can be enabled with `--unsafe-fixes`." in lines


def test_unsafe_fixes_flag_marks_unsafe_fixes_fixable(proj, capsys):
    write(proj / "b.md", DRAFT)
    code, out, _ = run(capsys, "check", "--unsafe-fixes", "b.md")
    assert code == 1
    assert "b.md:3:1: PB001 [*]" in out
    assert "hidden fix" not in out


def test_exit_zero(proj, capsys):
    write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "check", "--exit-zero", "a.md")
    assert code == 0
    assert "FM002" in out


def test_quiet_prints_diagnostics_only(proj, capsys):
    write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "check", "-q", "a.md")
    assert code == 1
    assert out.splitlines() == [f"a.md:2:1: FM002 [*] {FM002_MSG}"]


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err.lower()


def test_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["check", "--no-such-option"])
    assert exc.value.code == 2


def test_default_path_is_cwd(proj, capsys):
    write(proj / "sub" / "a.md", BAD)
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert os.path.join("sub", "a.md") + ":2:1: FM002" in out


# -- JSON output --------------------------------------------------------------------------

def test_json_shape(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    write(proj / "c.md", CLEAN)
    code, items = run_json(capsys, "check", ".")
    assert code == 1
    assert [(i["path"], i["code"]) for i in items] == [("a.md", "FM002"), ("b.md", "PB001")]
    for i in items:
        assert JSON_KEYS <= set(i), set(i) ^ JSON_KEYS
        for k in ("line", "column", "end_line", "end_column"):
            assert isinstance(i[k], int) and i[k] >= 1, (k, i)
    a, b = items
    assert (a["line"], a["column"], a["end_line"], a["end_column"]) == (2, 1, 2, 9)  # `title: |`
    assert a["name"] == "block-scalar-single-line"
    assert a["message"] == FM002_MSG
    assert a["severity"] == "error"
    assert a["fix"]["applicability"] == "safe"
    assert a["fix"]["message"] == "Write `title` on one line"
    # the edit replaces `|\n  Subsidies cannot buy loyalty` (line 2 col 8 .. line 3 col 31, just past the end)
    assert a["fix"]["edits"] == [{"line": 2, "column": 8, "end_line": 3, "end_column": 31,
                                  "content": "Subsidies cannot buy loyalty"}]
    assert b["severity"] == "warning"
    assert b["fix"]["applicability"] == "unsafe"
    assert b["fix"]["edits"] == [{"line": 3, "column": 1, "end_line": 4, "end_column": 1, "content": ""}]


def test_json_no_fix_is_null_and_empty_run_is_empty_array(proj, capsys):
    write(proj / "x.md", "---\ntitle: [unclosed\n---\nBody\n")
    code, items = run_json(capsys, "check", "x.md")
    assert code == 1
    assert [i["code"] for i in items] == ["FM000"]
    assert items[0]["fix"] is None
    write(proj / "c.md", CLEAN)
    code, items = run_json(capsys, "check", "c.md")
    assert (code, items) == (0, [])


def test_json_columns_count_code_points(proj, capsys):
    write(proj / "zh.md", "---\ntitle: |\n  补贴烧不出忠诚度\n---\n正文\n")
    code, items = run_json(capsys, "check", "zh.md")
    assert code == 1
    (item,) = items
    assert item["fix"]["edits"][0]["end_column"] == 1 + 2 + len("补贴烧不出忠诚度")


def test_json_from_fix_reports_what_remains(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    code, items = run_json(capsys, "fix", ".")
    assert code == 1
    assert codes(items) == [("b.md", "PB001")]
    assert (proj / "a.md").read_text(encoding="utf-8") == BAD_FIXED


# -- fix, --diff, writing -------------------------------------------------------------

def test_diff_prints_unified_diff_and_writes_nothing(proj, capsys):
    f = write(proj / "a.md", BAD)
    before = f.stat()
    code, out, err = run(capsys, "fix", "--diff", "a.md")
    assert code == 1
    assert out.startswith("--- a/a.md\n+++ b/a.md\n@@ ")
    assert "-title: |\n-  Subsidies cannot buy loyalty\n+title: Subsidies cannot buy loyalty\n" in out
    assert "Would fix 1 problem in 1 file" in err
    assert f.read_text(encoding="utf-8") == BAD
    after = f.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_diff_with_nothing_to_fix_exits_0(proj, capsys):
    write(proj / "c.md", CLEAN)
    code, out, _ = run(capsys, "fix", "--diff", "c.md")
    assert code == 0
    assert out == ""


def test_fix_writes_then_second_fix_changes_nothing(proj, capsys):
    f = write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "fix", "a.md")
    assert code == 0, out  # nothing remains
    assert "Fixed 1 problem in 1 file (0 remaining)." in out
    assert f.read_bytes() == BAD_FIXED.encode()
    st = f.stat()
    code, out, _ = run(capsys, "fix", "a.md")
    assert code == 0
    assert "All checks passed!" in out
    st2 = f.stat()
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_fix_exits_1_when_problems_remain(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    code, out, _ = run(capsys, "fix", ".")
    assert code == 1
    assert "Fixed 1 problem in 1 file (1 remaining)." in out
    assert "b.md:3:1: PB001" in out


def test_unsafe_fixes_are_applied_only_on_request(proj, capsys):
    f = write(proj / "b.md", DRAFT)
    st = f.stat()
    code, _, _ = run(capsys, "fix", "b.md")
    assert code == 1
    assert f.read_text(encoding="utf-8") == DRAFT
    assert (f.stat().st_ino, f.stat().st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    code, out, _ = run(capsys, "fix", "--unsafe-fixes", "b.md")
    assert code == 0, out
    assert f.read_text(encoding="utf-8") == DRAFT_FIXED


def test_unsafe_fixes_from_config(proj, capsys):
    (proj / ".tidymark.yaml").write_text("unsafe-fixes: true\n", encoding="utf-8")
    f = write(proj / "b.md", DRAFT)
    code, _, _ = run(capsys, "fix", "b.md")
    assert code == 0
    assert f.read_text(encoding="utf-8") == DRAFT_FIXED
    f.write_text(DRAFT, encoding="utf-8")
    code, _, _ = run(capsys, "fix", "--no-unsafe-fixes", "b.md")
    assert code == 1
    assert f.read_text(encoding="utf-8") == DRAFT


def test_file_without_fixes_is_never_rewritten(proj, capsys):
    files = [write(proj / "c.md", CLEAN), write(proj / "d.md", DRAFT),
             write(proj / "e.md", "---\ntitle: [broken\n---\n")]
    before = {f: (f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes()) for f in files}
    os.utime(files[0], ns=(1_000_000_000, 1_000_000_000))  # an old mtime makes any rewrite visible
    before[files[0]] = (files[0].stat().st_ino, files[0].stat().st_mtime_ns, files[0].read_bytes())
    run(capsys, "fix", ".")
    for f in files:
        assert (f.stat().st_ino, f.stat().st_mtime_ns, f.read_bytes()) == before[f], f
    assert not [p.name for p in proj.iterdir() if "tidymark-tmp" in p.name]


def test_fix_preserves_bom_and_crlf(proj, capsys):
    data = b"\xef\xbb\xbf" + BAD.replace("\n", "\r\n").encode()
    f = write(proj / "w.md", data)
    code, _, _ = run(capsys, "fix", "w.md")
    assert code == 0
    assert f.read_bytes() == b"\xef\xbb\xbf" + BAD_FIXED.replace("\n", "\r\n").encode()


def test_fix_preserves_missing_final_newline(proj, capsys):
    f = write(proj / "n.md", BAD.rstrip("\n"))
    run(capsys, "fix", "n.md")
    assert f.read_bytes() == BAD_FIXED.rstrip("\n").encode()


def test_fix_preserves_file_mode(proj, capsys):
    f = write(proj / "m.md", BAD)
    f.chmod(0o640)
    code, _, _ = run(capsys, "fix", "m.md")
    assert code == 0
    assert f.read_text(encoding="utf-8") == BAD_FIXED
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    g = write(proj / "x.md", BAD)
    g.chmod(0o755)
    run(capsys, "fix", "x.md")
    assert stat.S_IMODE(g.stat().st_mode) == 0o755


def test_fix_through_a_symlink_keeps_the_link(proj, capsys):
    target = write(proj / "real" / "t.md", BAD)
    link = proj / "link.md"
    link.symlink_to(target)
    code, _, _ = run(capsys, "fix", "link.md")
    assert code == 0
    assert link.is_symlink()
    assert target.read_text(encoding="utf-8") == BAD_FIXED


# -- unreadable files ---------------------------------------------------------------------

UNREADABLE = {
    "latin1.md": "caf\xe9 au lait\n".encode("latin-1"),
    "utf16.md": "\ufeff---\ntitle: x\n---\n".encode("utf-16"),
    "binary.md": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
}


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_undecodable_file_gets_tm001_and_others_still_run(proj, capsys, name):
    bad = write(proj / name, UNREADABLE[name])
    write(proj / "z.md", BAD)
    before = bad.stat()
    code, out, err = run(capsys, "fix", ".")
    assert code == 1
    assert "Traceback" not in out + err
    tm = [line for line in out.splitlines() if " TM001 " in line]
    assert len(tm) == 1 and tm[0].startswith(f"{name}:1:1: TM001 "), out
    assert (proj / "z.md").read_text(encoding="utf-8") == BAD_FIXED  # the other file was fixed
    after = bad.stat()
    assert bad.read_bytes() == UNREADABLE[name]
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_undecodable_messages_say_why(proj, capsys):
    for name, data in UNREADABLE.items():
        write(proj / name, data)
    code, items = run_json(capsys, "check", ".")
    assert code == 1
    by_path = {i["path"]: i for i in items}
    assert set(by_path) == set(UNREADABLE)
    assert all(i["code"] == "TM001" and i["name"] == "unreadable-file" for i in items)
    assert all((i["line"], i["column"]) == (1, 1) for i in items)
    assert "UTF-8" in by_path["latin1.md"]["message"] and "0xe9" in by_path["latin1.md"]["message"]
    assert "UTF-16" in by_path["utf16.md"]["message"]
    assert "binary" in by_path["binary.md"]["message"]


def test_permission_denied_gets_tm001(proj, capsys, monkeypatch):
    secret = write(proj / "secret.md", BAD)
    write(proj / "z.md", BAD)
    real_open = builtins.open

    def fake_open(file, *args, **kwargs):
        if Path(file).name == "secret.md":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(runner, "open", fake_open, raising=False)
    code, out, err = run(capsys, "fix", ".")
    assert code == 1
    assert "secret.md:1:1: TM001 cannot read file: Permission denied" in out.splitlines()
    assert "Traceback" not in out + err
    assert secret.read_text(encoding="utf-8") == BAD
    assert (proj / "z.md").read_text(encoding="utf-8") == BAD_FIXED


def test_broken_symlinks_get_tm001(proj, capsys):
    (proj / "dangling.md").symlink_to(proj / "nowhere.md")
    write(proj / "ok.md", CLEAN)
    code, out, _ = run(capsys, "check", ".")
    assert code == 1
    assert out.splitlines()[0].startswith("dangling.md:1:1: TM001 ")
    code, out, _ = run(capsys, "check", "dangling.md")
    assert code == 1
    assert out.startswith("dangling.md:1:1: TM001 ")


def test_missing_explicit_path_gets_tm001(proj, capsys):
    code, out, _ = run(capsys, "check", "missing.md")
    assert code == 1
    assert out.startswith("missing.md:1:1: TM001 no such file or directory")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_reported_not_read(proj, capsys):
    # opening a FIFO for reading blocks until a writer appears: it must be refused, not read
    os.mkfifo(proj / "pipe.md")
    write(proj / "ok.md", BAD)
    code, out, _ = run(capsys, "check", ".")
    assert code == 1
    assert "pipe.md:1:1: TM001 not a regular file" in out.splitlines()
    assert "ok.md:2:1: FM002" in out
    code, out, _ = run(capsys, "check", "pipe.md")
    assert code == 1
    assert "pipe.md:1:1: TM001 not a regular file" in out


def test_oversized_file_is_skipped_with_tm001(proj, capsys):
    (proj / ".tidymark.yaml").write_text("max-file-size: 100\n", encoding="utf-8")
    big = write(proj / "big.md", BAD + "x" * 200 + "\n")
    code, out, _ = run(capsys, "fix", "big.md")
    assert code == 1
    assert "big.md:1:1: TM001 " in out and "max-file-size" in out
    assert big.read_text(encoding="utf-8") == BAD + "x" * 200 + "\n"


# -- configuration errors ---------------------------------------------------------------

CONFIG_ERRORS = [
    ("pyproject.toml", "[tool.tidymark]\nselekt = ['FM']\n", ["unknown key `selekt`"]),
    ("pyproject.toml", "[tool.tidymark]\nextend_select = ['FM']\n", ["unknown key `extend_select`",
                                                                     "did you mean `extend-select`"]),
    ("pyproject.toml", "[tool.tidymark]\nselect = 3\n", ["`select` must be a list of strings"]),
    ("pyproject.toml", "[tool.tidymark]\nunsafe-fixes = 'yes'\n", ["`unsafe-fixes` must be true or false"]),
    ("pyproject.toml", "[tool.tidymark]\nmax-file-size = -1\n", ["`max-file-size` must be a positive integer"]),
    ("pyproject.toml", "[tool.tidymark]\nselect = ['ZZ9']\n", ["`select`", "'ZZ9'"]),
    ("pyproject.toml", "[tool.tidymark.per-file-ignores]\n'a/*.md' = ['QQ']\n", ["`per-file-ignores`", "'QQ'"]),
    ("pyproject.toml", "[tool.tidymark.rules.FM001]\nkeep = 'middle'\n", ["option 'keep' of rule FM001",
                                                                          "'first', 'last'"]),
    ("pyproject.toml", "[tool.tidymark.rules.duplicate-key]\nnope = 1\n", ["unknown option 'nope'", "FM001"]),
    ("pyproject.toml", "[tool.tidymark.rules.XX001]\na = 1\n", ["`rules.XX001`"]),
    ("pyproject.toml", "[tool.tidymark\n", ["invalid TOML"]),
    (".tidymark.yaml", "select: [FM]\nignore: PB001\nrulez: {}\n", ["unknown key `rulez`"]),
    (".tidymark.yaml", "select: [FM\n", ["invalid YAML"]),
    (".tidymark.yaml", "- select\n", ["must be a mapping"]),
    (".tidymark.yaml", "extend: missing.yaml\n", ["`extend` names missing.yaml", "does not exist"]),
    (".tidymark.yaml", "rules:\n  FM002:\n    keys: title\n", ["option 'keys' of rule FM002", "must be a list"]),
]


@pytest.mark.parametrize(("name", "content", "needles"), CONFIG_ERRORS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CONFIG_ERRORS)])
def test_config_error_exits_2_naming_file_and_key(proj, capsys, name, content, needles):
    (proj / ".tidymark.yaml").unlink()
    (proj / name).write_text(content, encoding="utf-8")
    write(proj / "a.md", BAD)
    code, out, err = run(capsys, "check", ".")
    assert code == 2, out + err
    assert "Traceback" not in err
    assert err.startswith("tidymark: error: "), err
    assert str(proj / name) in err or (name == ".tidymark.yaml" and "missing.yaml" in err), err
    for n in needles:
        assert n in err, (n, err)
    assert "FM002" not in out  # nothing was checked


def test_config_error_in_a_subfolder_config(proj, capsys):
    write(proj / "ok" / "a.md", CLEAN)
    write(proj / "sub" / "b.md", CLEAN)
    (proj / "sub" / "tidymark.yaml").write_text("ignore: 12\n", encoding="utf-8")
    code, _, err = run(capsys, "check", ".")
    assert code == 2
    assert str(proj / "sub" / "tidymark.yaml") in err and "`ignore`" in err


def test_unknown_selector_on_the_command_line(proj, capsys):
    write(proj / "a.md", BAD)
    for flag in ("--select", "--ignore", "--extend-select"):
        code, _, err = run(capsys, "check", flag, "NOPE", "a.md")
        assert code == 2, flag
        assert "'NOPE'" in err


def test_missing_config_file_option(proj, capsys):
    code, _, err = run(capsys, "check", "--config", "nothere.toml", ".")
    assert code == 2
    assert "nothere.toml" in err


def test_config_option_overrides_discovery(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    (proj / "other.yaml").write_text("select: [PB]\n", encoding="utf-8")
    code, items = run_json(capsys, "check", "--config", "other.yaml", ".")
    assert code == 1
    assert codes(items) == [("b.md", "PB001")]


# -- selection ------------------------------------------------------------------------------

def test_select_ignore_extend_select(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    _, items = run_json(capsys, "check", ".")
    assert codes(items) == [("a.md", "FM002"), ("b.md", "PB001")]
    _, items = run_json(capsys, "check", "--select", "FM", ".")
    assert codes(items) == [("a.md", "FM002")]
    _, items = run_json(capsys, "check", "--select", "FM002,draft-flag", ".")
    assert codes(items) == [("a.md", "FM002"), ("b.md", "PB001")]
    _, items = run_json(capsys, "check", "--ignore", "FM002", ".")
    assert codes(items) == [("b.md", "PB001")]
    _, items = run_json(capsys, "check", "--select", "FM", "--extend-select", "PB001", ".")
    assert codes(items) == [("a.md", "FM002"), ("b.md", "PB001")]
    code, items = run_json(capsys, "check", "--ignore", "ALL", ".")
    assert (code, items) == (0, [])
    _, items = run_json(capsys, "check", "--ignore", "PB", "--extend-select", "PB001", ".")
    assert codes(items) == [("a.md", "FM002"), ("b.md", "PB001")]  # more specific wins


def test_config_select_and_cli_ignore_combine(proj, capsys):
    (proj / ".tidymark.yaml").write_text("select: [FM, PB]\nignore: [PB001]\n", encoding="utf-8")
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    _, items = run_json(capsys, "check", ".")
    assert codes(items) == [("a.md", "FM002")]
    _, items = run_json(capsys, "check", "--ignore", "FM002", ".")
    assert items == []
    _, items = run_json(capsys, "check", "--select", "PB", ".")  # --select replaces, ignore stays
    assert items == []


def test_per_file_ignores(proj, capsys):
    (proj / ".tidymark.yaml").write_text(
        "per-file-ignores:\n  'drafts/**': [PB001]\n  'archive/*.md': [FM]\n", encoding="utf-8")
    write(proj / "drafts" / "deep" / "d.md", DRAFT)
    write(proj / "drafts" / "a.md", BAD)
    write(proj / "archive" / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    _, items = run_json(capsys, "check", ".")
    assert codes(items) == [("b.md", "PB001"), ("drafts/a.md", "FM002")]


def test_unfixable(proj, capsys):
    (proj / ".tidymark.yaml").write_text("unfixable: [FM002]\n", encoding="utf-8")
    f = write(proj / "a.md", BAD)
    code, _, _ = run(capsys, "fix", "a.md")
    assert code == 1
    assert f.read_text(encoding="utf-8") == BAD


def test_rule_options_from_config(proj, capsys):
    (proj / ".tidymark.yaml").write_text("rules:\n  draft-flag:\n    draft-keys: [wip]\n", encoding="utf-8")
    write(proj / "b.md", DRAFT)
    write(proj / "w.md", "---\nwip: yes\n---\nBody\n")
    _, items = run_json(capsys, "check", ".")
    assert codes(items) == [("w.md", "PB001")]


def test_nearest_config_wins(proj, capsys):
    (proj / ".tidymark.yaml").write_text("ignore: [PB001]\n", encoding="utf-8")
    (proj / "blog").mkdir()
    (proj / "blog" / "pyproject.toml").write_text("[tool.tidymark]\nignore = ['FM002']\n", encoding="utf-8")
    (proj / "blog" / "nested").mkdir()
    (proj / "blog" / "nested" / "pyproject.toml").write_text("[project]\nname = 'x'\n", encoding="utf-8")
    for d in ("", "blog/", "blog/nested/"):
        write(proj / f"{d}a.md", BAD)
        write(proj / f"{d}b.md", DRAFT)
    _, items = run_json(capsys, "check", ".")
    assert codes(items) == [("a.md", "FM002"), ("blog/b.md", "PB001"), ("blog/nested/b.md", "PB001")]


def test_extend_layers_configs(proj, capsys):
    (proj / "base.yaml").write_text("select: [FM, PB]\nignore: [PB001]\n", encoding="utf-8")
    (proj / "site").mkdir()
    (proj / "site" / ".tidymark.yaml").write_text("extend: ../base.yaml\nignore: [FM002]\n", encoding="utf-8")
    write(proj / "site" / "a.md", BAD)
    write(proj / "site" / "b.md", DRAFT)
    write(proj / "site" / "c.md", "---\ntitle: a\ntitle: b\n---\n")
    _, items = run_json(capsys, "check", ".")
    # the extending file's `ignore` replaces the base's: PB001 is back, FM002 is gone
    assert codes(items) == [("site/b.md", "PB001"), ("site/c.md", "FM001")]


# -- file discovery --------------------------------------------------------------------

def test_walk_skips_hidden_vendor_and_gitignored(proj, capsys):
    (proj / ".gitignore").write_text("ignored.md\nbuild/\n*.tmp.md\n", encoding="utf-8")
    write(proj / "a.md", BAD)
    write(proj / "b.markdown", BAD)
    write(proj / "notes.txt", BAD)
    write(proj / "ignored.md", BAD)
    write(proj / "x.tmp.md", BAD)
    write(proj / "build" / "out.md", BAD)
    write(proj / "sub" / "ignored.md", BAD)  # `ignored.md` without a slash matches at any depth
    write(proj / "sub" / "kept.md", BAD)
    write(proj / ".obsidian" / "o.md", BAD)
    write(proj / "node_modules" / "pkg" / "readme.md", BAD)
    write(proj / ".hidden" / "h.md", BAD)
    write(proj / ".git" / "g.md", BAD)
    _, items = run_json(capsys, "check", ".")
    assert sorted(i["path"] for i in items) == ["a.md", "b.markdown", "sub/kept.md"]


def test_nested_gitignore_and_negation(proj, capsys):
    (proj / ".git").mkdir()
    (proj / ".gitignore").write_text("*.md\n!keep.md\n", encoding="utf-8")
    write(proj / "keep.md", BAD)
    write(proj / "drop.md", BAD)
    (proj / "docs").mkdir()
    (proj / "docs" / ".gitignore").write_text("!*.md\nlocal.md\n", encoding="utf-8")
    write(proj / "docs" / "page.md", BAD)
    write(proj / "docs" / "local.md", BAD)
    _, items = run_json(capsys, "check", ".")
    assert sorted(i["path"] for i in items) == ["docs/page.md", "keep.md"]
    _, items = run_json(capsys, "check", "--no-respect-gitignore", ".")
    assert sorted(i["path"] for i in items) == ["docs/local.md", "docs/page.md", "drop.md", "keep.md"]


def test_the_gitignore_of_the_repository_run_from_does_not_apply_to_a_folder_outside_it(tmp_path, monkeypatch,
                                                                                        capsys):
    repo, other = tmp_path / "repo", tmp_path / "other"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitignore").write_text("*.md\n", encoding="utf-8")
    write(other / "note.md", BAD)
    write(other / "sub" / "deep.md", BAD)
    (other / "sub" / ".gitignore").write_text("deep.md\n", encoding="utf-8")  # its own still counts
    monkeypatch.chdir(repo)
    _, items = run_json(capsys, "check", "../other")
    assert sorted({i["path"] for i in items}) == ["../other/note.md"]
    # and a folder inside the repository, named through `..`, still follows the repository's
    write(repo / "docs" / "page.md", BAD)
    monkeypatch.chdir(other)
    _, items = run_json(capsys, "check", "../repo/docs")
    assert items == []


def test_a_folder_that_cannot_be_read_is_reported_and_the_walk_goes_on(proj, capsys, monkeypatch):
    import os

    write(proj / "a.md", BAD)
    write(proj / "locked" / "secret.md", BAD)
    write(proj / "open" / "b.md", BAD)
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, items = run_json(capsys, "check", ".")
    assert code == 1  # like an unreadable file: a problem found, not a failed run
    by_path = {}
    for i in items:
        by_path.setdefault(i["path"], []).append(i)
    assert sorted(by_path) == ["a.md", "locked", "open/b.md"]
    [problem] = by_path["locked"]
    assert problem["code"] == "TM001" and "cannot read folder: Permission denied" in problem["message"]


def test_explicit_paths_are_always_checked(proj, capsys):
    (proj / ".gitignore").write_text("ignored.md\n", encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("exclude: ['excluded.md', 'old/']\n", encoding="utf-8")
    for p in ("ignored.md", "excluded.md", ".obsidian/o.md", "node_modules/n.md", ".hidden/h.md", "notes.txt",
              "old/x.md"):
        write(proj / p, BAD)
    _, items = run_json(capsys, "check", ".")
    assert items == []
    _, items = run_json(capsys, "check", "ignored.md", "excluded.md", ".obsidian/o.md", "notes.txt")
    # (three identical notes of one folder also teach AD005 their lines: a second problem each)
    assert sorted({i["path"] for i in items}) == [".obsidian/o.md", "excluded.md", "ignored.md", "notes.txt"]
    # a hidden or vendor folder named explicitly is walked
    _, items = run_json(capsys, "check", ".hidden", "node_modules")
    assert sorted(i["path"] for i in items) == [".hidden/h.md", "node_modules/n.md"]


def test_exclude_and_extend_exclude(proj, capsys):
    (proj / ".tidymark.yaml").write_text("exclude: ['templates/']\nextend-exclude: ['*.draft.md']\n",
                                         encoding="utf-8")
    write(proj / "templates" / "t.md", BAD)
    write(proj / "a.draft.md", BAD)
    write(proj / "sub" / "b.draft.md", BAD)
    write(proj / "a.md", BAD)
    _, items = run_json(capsys, "check", ".")
    assert [i["path"] for i in items] == ["a.md"]


def test_same_file_twice_is_checked_once(proj, capsys):
    write(proj / "a.md", BAD)
    _, items = run_json(capsys, "check", "a.md", ".", "./a.md")
    assert [i["path"] for i in items] == ["a.md"]


# -- rule listing, documentation, version ---------------------------------------------

def test_rules_listing(capsys):
    code, out, _ = run(capsys, "rules")
    assert code == 0
    for c in ("FM000", "FM001", "FM002", "PB001"):
        assert c in out
    code, out, _ = run(capsys, "rules", "--format", "md")
    assert code == 0
    assert out.startswith("| Code | Name | What it finds | Fix | Default |\n|---|---|---|---|---|\n")
    assert "| FM002 | `block-scalar-single-line` |" in out
    code, out, _ = run(capsys, "rules", "--format", "json")
    rows = json.loads(out)
    assert {"code", "name", "summary", "fix", "default"} <= set(rows[0])
    assert [r["code"] for r in rows] == sorted(r["code"] for r in rows)


def test_rule_documentation(capsys):
    code, out, _ = run(capsys, "rule", "FM002")
    assert code == 0
    assert out.startswith("# block-scalar-single-line (FM002)\n")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Fix safety", "## Options"):
        assert section in out
    assert run(capsys, "rule", "fm002")[1] == out
    assert run(capsys, "rule", "block-scalar-single-line")[1] == out
    code, _, err = run(capsys, "rule", "XX999")
    assert code == 2
    assert "unknown rule 'XX999'" in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"tidymark {__version__}"


# -- a rule that raises -----------------------------------------------------------------

class AlwaysRaises(Rule):
    """Test rule that raises on documents mentioning `boom`.

    ## What it does
    Nothing useful.
    """

    code = "ZZ901"
    name = "always-raises"
    summary = "Raises"

    def check(self, doc):
        if "boom" in doc.text:
            raise RuntimeError("kaboom")
        return []


class BadSpan(Rule):
    """Test rule that breaks the contract with a span outside the document.

    ## What it does
    Nothing useful.
    """

    code = "ZZ902"
    name = "bad-span"
    summary = "Bad span"

    def check(self, doc):
        if "boom" in doc.text:
            yield self.diagnostic(type(doc.lines.lines_span(0, 0))(0, len(doc.text) + 5))


@pytest.fixture
def broken_rules(monkeypatch):
    real = registry.builtin_rules()
    extra = (registry.RuleInfo(AlwaysRaises, "builtin"), registry.RuleInfo(BadSpan, "builtin"))
    monkeypatch.setattr(registry, "builtin_rules", lambda: real + extra)


def test_rule_that_raises_is_an_internal_error(proj, capsys, broken_rules):
    write(proj / "a.md", BAD + "boom\n")
    write(proj / "b.md", DRAFT)
    code, out, err = run(capsys, "check", ".")
    assert code == 2
    assert "Traceback" not in out + err
    lines = out.splitlines()
    tm = [line for line in lines if " TM002 " in line]
    assert len(tm) == 2, out
    assert any("rule ZZ901 (always-raises) raised RuntimeError: kaboom" in line for line in tm)
    assert any("rule ZZ902 (bad-span) broke the rule contract" in line for line in tm)
    assert all(line.startswith("a.md:1:1: TM002 ") for line in tm)
    # the other rules on the same file and the other files still ran
    assert f"a.md:2:1: FM002 [*] {FM002_MSG}" in lines
    assert any(line.startswith("b.md:3:1: PB001 ") for line in lines)


def test_rule_that_raises_in_fix_mode(proj, capsys, broken_rules):
    f = write(proj / "a.md", BAD + "boom\n")
    g = write(proj / "c.md", BAD)
    code, items = run_json(capsys, "fix", ".")
    assert code == 2
    a = [i for i in items if i["path"] == "a.md"]
    assert [i["code"] for i in a] == ["TM002", "TM002", "FM002"]  # the fix is still reported, not applied
    assert all("no fix was applied to this file" in i["message"] for i in a if i["code"] == "TM002")
    # a broken rule may have missed what keeps another fix safe: nothing is written for that file
    assert f.read_text(encoding="utf-8") == BAD + "boom\n"
    assert g.read_text(encoding="utf-8") == BAD_FIXED  # the run goes on


def test_broken_rule_not_selected_is_harmless(proj, capsys, broken_rules):
    write(proj / "a.md", "boom\n")
    code, _, _ = run(capsys, "check", "--ignore", "ZZ", "a.md")
    assert code == 0


# -- subprocess: the installed entry points -------------------------------------------

def _subprocess(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return subprocess.run([sys.executable, "-m", "tidymark", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env)


def test_subprocess_check_and_fix(proj):
    write(proj / "a.md", BAD)
    write(proj / "c.md", CLEAN)
    proc = _subprocess(proj, "check", ".")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[0] == f"a.md:2:1: FM002 [*] {FM002_MSG}"
    assert "\x1b[" not in proc.stdout  # no colour when not a terminal
    proc = _subprocess(proj, "fix", "--output-format", "json", ".")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
    assert (proj / "a.md").read_text(encoding="utf-8") == BAD_FIXED
    proc = _subprocess(proj, "check", ".")
    assert (proc.returncode, proc.stdout) == (0, "All checks passed!\n")


def test_subprocess_config_error(proj):
    (proj / ".tidymark.yaml").write_text("selct: [FM]\n", encoding="utf-8")
    write(proj / "a.md", BAD)
    proc = _subprocess(proj, "check", "a.md")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown key `selct`" in proc.stderr and "Traceback" not in proc.stderr


def test_console_script_is_installed(proj):
    import shutil

    exe = shutil.which("tidymark")
    if exe is None:
        exe = str(Path(sys.executable).parent / "tidymark")
    assert Path(exe).exists(), "`pip install -e .` should put a `tidymark` command next to python"
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"tidymark {__version__}"


def test_garbage_collection_is_held_off_only_while_a_run_starts(tmp_path, monkeypatch):
    import gc

    from tidymark import pipeline, runner

    (tmp_path / "n.md").write_text("---\ntitle: |\n  A title\n---\nText.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    at_rules, at_check = [], []
    build, check = runner.RuleBook.rules_for, pipeline.check_document
    monkeypatch.setattr(runner.RuleBook, "rules_for", lambda self, s: (at_rules.append(gc.isenabled()), build(self, s))[1])
    monkeypatch.setattr(pipeline, "check_document", lambda *a, **k: (at_check.append(gc.isenabled()), check(*a, **k))[1])
    monkeypatch.setattr(sys, "argv", ["tidymark", "check", "--no-cache", "n.md"])
    try:
        assert main() == 1  # as the console script calls it
        assert at_rules[0] is False and at_check == [True] and gc.isenabled()
        at_rules.clear()
        assert main(["check", "--no-cache", "n.md"]) == 1  # a caller's main(argv): left alone
        assert at_rules[0] is True
        monkeypatch.setattr(sys, "argv", ["tidymark", "rules"])
        assert main() == 0 and gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()
