"""``tidymark undo`` against journals it must not trust blindly: crafted manifests that
name files outside the folder (absolute, ``../``, through a symlink, or with a foreign
backup), and damaged manifests (listed as damaged, undone from their per-file records,
never skipped in favour of the run before)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tidymark import journal
from tidymark.cli import main

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
BAD_FIXED = "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"
SECRET = b"outside the project: must never be overwritten\n"


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(root)
    return root


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def runs(root: Path) -> list[Path]:
    jr = root / ".tidymark_cache" / "journal"
    return sorted(p for p in jr.iterdir() if p.is_dir()) if jr.is_dir() else []


def craft(rundir: Path, path: str, original: bytes, current: bytes, *, backup: str | None = None,
          cwd: str | None = None) -> None:
    """Rewrite a run's manifest so that it names ``path`` (as a shipped, crafted journal would),
    with a genuine-looking backup holding ``original`` and ``current`` as what was written."""
    key = journal.Journal._key(path)
    backup = backup or f"files/{key}.orig"
    (rundir / "files").mkdir(exist_ok=True)
    (rundir / f"files/{key}.orig").write_bytes(original)
    manifest = json.loads((rundir / "manifest.json").read_text(encoding="utf-8"))
    entry = {"path": path, "display": path, "backup": backup, "original_sha256": journal.sha256(original),
             "written_sha256": journal.sha256(current), "mode": 0o644, "size": len(original)}
    manifest["files"] = [entry]
    if cwd is not None:
        manifest["cwd"] = cwd
    (rundir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def fixed_run(proj: Path, capsys) -> Path:
    (proj / "a.md").write_text(BAD, encoding="utf-8")
    assert run(capsys, "fix", ".")[0] == 0
    [rundir] = runs(proj)
    return rundir


# -- 12: undo restores only files inside the folder, from their own backups ----------------

@pytest.mark.parametrize("how", ["absolute", "dotdot", "cwd-slash"])
def test_a_crafted_manifest_cannot_make_undo_write_outside_the_folder(proj, capsys, how):
    outside = proj.parent / "victim.txt"
    outside.write_bytes(SECRET)
    rundir = fixed_run(proj, capsys)
    if how == "absolute":
        craft(rundir, str(outside), b"attacker text\n", SECRET)
    elif how == "dotdot":
        craft(rundir, str(proj / ".." / "victim.txt"), b"attacker text\n", SECRET)
    else:  # the manifest also claims the run started at / (it cannot widen the folder)
        craft(rundir, str(outside), b"attacker text\n", SECRET, cwd="/")
    code, out, err = run(capsys, "undo")
    assert code == 2, out + err
    assert outside.read_bytes() == SECRET
    why = "not absolute and normalised" if how == "dotdot" else "outside"
    assert "Refused " in out and why in out and "1 refused" in out and "Traceback" not in out + err
    assert "Restored 0 of 1 file of run" in out and "not marked undone" in out
    assert "can be undone" in run(capsys, "undo", "--list")[1]  # still listed as it was


def test_a_symlink_in_the_folder_cannot_lead_undo_outside(proj, capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "victim.md"
    target.write_bytes(SECRET)
    (proj / "door").symlink_to(elsewhere, target_is_directory=True)
    rundir = fixed_run(proj, capsys)
    craft(rundir, str(proj / "door" / "victim.md"), b"attacker text\n", SECRET)
    code, out, _ = run(capsys, "undo")
    assert code == 2 and target.read_bytes() == SECRET
    assert "Refused door/victim.md: outside" in out


def test_a_file_symlink_in_the_folder_cannot_lead_undo_outside(proj, capsys, tmp_path):
    target = tmp_path / "victim.md"
    target.write_bytes(SECRET)
    (proj / "b.md").symlink_to(target)
    rundir = fixed_run(proj, capsys)
    craft(rundir, str(proj / "b.md"), b"attacker text\n", SECRET)
    code, out, _ = run(capsys, "undo")
    assert code == 2 and target.read_bytes() == SECRET and (proj / "b.md").is_symlink()
    assert "Refused b.md: outside" in out and "the original is in" in out


def test_a_record_with_a_foreign_backup_is_refused(proj, capsys, tmp_path):
    """A record may restore a file only from the backup its own key names (not any file the
    manifest points at, which would copy that file into the project)."""
    private = tmp_path / "private.txt"
    private.write_bytes(b"a private file\n")
    rundir = fixed_run(proj, capsys)
    note = proj / "a.md"
    craft(rundir, str(note.resolve()), b"x", note.read_bytes(), backup="../../../../private.txt")
    code, out, _ = run(capsys, "undo")
    assert code == 2 and "not its own" in out
    assert note.read_text(encoding="utf-8") == BAD_FIXED


def test_undo_run_from_another_folder_refuses_files_outside_it(proj, capsys, monkeypatch):
    """The journal of a run in the project, found through a shared cache folder from a
    sub-folder: only files inside the folder undo runs in are restored."""
    sub = proj / "sub"
    sub.mkdir()
    (sub / "b.md").write_text(BAD, encoding="utf-8")
    (proj / "a.md").write_text(BAD, encoding="utf-8")
    cache = proj / "cache"
    assert run(capsys, "fix", "--cache-dir", str(cache), ".")[0] == 0
    monkeypatch.chdir(sub)
    code, out, _ = run(capsys, "undo", "--cache-dir", str(cache))
    assert code == 2
    assert (sub / "b.md").read_text(encoding="utf-8") == BAD  # inside: restored
    assert (proj / "a.md").read_text(encoding="utf-8") == BAD_FIXED  # outside: refused, named
    assert f"Refused {proj / 'a.md'}: outside" in out
    monkeypatch.chdir(proj)
    code, out, _ = run(capsys, "undo", "--cache-dir", str(cache))  # from where the run started
    assert code == 0 and (proj / "a.md").read_text(encoding="utf-8") == BAD


def test_a_genuine_run_is_still_undone(proj, capsys):
    rundir = fixed_run(proj, capsys)
    assert journal.refusal(journal.load_run(rundir).entries[0], journal.load_run(rundir), proj) is None
    code, out, _ = run(capsys, "undo")
    assert code == 0 and (proj / "a.md").read_text(encoding="utf-8") == BAD


# -- 13: a damaged manifest ----------------------------------------------------------------

def two_runs(proj: Path, capsys) -> tuple[Path, Path, Path, Path]:
    a, b = proj / "a.md", proj / "b.md"
    a.write_text(BAD, encoding="utf-8")
    assert run(capsys, "fix", ".")[0] == 0
    time.sleep(0.01)
    b.write_text(BAD, encoding="utf-8")
    a.write_text(BAD.replace("Body", "Edited body"), encoding="utf-8")
    assert run(capsys, "fix", ".")[0] == 0
    first, second = runs(proj)
    return a, b, first, second


@pytest.mark.parametrize("damage", [b"", b"{\"format\": 1, \"files\": [", b"[1, 2]", b"{\"files\": [{\"path\": 3}]}"])
def test_a_damaged_manifest_is_listed_and_undone_from_its_records(proj, capsys, damage):
    a, b, first, second = two_runs(proj, capsys)
    (second / "manifest.json").write_bytes(damage)
    code, out, _ = run(capsys, "undo", "--list")
    assert code == 0 and second.name in out and first.name in out
    line = next(x for x in out.splitlines() if x.startswith(second.name))
    assert "damaged" in line and "2 files" in line and "per-file records" in line
    code, out, err = run(capsys, "undo")
    assert code == 0, out + err
    assert f"run {second.name} is damaged" in err
    assert f"of run {second.name}" in out
    assert b.read_text(encoding="utf-8") == BAD
    assert a.read_text(encoding="utf-8") == BAD.replace("Body", "Edited body")
    # the run before it was not touched and is not marked undone
    assert not (first / journal.UNDONE).exists()
    code, out, _ = run(capsys, "undo", "--list")
    assert "can be undone" in next(x for x in out.splitlines() if x.startswith(first.name))


def test_a_damaged_run_without_records_stops_undo(proj, capsys):
    a, b, first, second = two_runs(proj, capsys)
    (second / "manifest.json").write_bytes(b"\x00garbage")
    for p in (second / "files").glob("*.json"):
        p.write_bytes(b"not json")
    code, out, _ = run(capsys, "undo", "--list")
    assert "no per-file record can be read" in next(x for x in out.splitlines() if x.startswith(second.name))
    code, out, err = run(capsys, "undo")
    assert code == 2 and "is damaged" in err and "no other run touched" in err
    assert b.read_text(encoding="utf-8") == BAD_FIXED
    assert not (first / journal.UNDONE).exists() and not (second / journal.UNDONE).exists()


def test_a_run_that_restored_nothing_is_not_marked_undone(proj, capsys):
    a = proj / "a.md"
    rundir = fixed_run(proj, capsys)
    a.write_text(BAD_FIXED + "Written after the fix.\n", encoding="utf-8")
    code, out, _ = run(capsys, "undo")
    assert code == 1 and "Restored 0 of 1 file of run" in out and "not marked undone" in out
    assert not (rundir / journal.UNDONE).exists()
    assert a.read_text(encoding="utf-8").endswith("Written after the fix.\n")
