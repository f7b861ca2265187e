"""The result cache and the kept plugin scan: reused when nothing changed, never stale.

A cached result is reused only for the same bytes, the same rules with the same options and
the same tidymark code; the entry-point scan only while the installed distributions are the
same.  Concurrent runs share the cache folder safely and its size stays bounded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

import tidymark.rules
from tidymark import cache, pipeline, registry
from tidymark.cli import main

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\ndraft: true\n---\nBody text.\n"
CLEAN = "---\ntitle: A clean note\n---\nBody text.\n"


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (tmp_path / "bad.md").write_text(BAD, encoding="utf-8")
    (tmp_path / "clean.md").write_text(CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(capsys, *argv: str) -> tuple[int, list[dict]]:
    code = main(["check", "--output-format", "json", *argv, "."])
    return code, json.loads(capsys.readouterr().out)


def codes(items: list[dict]) -> list[tuple[str, str]]:
    return sorted((d["path"].rsplit("/", 1)[-1], d["code"]) for d in items)


def entries(proj: Path) -> list[Path]:
    return [p for p in (proj / ".tidymark_cache").glob("??/*.json")]


@pytest.fixture
def no_checking(monkeypatch):
    """Fail the test if any document is checked again (the results must come from the cache)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a document was checked although its cached result was current")

    monkeypatch.setattr(pipeline, "check_document", refuse)


def test_warm_run_answers_from_the_cache_with_the_same_results(proj, capsys, request):
    cold = check(capsys)
    assert cold[0] == 1 and ("bad.md", "FM002") in codes(cold[1]) and ("bad.md", "PB001") in codes(cold[1])
    assert len(entries(proj)) == 2
    request.getfixturevalue("no_checking")
    assert check(capsys) == cold


def test_changed_content_is_checked_again(proj, capsys):
    check(capsys)
    (proj / "clean.md").write_text("---\ntitle: |\n  Now a block scalar\n---\nBody.\n", encoding="utf-8")
    _, items = check(capsys)
    assert ("clean.md", "FM002") in codes(items)


@pytest.mark.parametrize("config, gone", [
    ("ignore: [FM002]\n", ("bad.md", "FM002")),
    ("rules: {FM002: {keys: [author]}}\n", ("bad.md", "FM002")),
    ("rules: {draft-flag: {draft-keys: [unpublished]}}\n", ("bad.md", "PB001")),
])
def test_a_configuration_change_is_never_served_a_stale_result(proj, capsys, config, gone):
    _, before = check(capsys)
    assert gone in codes(before)
    (proj / ".tidymark.yaml").write_text(config, encoding="utf-8")
    _, after = check(capsys)
    assert gone not in codes(after)
    (proj / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    assert codes(check(capsys)[1]) == codes(before)


def test_command_line_selection_is_part_of_the_key(proj, capsys):
    check(capsys)
    _, only = check(capsys, "--select", "PB")
    assert codes(only) == [("bad.md", "PB001")]
    _, all_again = check(capsys)
    assert ("bad.md", "FM002") in codes(all_again)


def test_no_cache_neither_reads_nor_writes(proj, capsys):
    main(["check", "--no-cache", "."])
    assert not (proj / ".tidymark_cache").exists()


def test_a_damaged_entry_is_a_miss_not_an_error(proj, capsys):
    _, cold = check(capsys)
    for p in entries(proj):
        p.write_bytes(b'{"d": [{"c": "FM0')
    code, warm = check(capsys)
    assert code == 1 and warm == cold
    assert "Traceback" not in capsys.readouterr().err
    assert all(json.loads(p.read_bytes())["d"] is not None for p in entries(proj))  # rewritten whole


def test_pruning_keeps_the_folder_under_its_bound(tmp_path):
    rc = cache.ResultCache(tmp_path / "c", max_bytes=20_000)
    for i in range(200):
        rc.put(f"{i:064x}", [], {"pad": "x" * 400})
    total = sum(p.stat().st_size for p in (tmp_path / "c").glob("??/*.json"))
    assert total > 20_000
    assert rc.prune() > 0
    assert sum(p.stat().st_size for p in (tmp_path / "c").glob("??/*.json")) <= 20_000


def test_a_run_prunes_only_the_shards_it_wrote_each_to_its_share(proj, capsys, monkeypatch):
    folder = proj / ".tidymark_cache"
    rc = cache.ResultCache(folder)
    stale = [f"00{i:062x}" for i in range(20)]  # one shard over its share, not written by the run
    for key in stale:
        rc.put(key, [], {"pad": "x" * 400})
    old = 1_000_000_000
    for key in stale:
        os.utime(rc._path(key), (old, old))
    os.utime(folder / "00", (old, old))
    listed = []
    scandir = os.scandir
    monkeypatch.setattr(cache.os, "scandir",
                        lambda p: (str(p).startswith(str(folder)) and listed.append(os.path.relpath(p, folder)))
                        or scandir(p))
    monkeypatch.setattr(cache, "DEFAULT_MAX_BYTES", 256 * 2000)  # a share of 2,000 bytes
    check(capsys)
    seen = sorted(listed)
    written = {p.parent.name for p in folder.glob("??/*.json")} - {"00"}
    assert written and seen == [".", *sorted(written)]  # the run's shards only
    assert all(rc._path(k).exists() for k in stale)  # over its share, but untouched by the run
    rc.max_bytes = cache.DEFAULT_MAX_BYTES
    assert rc.prune(since_ns=0) > 0  # every shard is "written since 0": now it is pruned
    left = list((folder / "00").glob("*.json"))
    assert 0 < sum(p.stat().st_size for p in left) <= 2000 * 0.8


def test_a_shard_this_process_wrote_is_pruned_whatever_the_file_server_clock_says(tmp_path):
    import time

    keys = [f"ab{i:062x}" for i in range(20)]
    writer = cache.ResultCache(tmp_path / "c", max_bytes=256 * 2000)
    started = time.time_ns()
    for key in keys:
        writer.put(key, [], {"pad": "x" * 400})
    old = 1_000_000_000  # the server's clock is far behind: the folder looks untouched by the run
    os.utime(tmp_path / "c" / "ab", (old, old))
    assert cache.ResultCache(tmp_path / "c", max_bytes=256 * 2000).prune(since_ns=started) == 0
    assert writer.prune(since_ns=started) > 0  # it knows what it wrote
    assert sum(p.stat().st_size for p in (tmp_path / "c" / "ab").glob("*.json")) <= 2000


def test_concurrent_runs_share_the_cache_safely(tmp_path):
    for i in range(60):
        (tmp_path / f"n{i:02d}.md").write_text(BAD if i % 2 else CLEAN, encoding="utf-8")
    cmd = [sys.executable, "-m", "tidymark", "check", "--output-format", "json", "-j", "1", "."]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 1 for p in procs), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0]) for o in outs]
    # (30 identical notes also teach AD005 that their lines are the folder's boilerplate)
    assert results[0] == results[1] == results[2] and len([r for r in results[0] if r["code"] != "AD005"]) == 60
    for p in (tmp_path / ".tidymark_cache").glob("??/*.json"):
        json.loads(p.read_bytes())  # whole entries only
    assert not list((tmp_path / ".tidymark_cache").glob("??/.tmp-*"))
    warm = subprocess.run(cmd, cwd=tmp_path, capture_output=True)
    assert json.loads(warm.stdout) == results[0]


# -- the code fingerprint ---------------------------------------------------------------


def test_code_fingerprint_follows_the_rule_files(tmp_path, monkeypatch):
    data = tmp_path / "rules"
    (data / "data").mkdir(parents=True)
    lexicon = data / "data" / "x.yaml"
    lexicon.write_text("phrases: [a]\n", encoding="utf-8")
    (data / "notes.txt").write_text("not code\n", encoding="utf-8")
    monkeypatch.setattr(tidymark.rules, "__path__", [str(data)])

    def fp() -> str:
        cache.code_fingerprint.cache_clear()
        return cache.code_fingerprint()

    first = fp()
    assert fp() == first
    (data / "notes.txt").write_text("still not code, longer\n", encoding="utf-8")
    assert fp() == first
    lexicon.write_text("phrases: [a, b]\n", encoding="utf-8")
    edited = fp()
    assert edited != first
    st = lexicon.stat()
    os.utime(lexicon, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same size, new time
    assert fp() != edited
    (data / "extra.py").write_text("X = 1\n", encoding="utf-8")
    assert fp() not in (first, edited)
    cache.code_fingerprint.cache_clear()


# -- the kept entry-point scan ----------------------------------------------------------


@pytest.fixture
def fake_site(tmp_path, monkeypatch):
    """A sys.path of one folder with one distribution; scans counted."""
    site = tmp_path / "site"
    dist = site / "acme_rules-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "entry_points.txt").write_text("[tidymark.rules]\nACME = acme_rules\n", encoding="utf-8")
    monkeypatch.setattr(sys, "path", [str(site)])
    scans: list[int] = []

    def scan():
        scans.append(1)
        found = []
        for d in sorted(site.glob("*.dist-info")):
            ep = d / "entry_points.txt"
            if ep.is_file():
                for line in ep.read_text(encoding="utf-8").splitlines()[1:]:
                    name, _, value = line.partition(" = ")
                    found.append([name, value, d.name.split("-")[0]])
        return found

    monkeypatch.setattr(registry, "_scan_entry_points", scan)
    registry.cache_entry_points(tmp_path / "cache", cache)
    yield site, scans
    registry.cache_entry_points(None)


def test_entry_point_scan_is_kept_until_a_distribution_changes(fake_site):
    site, scans = fake_site
    first = registry._entry_points()
    assert first == [["ACME", "acme_rules", "acme_rules"]] and len(scans) == 1
    assert registry._entry_points() == first and len(scans) == 1  # kept

    ep = site / "acme_rules-1.0.dist-info" / "entry_points.txt"
    ep.write_text("[tidymark.rules]\nACME = acme_rules\nZED = zed_rules\n", encoding="utf-8")  # edited in place
    assert [e[0] for e in registry._entry_points()] == ["ACME", "ZED"] and len(scans) == 2

    other = site / "other-2.0.dist-info"
    other.mkdir()
    (other / "entry_points.txt").write_text("[tidymark.rules]\nOTH = other_rules\n", encoding="utf-8")
    assert [e[0] for e in registry._entry_points()] == ["ACME", "ZED", "OTH"] and len(scans) == 3

    (other / "entry_points.txt").unlink()
    other.rmdir()  # uninstalled
    assert [e[0] for e in registry._entry_points()] == ["ACME", "ZED"] and len(scans) == 4
    assert registry._entry_points() and len(scans) == 4


def test_entry_point_scan_without_a_cache_folder_scans_every_time(fake_site):
    _, scans = fake_site
    registry.cache_entry_points(None)
    registry._entry_points()
    registry._entry_points()
    assert len(scans) == 2


def test_a_damaged_kept_scan_is_scanned_again(fake_site, tmp_path):
    _, scans = fake_site
    registry._entry_points()
    for p in (tmp_path / "cache").glob("entry-points-*.json"):
        p.write_text("{not json", encoding="utf-8")
    assert registry._entry_points() == [["ACME", "acme_rules", "acme_rules"]] and len(scans) == 2


@pytest.mark.parametrize("held", [0, 3, 2048])
def test_warm_run_with_changed_files_keeps_the_order_and_few_results(tmp_path, monkeypatch, capsys, held):
    for i in range(40):
        (tmp_path / f"n{i:02d}.md").write_text(BAD if i % 3 else CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(pipeline, "HELD_RESULTS", held)
    _, cold = check(capsys, "-j", "1")
    for i in (5, 6, 30):  # checked again: the cached results after them wait or are looked up again
        p = tmp_path / f"n{i:02d}.md"
        p.write_text(p.read_text(encoding="utf-8") + "\nMore text.\n", encoding="utf-8")
    _, warm = check(capsys, "-j", "1")
    assert [(d["path"], d["code"], d["line"]) for d in warm] == [(d["path"], d["code"], d["line"]) for d in cold]
    _, cold_again = check(capsys, "-j", "1", "--no-cache")
    assert warm == cold_again


def test_an_entry_in_use_is_marked_recently_used_for_pruning(tmp_path):
    rc = cache.ResultCache(tmp_path / "c", max_bytes=10 ** 9)
    rc.put("a" * 64, [], {})
    rc.put("b" * 64, [], {})
    old = 1_000_000_000
    for k in "ab":
        os.utime(rc._path(k * 64), (old, old))
    assert rc.get("a" * 64) == ([], {})
    assert rc._path("a" * 64).stat().st_mtime > old + 10 ** 8  # used: kept longer by pruning
    assert rc._path("b" * 64).stat().st_mtime == old
    rc.max_bytes = rc._path("a" * 64).stat().st_size + rc._path("b" * 64).stat().st_size - 1
    rc.prune()
    assert rc._path("a" * 64).exists() and not rc._path("b" * 64).exists()


def test_a_cached_fix_builds_its_edits_on_first_use_and_behaves_as_the_fix():
    import copy
    import dataclasses
    import pickle

    from tidymark.diagnostics import Applicability, Diagnostic, Edit, Fix, FixKind
    from tidymark.source import Span

    fix = Fix((Edit(Span(5, 6), "b"), Edit(Span(1, 2), "a")), Applicability.SAFE, "t", FixKind.REWRITE)
    d = Diagnostic("X1", "x", "m", Span(0, 1), fix=fix, line=1, column=1, end_line=1, end_column=2)

    def back():
        return cache.from_json(json.loads(json.dumps(cache.to_json(d))))

    lazy = back()
    assert lazy.fix.applicability is Applicability.SAFE and lazy.fix.title == "t"
    assert lazy.fix._raw is not None  # not built yet
    assert lazy.fix.edits == fix.edits and lazy.fix._raw is None
    assert back() == d and d == back() and back().fix == fix and fix == back().fix
    assert hash(back().fix) == hash(fix) and repr(back().fix) == repr(fix) and back().fix.span == fix.span
    assert pickle.loads(pickle.dumps(back())) == d and copy.deepcopy(back()) == d
    changed = dataclasses.replace(back().fix, title="other")
    assert changed.edits == fix.edits and changed != fix


@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 10 ** 4), st.text()), max_size=6))
def test_fix_edits_come_back_from_an_entry_as_written(triples):
    from tidymark.diagnostics import Applicability, Diagnostic, Edit, Fix, FixKind
    from tidymark.source import Span

    edits = tuple(sorted(Edit(Span(a, a + n), t) for a, n, t in triples))
    fix = Fix(edits, Applicability.SAFE, "t", FixKind.REWRITE)
    d = Diagnostic("X1", "x", "m", Span(0, 1), fix=fix, line=1, column=1, end_line=1, end_column=2)
    written = json.loads(json.dumps(cache.to_json(d), ensure_ascii=False))
    assert cache.from_json(written).fix.edits == fix.edits


@pytest.mark.parametrize("edits", ["[[1]]", '[[3,-1,"x"]]', '[["1",2,"x"]]', "x", "[[1,2,null]]", '[[01,2,"x"]]',
                                   '[[0,1,"\\q"]]', '[[0,1,"x"],]', [[0, 1, "x"]], None])
def test_damaged_fix_edits_in_an_entry_are_a_miss(tmp_path, edits):
    rc = cache.ResultCache(tmp_path / "c")
    rc.put("c" * 64, [])
    p = rc._path("c" * 64)

    def entry(e) -> str:
        return json.dumps({"d": [{"c": "X1", "n": "x", "m": "m", "s": [0, 1], "v": 2, "p": [1, 1, 1, 2],
                                  "f": {"a": 2, "t": "t", "k": "rewrite", "e": e}}], "f": {}})

    p.write_bytes(cache.seal(entry('[[0,1,"x"]]').encode(), "c" * 64))  # a sealed entry, as the cache writes it
    assert rc.get("c" * 64)[0][0].fix.edits[0].text == "x"  # the entry's shape is right
    p.write_bytes(cache.seal(entry(edits).encode(), "c" * 64))  # a sealed entry, as the cache writes it
    assert rc.get("c" * 64) is None


# -- the file index: unchanged files answered from their stat ---------------------------

@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A folder of notes large enough for a warm-first run (and so the file index)."""
    assert pipeline.SERIAL_BELOW <= 20
    for i in range(20):
        (tmp_path / f"n{i:02d}.md").write_text(BAD if i % 2 else CLEAN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    # the notes were written just now: without this they would be too fresh to index
    monkeypatch.setattr(cache, "RACY_NS", 0)
    return tmp_path


def check_concise(capsys, *argv: str) -> tuple[int, list[tuple[str, str]]]:
    """A run whose output needs no note text (JSON's does: its fix positions are lines and
    columns, so a JSON run reads every note).  AD005 is left out: the folder's identical notes
    would teach it their lines, and the notes it learned about are read and checked again."""
    code = main(["check", "--output-format", "concise", "--ignore", "AD005", *argv, "."])
    return code, sorted((line.split(":", 1)[0], line.split()[1]) for line in capsys.readouterr().out.splitlines())


def index_records(root: Path) -> dict:
    """Every record of the index, by absolute path."""
    out = {}
    for p in (root / ".tidymark_cache" / cache.INDEX_NAME).glob("*.json"):
        raw = json.loads(p.read_text(encoding="utf-8"))
        out.update({os.path.join(raw["folder"], name): rec for name, rec in raw["files"].items()})
    return out


def index_file(root: Path) -> Path:
    """The index file of the notes in ``root``."""
    return cache.FileIndex(root / ".tidymark_cache").path_for(str(root))


@pytest.fixture
def no_reading(monkeypatch):
    """Fail the test if a note is read (its result must come from the index)."""
    def refuse(*args, **kwargs):
        raise AssertionError("a note was read although the index knew it")

    monkeypatch.setattr(pipeline, "read_bytes_and_stat", refuse)
    monkeypatch.setattr(pipeline, "read_document", refuse)


def test_a_warm_run_answers_unchanged_files_from_the_index_without_reading_them(folder, capsys, request):
    cold = check_concise(capsys)
    assert cold[0] == 1 and ("n01.md", "PB001") in cold[1] and len(index_records(folder)) == 20
    request.getfixturevalue("no_reading")
    request.getfixturevalue("no_checking")
    assert check_concise(capsys) == cold


def test_a_long_entry_is_not_copied_into_the_index_and_still_answers_without_reading(folder, capsys,
                                                                                    monkeypatch, request):
    monkeypatch.setattr(cache, "INDEX_ENTRY_MAX", 200)  # BAD's entry (two findings) is longer
    cold = check_concise(capsys)
    records = index_records(folder)
    long = [r for r in records.values() if r[3] is None]
    assert len(long) == 10 and len(records) == 20  # the BAD notes: key only; the CLEAN ones: copied
    request.getfixturevalue("no_reading")
    request.getfixturevalue("no_checking")
    assert check_concise(capsys) == cold


def test_a_file_rewritten_with_the_same_size_and_modification_time_is_read_again(folder, capsys):
    check_concise(capsys)
    note = folder / "n01.md"
    st = note.stat()
    changed = BAD.replace("draft: true", "draft: no  ")  # the same length, no longer a draft flag
    assert len(changed) == len(BAD)
    note.write_text(changed, encoding="utf-8")
    os.utime(note, ns=(st.st_atime_ns, st.st_mtime_ns))  # the modification time put back (as rsync -t does)
    assert note.stat().st_size == st.st_size and note.stat().st_mtime_ns == st.st_mtime_ns
    _, warm = check_concise(capsys)
    assert ("n01.md", "PB001") not in warm and ("n03.md", "PB001") in warm
    assert check_concise(capsys, "--no-cache")[1] == warm


def test_a_file_changed_just_before_it_was_read_is_not_indexed(folder, capsys, monkeypatch):
    monkeypatch.setattr(cache, "RACY_NS", 10 ** 12)  # every note is "fresh"
    check_concise(capsys)
    check_concise(capsys)
    assert not index_records(folder)


def test_the_index_never_serves_a_result_of_other_rules(folder, capsys, request):
    check_concise(capsys)
    (folder / ".tidymark.yaml").write_text("ignore: [PB001]\n", encoding="utf-8")
    check_concise(capsys)  # the result under these rules goes in an entry
    (folder / ".tidymark.yaml").write_text("select: [PB001]\n", encoding="utf-8")
    request.getfixturevalue("no_reading")  # the digest comes from the index, the results from the entries
    request.getfixturevalue("no_checking")
    (folder / ".tidymark.yaml").write_text("ignore: [PB001]\n", encoding="utf-8")
    _, items = check_concise(capsys)
    assert "PB001" not in {c for _, c in items} and "FM002" in {c for _, c in items}


def test_a_file_over_the_size_limit_is_reported_though_indexed(folder, capsys):
    check_concise(capsys)
    (folder / ".tidymark.yaml").write_text("max-file-size: 10\n", encoding="utf-8")
    _, items = check_concise(capsys)
    assert {c for _, c in items} == {"TM001"} and len(items) == 20


@pytest.mark.parametrize("damage", ["{", '{"format": 2, "folder": "/", "files": []}', '{"format": 99, "files": {}}',
                                    '{"format": 2, "files": {"x": [1, 2]}}', "[]",
                                    '{"format": 2, "folder": "/elsewhere", "files": {}}'])
def test_a_damaged_index_is_ignored_and_written_again(folder, capsys, damage):
    cold = check_concise(capsys)
    path = index_file(folder)
    path.write_text(damage, encoding="utf-8")
    assert check_concise(capsys) == cold
    assert {str(folder / f"n{i:02d}.md") for i in range(20)} <= set(index_records(folder))  # indexed again


def test_a_damaged_record_is_a_miss(folder, capsys):
    cold = check_concise(capsys)
    path = index_file(folder)
    raw = json.loads(path.read_text(encoding="utf-8"))
    name = next(iter(raw["files"]))
    raw["files"][name][3] = {"d": [{"c": "X"}], "f": {}}  # an entry that cannot be read back
    path.write_text(json.dumps(raw), encoding="utf-8")
    assert check_concise(capsys) == cold


def test_index_saves_of_concurrent_runs_are_merged(tmp_path):
    a, b = cache.FileIndex(tmp_path), cache.FileIndex(tmp_path)
    sig = [1, 2, 3, 4, 5]
    assert a.lookup("/x", sig) is None and b.lookup("/y", sig) is None  # both loaded the empty index
    a.record("/x", sig, "0" * 64, "k" * 64, {"d": [], "f": {}})
    b.record("/y", sig, "1" * 64, "j" * 64, {"d": [], "f": {}})
    a.save()
    b.save()
    assert cache.FileIndex(tmp_path).lookup("/x", sig) == ("0" * 64, "k" * 64, {"d": [], "f": {}})
    assert cache.FileIndex(tmp_path).lookup("/y", sig) == ("1" * 64, "j" * 64, {"d": [], "f": {}})
    assert cache.FileIndex(tmp_path).lookup("/y", [1, 2, 3, 4, 6]) is None  # another signature


def test_the_index_is_bounded_keeping_the_records_seen_last(tmp_path, monkeypatch):
    idx = cache.FileIndex(tmp_path, max_bytes=16 * 3000)  # a sixteenth: 3000 bytes for the index
    clock = iter(range(1_000_000, 2_000_000, 10))
    monkeypatch.setattr(cache.time, "time", lambda: next(clock))
    for i in range(40):
        idx.record(f"/n{i:02d}", [1, i, 3, 4, 5], "0" * 64, "k" * 64, {"d": [], "f": {}})
    idx.save()
    path = idx.path_for("/")
    kept = json.loads(path.read_text(encoding="utf-8"))["files"]
    assert path.stat().st_size <= 3000 and 5 < len(kept) < 40
    assert sorted(kept) == [f"n{i:02d}" for i in range(40 - len(kept), 40)]  # the newest


def test_the_index_holds_a_few_folders_at_a_time_and_saves_each_it_lets_go(tmp_path):
    idx = cache.FileIndex(tmp_path)
    sig = [1, 2, 3, 4, 5]
    for i in range(cache.OPEN_FOLDERS * 3):
        idx.record(f"/notes/f{i:02d}/a.md", sig, "0" * 64, "k" * 64, {"d": [], "f": {}})
        assert len(idx._open) <= cache.OPEN_FOLDERS
    idx.save()
    again = cache.FileIndex(tmp_path)
    assert all(again.lookup(f"/notes/f{i:02d}/a.md", sig) for i in range(cache.OPEN_FOLDERS * 3))
    assert again.lookup("/notes/f00/b.md", sig) is None


def test_the_index_is_bounded_dropping_the_folders_used_least_recently(tmp_path):
    idx = cache.FileIndex(tmp_path, max_bytes=16 * 3000)  # 3000 bytes for the index
    sig = [1, 2, 3, 4, 5]
    for i in range(30):
        idx.record(f"/f{i:02d}/a.md", sig, "0" * 64, "k" * 64, {"d": [], "f": {}})
        idx.save()
        os.utime(idx.path_for(f"/f{i:02d}"), (1_000_000 + i, 1_000_000 + i))
    idx.save()
    idx.record("/f29/b.md", sig, "0" * 64, "k" * 64, {"d": [], "f": {}})  # a save that writes: bounds the index
    idx.save()
    files = list(idx.folder.glob("*.json"))
    assert sum(p.stat().st_size for p in files) <= 3000 and 5 < len(files) < 30
    kept = {json.loads(p.read_text(encoding="utf-8"))["folder"] for p in files}
    assert kept == {f"/f{i:02d}" for i in range(30 - len(files), 30)}  # the newest


def test_a_warm_run_over_many_folders_answers_every_note_from_the_index(tmp_path, capsys, monkeypatch, request):
    for i in range(cache.OPEN_FOLDERS + 4):
        sub = tmp_path / f"d{i:02d}" / "inner"
        sub.mkdir(parents=True)
        (sub.parent / "n.md").write_text(BAD, encoding="utf-8")
        (sub / "n.md").write_text(CLEAN if i % 2 else BAD, encoding="utf-8")
        (sub.parent / "z.md").write_text(CLEAN, encoding="utf-8")  # after inner/ in path order
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cache, "RACY_NS", 0)
    cold = check_concise(capsys)
    assert len(index_records(tmp_path)) == 3 * (cache.OPEN_FOLDERS + 4)
    request.getfixturevalue("no_reading")
    request.getfixturevalue("no_checking")
    assert check_concise(capsys) == cold


def test_a_folder_name_that_is_not_utf8_is_indexed(folder, capsys, request):
    try:
        odd = folder / os.fsdecode(b"caf\xe9")  # Latin-1 bytes: not UTF-8
        odd.mkdir()
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes only UTF-8 names")
    for i in range(3):
        (odd / f"m{i}.md").write_text(BAD, encoding="utf-8")
    cold = check_concise(capsys)
    assert str(odd / "m0.md") in index_records(folder)  # written (escaped), read back the same
    request.getfixturevalue("no_reading")
    request.getfixturevalue("no_checking")
    assert check_concise(capsys) == cold


def test_a_run_ends_its_result_stream_so_the_cache_is_pruned_and_the_index_saved(folder, capsys, monkeypatch):
    pruned = []
    monkeypatch.setattr(cache.ResultCache, "prune", lambda self, since_ns=None: pruned.append(self.directory) or 0)
    check_concise(capsys)
    assert pruned == [folder / ".tidymark_cache"]
    assert index_file(folder).exists()
