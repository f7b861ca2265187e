"""Standard input: ``tidymark check|fix - --stdin-filename PATH`` equals checking or fixing the file."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tidymark.cli import main

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NAMES = sorted(p.name for p in SEEDS.glob("*.md") if not p.name.endswith(".fixed.md") and p.name != "README.md")


def run(argv: list[str], stdin: bytes = b"") -> tuple[int, bytes, str]:
    """main(argv) with ``stdin`` as standard input: (exit code, stdout bytes, stderr text)."""
    old = sys.stdin, sys.stdout, sys.stderr
    out = io.BytesIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    sys.stdout = io.TextIOWrapper(out, encoding="utf-8", newline="")
    sys.stderr = io.StringIO()
    try:
        code = main(argv)
        sys.stdout.flush()
        return code, out.getvalue(), sys.stderr.getvalue()
    finally:
        sys.stdin, sys.stdout, err = old[0], old[1], sys.stderr
        sys.stderr = old[2]


@pytest.fixture
def notes(tmp_path, monkeypatch) -> Path:
    """A copy of seeds/ in its own project (an empty configuration), made the cwd."""
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "seeds"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("fmt", ["json", "text"])
def test_check_stdin_equals_checking_the_file(notes, name, fmt):
    path = f"seeds/{name}"
    data = (notes / name).read_bytes()
    want = run(["check", "--no-cache", "--output-format", fmt, path])
    got = run(["check", "--no-cache", "--output-format", fmt, "-", "--stdin-filename", path], data)
    assert got[0] == want[0]
    assert got[1] == want[1]
    if fmt == "json":
        assert all(d["path"] == path for d in json.loads(got[1]))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("unsafe", [False, True])
def test_fix_stdin_prints_what_fixing_the_file_writes(notes, name, unsafe):
    path = f"seeds/{name}"
    data = (notes / name).read_bytes()
    extra = ["--unsafe-fixes"] if unsafe else []
    got = run(["fix", "--no-cache", *extra, "-", "--stdin-filename", path], data)
    assert (notes / name).read_bytes() == data  # the file itself is never written
    want = run(["fix", "--no-cache", "--no-backup", *extra, path])
    assert got[0] == want[0]
    assert got[1] == (notes / name).read_bytes()  # the fixed note, byte for byte
    if not unsafe:
        assert got[1] == (SEEDS / name.replace(".md", ".fixed.md")).read_bytes()
    # the report goes to stderr, as the file's report went to stdout (less the closing line
    # about the files written)
    report = want[1].decode()
    assert got[2].splitlines()[0] == report.splitlines()[0]


def test_crlf_and_bom_survive_the_pipe(notes):
    data = b"\xef\xbb\xbf---\r\ntitle: |\r\n  A title\r\n---\r\nBody.\r\n"
    code, out, err = run(["fix", "--no-cache", "-", "--stdin-filename", "seeds/new.md"], data)
    assert out == b"\xef\xbb\xbf---\r\ntitle: A title\r\n---\r\nBody.\r\n"
    assert code == 0 and "Fixed 1 problem" in err


def test_settings_come_from_the_stdin_filename(notes):
    (notes / "quiet").mkdir()
    (notes / "quiet" / ".tidymark.yaml").write_text("ignore: [PB001]\n", encoding="utf-8")
    data = (notes / "hugo-draft-post.md").read_bytes()
    code, out, _ = run(["check", "--no-cache", "-", "--stdin-filename", "seeds/quiet/not-there-yet.md"], data)
    assert code == 0 and b"PB001" not in out
    code, out, _ = run(["check", "--no-cache", "-", "--stdin-filename", "seeds/not-there-yet.md"], data)
    assert code == 1 and out.startswith(b"seeds/not-there-yet.md:4:1: PB001")
    assert not (notes / "not-there-yet.md").exists()


def test_without_a_filename_the_note_is_named_dash(notes):
    code, out, _ = run(["check", "--no-cache", "-"], b"---\ntitle: x\ndraft: true\n---\nBody.\n")
    assert code == 1 and out.startswith(b"-:3:1: PB001")


def test_undecodable_input_is_reported_and_passed_through(notes):
    data = "---\ntitle: x\n---\nhi\n".encode("utf-16")
    code, out, err = run(["check", "--no-cache", "-", "--stdin-filename", "seeds/clip.md"], data)
    assert code == 1 and out.startswith(b"seeds/clip.md:1:1: TM001") and b"UTF-16" in out
    code, out, err = run(["fix", "--no-cache", "-", "--stdin-filename", "seeds/clip.md"], data)
    assert out == data and "seeds/clip.md:1:1: TM001" in err and "Traceback" not in err


def test_diff_of_stdin(notes):
    data = (notes / "omnivore-zh-woshipm.md").read_bytes()
    code, out, _ = run(["fix", "--diff", "--no-cache", "-", "--stdin-filename", "seeds/omnivore-zh-woshipm.md"],
                       data)
    assert code == 1 and out.startswith(b"--- a/seeds/omnivore-zh-woshipm.md\n+++ b/seeds/omnivore-zh-woshipm.md")


@pytest.mark.parametrize("argv", [["-", "seeds"], ["-", "-"], ["seeds", "--stdin-filename", "x.md"]])
def test_stdin_with_other_paths_is_a_usage_error(notes, argv):
    code, out, err = run(["check", *argv])
    assert code == 2 and "standard input" in err and out == b""


def test_pipe_through_the_command(notes):
    """A real pipe, as an editor or a clipper hook uses it."""
    data = (notes / "markdownload-en.md").read_bytes()
    proc = subprocess.run([sys.executable, "-m", "tidymark", "fix", "-", "--stdin-filename",
                           "seeds/markdownload-en.md"], input=data, capture_output=True, check=False)
    assert proc.stdout == (SEEDS / "markdownload-en.fixed.md").read_bytes()
    assert proc.returncode in (0, 1) and b"Traceback" not in proc.stderr
