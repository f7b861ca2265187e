"""What "edit in place" keeps: a fix replaces a file through a temporary file and a rename,
and refuses (``TM001``, file untouched) where a rename could not keep what the user expects:

* a write-protected file (its owner's write bit off), also when run as root;
* a file the runner may not write, or owned by someone else whom the new file cannot be given;
* a file with several hard links (the other names would keep the old text);
* an extended attribute that cannot be copied.

Otherwise mode (set-id bits too), owner, group and extended attributes (ACLs included) are
kept on the new file.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from tidymark import runner
from tidymark.cli import main

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
BAD_FIXED = "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def note(path: Path, text: str = BAD) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def fix(capsys, *argv: str) -> tuple[int, str]:
    code = main(["fix", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


def journaled(proj: Path) -> list[str]:
    """The names of the files the fix run's journal lists."""
    runs = sorted((proj / ".tidymark_cache" / "journal").glob("*/manifest.json"))
    return [Path(f["path"]).name for f in json.loads(runs[-1].read_text(encoding="utf-8"))["files"]] if runs else []


def test_a_write_protected_file_is_not_rewritten(proj, capsys):
    ro = note(proj / "ro.md")
    ok = note(proj / "ok.md")
    ro.chmod(0o444)
    ino = ro.stat().st_ino
    code, out = fix(capsys, ".")
    assert code == 1
    assert "ro.md:1:1: TM001 cannot write fixes: the file is write-protected (mode 0444)" in out
    assert "ro.md:2:1: FM002" in out  # still reported
    assert ro.read_text(encoding="utf-8") == BAD and ro.stat().st_ino == ino
    assert stat.S_IMODE(ro.stat().st_mode) == 0o444
    assert ok.read_text(encoding="utf-8") == BAD_FIXED
    assert journaled(proj) == ["ok.md"]
    assert not [p for p in proj.iterdir() if p.name.endswith(".tidymark-tmp")]


def test_a_hard_linked_file_is_not_split(proj, capsys):
    a = note(proj / "a.md")
    other = proj / "elsewhere"
    other.mkdir()
    b = other / "same-note.txt"  # another name of the same file (not a note, not walked)
    os.link(a, b)
    code, out = fix(capsys, "a.md")
    assert code == 1 and "a.md:1:1: TM001 cannot write fixes: the file has 2 hard links" in out
    assert a.read_text(encoding="utf-8") == BAD == b.read_text(encoding="utf-8")
    assert a.stat().st_ino == b.stat().st_ino and a.stat().st_nlink == 2
    os.unlink(b)
    assert fix(capsys, "a.md")[0] == 0 and a.read_text(encoding="utf-8") == BAD_FIXED


def test_undo_does_not_split_a_hard_link_made_since(proj, capsys):
    a = note(proj / "a.md")
    assert fix(capsys, "a.md")[0] == 0
    b = proj / "twin.txt"
    os.link(a, b)
    code = main(["undo"])
    out = capsys.readouterr().out
    assert code == 2 and "Failed a.md: cannot restore: the file has 2 hard links" in out
    assert a.read_text(encoding="utf-8") == BAD_FIXED == b.read_text(encoding="utf-8")
    assert a.stat().st_ino == b.stat().st_ino
    os.unlink(b)
    assert main(["undo"]) == 0 and a.read_text(encoding="utf-8") == BAD  # still undoable


def _xattr_supported(path: Path) -> bool:
    if not hasattr(os, "setxattr"):
        return False
    probe = path / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.tidymark-probe", b"1")
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def test_extended_attributes_are_kept(proj, capsys):
    if not _xattr_supported(proj):
        pytest.skip("the file system of the temporary folder has no user.* extended attributes")
    a = note(proj / "a.md")
    os.setxattr(a, "user.xdg.origin.url", b"https://example.com/article")
    os.setxattr(a, "user.tag", b"\x00binary\xff")
    assert fix(capsys, "a.md")[0] == 0
    assert a.read_text(encoding="utf-8") == BAD_FIXED
    assert os.getxattr(a, "user.xdg.origin.url") == b"https://example.com/article"
    assert os.getxattr(a, "user.tag") == b"\x00binary\xff"
    assert main(["undo"]) == 0 and os.getxattr(a, "user.tag") == b"\x00binary\xff"


def test_an_extended_attribute_that_cannot_be_kept_means_no_write(proj, capsys, monkeypatch):
    if not _xattr_supported(proj):
        pytest.skip("the file system of the temporary folder has no user.* extended attributes")
    a = note(proj / "a.md")
    os.setxattr(a, "user.tag", b"keep me")
    ino = a.stat().st_ino

    def setxattr(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner.os, "setxattr", setxattr)
    code, out = fix(capsys, "a.md")
    assert code == 1 and "TM001 cannot write fixes: its extended attribute user.tag cannot be kept" in out
    assert a.read_text(encoding="utf-8") == BAD and a.stat().st_ino == ino
    assert not [p for p in proj.iterdir() if p.name.endswith(".tidymark-tmp")]


@pytest.mark.skipif(not ROOT, reason="giving a file to another user needs root")
def test_owner_group_and_set_id_bits_are_kept(proj, capsys):
    a = note(proj / "a.md")
    os.chown(a, 12345, 23456)
    a.chmod(0o6754)
    assert fix(capsys, "a.md")[0] == 0 and a.read_text(encoding="utf-8") == BAD_FIXED
    st = a.stat()
    assert (st.st_uid, st.st_gid) == (12345, 23456)
    assert stat.S_IMODE(st.st_mode) == 0o6754


def as_user(uid: int, argv: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``tidymark ARGV`` in ``cwd`` as user (and group) ``uid``, in a forked copy of this
    process (the interpreter itself may live where that user cannot read): its exit code and
    output."""
    main(["check", "--no-cache", "--output-format", "json", str(cwd)])  # the modules a run needs, loaded
    out = cwd / "output.txt"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.chdir(cwd)
            with open(out, "w", encoding="utf-8") as fh:
                sys.stdout = sys.stderr = fh
                code = main(argv)
        except BaseException:
            import traceback

            with open(out, "a", encoding="utf-8") as fh:
                fh.write("Traceback\n" + traceback.format_exc())
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    text = out.read_text(encoding="utf-8")
    out.unlink()
    return os.waitstatus_to_exitcode(status), text


@pytest.mark.skipif(not ROOT or not hasattr(os, "fork"), reason="running as another user needs root")
@pytest.mark.parametrize("mode, why", [(0o666, "belongs to user 12346"), (0o644, "writing is not permitted")])
def test_a_file_of_another_user_is_not_taken_over(mode, why):
    """Run as user 12345 in a folder anyone may write: a note of user 12346 is not replaced by
    one that 12345 owns (nor one 12345 may not write at all)."""
    base = Path(tempfile.mkdtemp(prefix="tidymark-owner-"))
    try:
        base.chmod(0o777)
        mine = note(base / "mine.md")
        theirs = note(base / "theirs.md")
        os.chown(mine, 12345, 12345)
        os.chown(theirs, 12346, 12346)
        theirs.chmod(mode)
        ino = theirs.stat().st_ino
        code, output = as_user(12345, ["fix", "--no-cache", "."], base)
        assert code == 1 and "Traceback" not in output, output
        assert "theirs.md:1:1: TM001 cannot write fixes: " in output and why in output, output
        st = theirs.stat()
        assert (st.st_uid, st.st_ino) == (12346, ino) and theirs.read_text(encoding="utf-8") == BAD
        assert mine.read_text(encoding="utf-8") == BAD_FIXED and mine.stat().st_uid == 12345
    finally:
        shutil.rmtree(base)
