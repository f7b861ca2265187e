"""The batch API gives the CLI's results: same diagnostics, same fixed bytes, exact byte spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tidymark.batch import BatchLinter, apply_fixes, group_by_id, to_cli_json
from tidymark.source import BOM, LineIndex, decode

ROOT = Path(__file__).resolve().parent.parent


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.md"), key=lambda p: str(p.relative_to(folder)))


def _lint_folder(folder: Path, monkeypatch, **kw):
    """Batch-lint every file of a folder as the CLI would see it from inside it (ids = display paths)."""
    monkeypatch.chdir(folder)
    linter = BatchLinter(discover=True, **kw)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.md"))
    return linter.lint_records((f, Path(f).read_bytes()) for f in files)


def test_seeds_same_as_cli_json(monkeypatch):
    proc = subprocess.run([sys.executable, "-m", "tidymark", "check", "--no-cache", "--output-format", "json",
                           "seeds"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    monkeypatch.chdir(ROOT)
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "seeds").glob("*.md"))
    res = BatchLinter(discover=True).lint_records((f, (ROOT / f).read_bytes()) for f in files)
    assert [to_cli_json(r) for r in res.diagnostics] == json.loads(proc.stdout)


def test_generated_corpus_check_and_fix_same_as_cli(engine_corpus, engine_expected, monkeypatch):
    res = _lint_folder(engine_corpus, monkeypatch)
    assert len(res.documents) >= 290  # a few hundred (tests/conftest.py: _engine_corpus)
    assert [to_cli_json(r) for r in res.diagnostics] == engine_expected["check"]
    codes = {r["code"] for r in res.diagnostics}
    assert {"TM001", "DM006", "FM002"} <= codes  # undecodable files, cross-document rules, fixes
    fixed = _lint_folder(engine_corpus, monkeypatch, fix=True)
    assert [to_cli_json(r) for r in fixed.diagnostics] == engine_expected["fix"]
    after = {k: fixed.fixed.get(k, v) for k, v in engine_expected["original"].items()}
    assert after == engine_expected["fixed"]
    assert set(fixed.fixed) == {k for k, v in engine_expected["fixed"].items() if v != engine_expected["original"][k]}
    changed = {d["id"] for d in fixed.documents if d["changed"]}
    assert changed == set(fixed.fixed)


def test_undecodable_input_is_a_record_not_an_exception():
    linter = BatchLinter()
    cases = {"latin1": "Café\n".encode("latin-1"), "utf16": "hi\n".encode("utf-16"), "nul": b"a\x00b",
             "surrogate": "a\ud800b", "big": b"x" * 20}
    from tidymark.config import Settings

    res = BatchLinter(settings=Settings(max_file_size=10)).lint_records(
        [("big", cases.pop("big"))])
    assert [r["code"] for r in res.diagnostics] == ["TM001"]
    assert "over the 10-byte limit" in res.diagnostics[0]["message"]
    res = linter.lint_records(cases.items())
    assert [(r["id"], r["code"], r["line"], r["column"]) for r in res.diagnostics] == [
        (k, "TM001", 1, 1) for k in cases]
    assert "byte 0xe9 at offset 3" in res.diagnostics[0]["message"]
    assert [d["error"] is not None for d in res.documents] == [True] * 4
    assert res.fixed == {}


def _position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a byte offset, computed from the bytes."""
    dec = decode(data)
    base = len(BOM) if dec.bom else 0
    prefix = data[base:offset].decode("utf-8")
    return LineIndex(dec.text).position(len(prefix))


def test_byte_offsets_point_into_the_file_bytes(engine_corpus, monkeypatch):
    res = _lint_folder(engine_corpus, monkeypatch)
    raw = {p.relative_to(engine_corpus).as_posix(): p.read_bytes() for p in _files(engine_corpus)}
    checked = 0
    for r in res.diagnostics:
        if r["start"] is None:  # cross-document: about the whole document
            assert r["code"] == "DM006"
            continue
        data = raw[r["id"]]
        if r["code"] == "TM001":
            assert (r["start"], r["end"]) == (0, 0)
            continue
        assert 0 <= r["start"] <= r["end"] <= len(data)
        assert _position(data, r["start"]) == (r["line"], r["column"])
        for e in r["edits"]:
            assert _position(data, e["start"]) == (e["line"], e["column"])
            assert _position(data, e["end"]) == (e["end_line"], e["end_column"])
            data[e["start"]:e["end"]].decode("utf-8")  # never splits a character
            checked += 1
    assert checked > 100
    bom_docs = [r for r in res.diagnostics if r["id"].startswith("bom/") and r["start"] is not None]
    assert bom_docs and all(r["start"] >= 3 for r in bom_docs)


def test_apply_fixes_replays_one_fixer_pass(engine_corpus, monkeypatch):
    from tidymark.diagnostics import Applicability
    from tidymark.document import Document
    from tidymark.engine import apply_edits, check_document, select_fixes
    from tidymark.runner import RuleBook
    from tidymark.config import Settings
    from tidymark.source import encode

    res = _lint_folder(engine_corpus, monkeypatch)
    rules = RuleBook().rules_for(Settings())
    by_id = group_by_id(res.diagnostics)
    replayed = 0
    for rel, data in ((p.relative_to(engine_corpus).as_posix(), p.read_bytes()) for p in _files(engine_corpus)):
        if rel.startswith(("sub/", "odd/", "latin1/")) or rel not in by_id or \
                any(r["code"] == "TM001" for r in by_id[rel]):
            continue
        dec = decode(data)
        doc = Document(dec.text, bom=dec.bom)
        chosen = select_fixes(check_document(doc, rules), Applicability.SAFE)
        expected = encode(apply_edits(doc.text, [e for d in chosen for e in d.fix.edits]), dec.bom)
        # (AD005's fixes come from what the corpus taught, not from the document's rules alone)
        own = [r for r in by_id[rel] if r["code"] != "AD005"]
        assert apply_fixes(data, own) == expected, rel
        assert apply_fixes(data.decode("utf-8"), own) == expected.decode("utf-8")
        replayed += expected != data
    assert replayed > 20
    # lint -> replay until nothing changes reaches what `fix=True` gives, on a simple document
    data = (ROOT / "seeds" / "omnivore-zh-woshipm.md").read_bytes()
    linter = BatchLinter()
    for _ in range(10):
        new = apply_fixes(data, linter.lint_records([("d", data)]).diagnostics)
        if new == data:
            break
        data = new
    assert data == BatchLinter(fix=True).lint_records([("d", (ROOT / "seeds" / "omnivore-zh-woshipm.md").read_bytes())]).fixed["d"]


def test_text_input_gives_the_same_results_as_bytes():
    data = b"\xef\xbb\xbf" + (ROOT / "seeds" / "omnivore-zh-woshipm.md").read_bytes().replace(b"\n", b"\r\n")
    as_bytes = BatchLinter(fix=True).lint_records([("a", data)])
    as_text = BatchLinter(fix=True).lint_records([("a", data.decode("utf-8"))])
    assert as_bytes.diagnostics == as_text.diagnostics
    assert as_text.fixed["a"].encode("utf-8") == as_bytes.fixed["a"]
    assert as_bytes.fixed["a"].startswith(b"\xef\xbb\xbf") and b"\r\n" in as_bytes.fixed["a"]


def test_config_and_overrides_match_the_cli(engine_corpus, tmp_path, monkeypatch):
    cfg = tmp_path / "tm.yaml"
    cfg.write_text("severity: {DM: info}\nunfixable: [FM002]\n", encoding="utf-8")
    args = ["--config", str(cfg), "--select", "DM,FM,IM", "--ignore", "DM004", "--unsafe-fixes"]
    proc = subprocess.run([sys.executable, "-m", "tidymark", "fix", "--diff", "--output-format", "json", "--no-cache",
                           *args, "lf"], cwd=engine_corpus, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    monkeypatch.chdir(engine_corpus)
    linter = BatchLinter(config=cfg, select=["DM", "FM", "IM"], ignore=["DM004"], unsafe=True, fix=True)
    files = sorted(str(p.relative_to(engine_corpus)) for p in (engine_corpus / "lf").glob("*.md"))
    res = linter.lint_records((f, Path(f).read_bytes()) for f in files)
    assert [to_cli_json(r) for r in res.diagnostics] == json.loads(proc.stdout)
    check = BatchLinter(config=cfg, select=["DM", "FM", "IM"]).lint_records((f, Path(f).read_bytes()) for f in files)
    assert {r["severity"] for r in check.diagnostics if r["code"] in ("DM001", "DM002", "DM003")} == {"info"}


def test_arrow_tables(engine_corpus, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    from tidymark.batch import diagnostics_schema, explode_diagnostics, lint_table

    res = _lint_folder(engine_corpus / "crlf", monkeypatch, fix=True)
    table = res.to_arrow()
    assert table.schema == diagnostics_schema() and table.num_rows == len(res.diagnostics)
    assert table.to_pylist() == res.diagnostics
    assert res.fixed_to_arrow().num_rows == len(res.fixed)
    assert res.documents_to_arrow().num_rows == len(res.documents)
    files = sorted(str(p.relative_to(engine_corpus / "crlf")) for p in (engine_corpus / "crlf").glob("*.md"))
    docs = lint_table(BatchLinter(discover=True, fix=True),
                      pa.table({"path": files, "bytes": [Path(f).read_bytes() for f in files]}), "path", "bytes")
    flat = explode_diagnostics(docs)
    per_doc = [r for r in res.diagnostics if r["code"] != "DM006"]  # project pass is the caller's
    assert flat.to_pylist() == per_doc
    assert {r["id"]: r["fixed"] for r in docs.to_pylist() if r["fixed"] is not None} == res.fixed


def test_engine_option_needs_its_extra_or_runs(tmp_path, monkeypatch):
    from tidymark.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["check", "--output-dir", "out", "."]) == 2
    assert main(["fix", "--engine", "dask", "--diff", "."]) == 2
    assert main(["check", "--engine", "dask", "--output-format", "sarif", "."]) == 2
    assert main(["check", "--engine", "dask", "--select", "NOPE", "."]) == 2
    assert not os.path.exists(tmp_path / "out")
    from tidymark.adapters.engine_cli import _restore_uri

    assert [_restore_uri(str(Path(p))) for p in ("s3://bucket/notes/", "file:///tmp/x", "gs://b/a.parquet",
                                                  "notes/a.md", "/abs/a.md")] == [
        "s3://bucket/notes", "file:///tmp/x", "gs://b/a.parquet", "notes/a.md", "/abs/a.md"]
