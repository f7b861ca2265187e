"""A damaged or misplaced cache file is a miss, never a wrong result.

Every file of the cache folder carries a checksum of its content and of what it belongs to
(an entry's key, an index file's folder): entries swapped between two notes, or one flipped
bit in an entry or in the file index, must give exactly the diagnostics of a cold run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tidymark import cache, pipeline
from tidymark.cli import main

# two notes whose findings differ in rule, message and position
ONE = "---\ntitle: |\n  Subsidies cannot buy loyalty\ndraft: true\n---\nBody text.\n"
TWO = "---\ntitle: \"Hello world\"\n---\n\nAn opening paragraph.\n\n# Hello world\n\nSome body text.\n"


@pytest.fixture
def notes(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (tmp_path / "one.md").write_text(ONE, encoding="utf-8")
    (tmp_path / "two.md").write_text(TWO, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check_json(capsys) -> list[dict]:
    main(["check", "--output-format", "json", "."])
    return json.loads(capsys.readouterr().out)


def entry_files(root: Path) -> list[Path]:
    return sorted((root / ".tidymark_cache").glob("??/*.json"))


def flip_a_digit(data: bytes, after: bytes) -> bytes:
    """``data`` with one bit flipped: the lowest bit of the first digit after ``after`` (the
    JSON still parses, to a different number)."""
    at = data.index(after) + len(after)
    while not data[at:at + 1].isdigit():
        at += 1
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


def test_entries_swapped_between_two_notes_are_misses(notes, capsys):
    cold = check_json(capsys)
    assert [d["code"] for d in cold] == ["FM002", "PB001", "DM002"]  # the notes' findings differ
    a, b = entry_files(notes)
    da, db = a.read_bytes(), b.read_bytes()
    assert da != db
    a.write_bytes(db)
    b.write_bytes(da)
    assert check_json(capsys) == cold
    # and each entry was written again under its own key
    assert a.read_bytes() == da and b.read_bytes() == db


def test_an_entry_with_one_flipped_bit_is_a_miss(notes, capsys):
    cold = check_json(capsys)
    for p in entry_files(notes):
        p.write_bytes(flip_a_digit(p.read_bytes(), b'"p":['))
    assert check_json(capsys) == cold


def test_a_flipped_bit_in_the_file_index_is_a_miss(tmp_path, monkeypatch, capsys):
    assert pipeline.SERIAL_BELOW <= 20
    for i in range(20):
        (tmp_path / f"n{i:02d}.md").write_text(ONE if i % 2 else TWO, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cache, "RACY_NS", 0)  # the notes were written just now

    def concise() -> list[str]:
        main(["check", "--output-format", "concise", "."])
        return sorted(capsys.readouterr().out.splitlines())

    cold = concise()
    assert any(":" in line and "PB001" in line for line in cold)
    index = cache.FileIndex(tmp_path / ".tidymark_cache").path_for(str(tmp_path))
    index.write_bytes(flip_a_digit(index.read_bytes(), b'"p":['))
    assert concise() == cold


def test_every_single_bit_flip_of_an_entry_is_detected(tmp_path):
    rc = cache.ResultCache(tmp_path)
    key = "ab" * 32
    main_entry = rc.put(key, [], {"DM006": {"title": "t", "len": 12}})
    data = rc._path(key).read_bytes()
    assert rc.get(key) == ([], main_entry["f"])
    for i in range(len(data)):
        for bit in range(8):
            damaged = data[:i] + bytes([data[i] ^ (1 << bit)]) + data[i + 1:]
            assert not cache.unseal(damaged, key), (i, bit)
    assert cache.unseal(data, key) and not cache.unseal(data, "cd" * 32)  # bound to its key


def test_an_entry_copied_under_another_key_is_a_miss(tmp_path):
    rc = cache.ResultCache(tmp_path)
    rc.put("ab" * 32, [], {"X": 1})
    other = rc._path("cd" * 32)
    other.parent.mkdir(parents=True)
    other.write_bytes(rc._path("ab" * 32).read_bytes())
    assert rc.get("cd" * 32) is None and rc.get("ab" * 32) == ([], {"X": 1})


def test_the_other_cache_files_are_sealed_too(tmp_path):
    """The cross-document findings and the kept plugin scan are read through the same check."""
    path = tmp_path / "project.json"
    cache.write_entry(tmp_path, path, {"key": "k", "found": {"a.md": [1]}})
    assert cache.read_entry(path)["found"] == {"a.md": [1]}
    path.write_bytes(flip_a_digit(path.read_bytes(), b'"a.md":['))
    assert cache.read_entry(path) is None


def test_a_flipped_bit_in_the_kept_cross_document_findings_is_a_miss(tmp_path, monkeypatch, capsys):
    body = ("---\ntitle: Dup\nurl: https://example.com/a\n---\n\nFirst paragraph of the article, long "
            "enough to count.\n\nSecond paragraph of the article, long enough as well.\n")
    (tmp_path / "a.md").write_text(body, encoding="utf-8")
    (tmp_path / "b.md").write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cold = check_json(capsys)
    assert [d["code"] for d in cold] == ["DM006", "DM006"]
    kept = tmp_path / ".tidymark_cache" / "project.json"
    kept.write_bytes(flip_a_digit(kept.read_bytes(), b'"p":['))
    assert check_json(capsys) == cold


def test_only_a_json_object_is_sealed_and_anything_else_is_not_written(tmp_path):
    for payload in (b"{}", b"[1]", b'"s"'):
        with pytest.raises(ValueError):
            cache.seal(payload)
    cache.write_entry(tmp_path, tmp_path / "e.json", [1, 2])
    assert not (tmp_path / "e.json").exists()
    assert cache.unseal(cache.seal(b'{"a":1}', "k"), "k") and not cache.unseal(b'{"a":1}', "k")
