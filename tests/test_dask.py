"""Dask adapter and `--engine dask`: exactly the CLI's diagnostics and fixed texts (local scheduler)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tidymark.batch import BatchLinter, to_cli_json
from tidymark.results import merge_records

# Without dask these tests skip, but fail when CI=true (the `dask_engine` fixture, tests/conftest.py).
# A stalled scheduler fails its test after 180 s (time_limit, tests/conftest.py) and the other Dask
# tests at once: CI never hangs.
pytestmark = [pytest.mark.time_limit(180), pytest.mark.usefixtures("dask_engine")]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.md"))}


def _canon(records) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False, default=str) for r in records)


def test_bag_and_dataframe_adapters(engine_corpus, engine_expected, monkeypatch):
    import dask.bag as db
    import dask.dataframe as dd
    import pandas as pd

    from tidymark.adapters.dask_adapter import lint_bag, lint_dataframe, read_markdown

    monkeypatch.chdir(engine_corpus)
    docs = lint_bag(read_markdown(str(engine_corpus), files_per_partition=50), discover=True)
    rows = sorted(docs.compute(scheduler="processes", num_workers=2), key=lambda r: r["id"])
    rel = {r["id"]: Path(r["id"]).relative_to(engine_corpus).as_posix() for r in rows}
    groups = [(rel[r["id"]], [to_cli_json(d, rel[r["id"]]) for d in r["diagnostics"]]) for r in rows]
    facts = {rel[r["id"]]: r["facts"] for r in rows if r["facts"]}
    extra: dict[str, list[dict]] = {}
    for d in BatchLinter(discover=True).project_records(facts):
        rec = to_cli_json(d)
        extra.setdefault(rec["path"], []).append(rec)
    got = merge_records(groups, extra)
    assert got == engine_expected["check"]  # the command line's one stream: cross-document records in place

    files = _snapshot(engine_corpus)
    texts = {k: v.decode("utf-8") for k, v in files.items() if _decodes(v)}
    ddf = dd.from_pandas(pd.DataFrame({"id": list(texts), "text": list(texts.values())}), npartitions=4)
    frame = lint_dataframe(ddf, fix=True).compute(scheduler="synchronous")
    expected = BatchLinter(fix=True).lint_records(texts.items(), project=False)
    assert {r.id: r.fixed for r in frame.itertuples() if isinstance(r.fixed, str)} == expected.fixed
    got = [{**d, "id": r.id} for r in frame.itertuples() for d in r.diagnostics]
    assert _canon(_plain(got)) == _canon(expected.diagnostics)
    bag = db.from_sequence(list(texts.items()), npartitions=3)
    assert sum(len(r["diagnostics"]) for r in lint_bag(bag).compute(scheduler="synchronous")) > 50


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def _plain(records):
    """Arrow -> pandas turns lists into numpy arrays; back to plain lists for comparison."""
    out = []
    for r in records:
        r = dict(r)
        r["edits"] = [dict(e) for e in (r["edits"] if r["edits"] is not None else [])]
        out.append(r)
    return out


def test_cli_engine_dask_on_a_folder(engine_corpus, engine_expected, tmp_path, monkeypatch, capsys):
    from tidymark.cli import main

    monkeypatch.chdir(engine_corpus)
    assert main(["check", "--engine", "dask", "--output-format", "json", "."]) == 1
    assert json.loads(capsys.readouterr().out) == engine_expected["check"]
    assert main(["check", "--engine", "dask", "."]) == 1
    assert capsys.readouterr().out == engine_expected["text"]
    work = tmp_path / "corpus"
    shutil.copytree(engine_corpus, work)
    monkeypatch.chdir(work)
    assert main(["fix", "--engine", "dask", "--output-format", "json", "."]) == 1
    assert json.loads(capsys.readouterr().out) == engine_expected["fix"]
    assert _snapshot(work) == engine_expected["fixed"]


def test_cli_engine_dask_on_parquet_and_jsonl(engine_corpus, tmp_path, monkeypatch, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tidymark.cli import main

    monkeypatch.chdir(tmp_path)
    files = _snapshot(engine_corpus)
    pq.write_table(pa.table({"doc": list(files), "body": list(files.values())}), tmp_path / "corpus.parquet",
                   row_group_size=40)
    expected = BatchLinter(fix=True).lint_records(files.items())
    assert main(["fix", "--engine", "dask", "corpus.parquet", "--text-column", "body", "--id-column", "doc",
                 "--output-dir", "out"]) == 1
    assert "Fixed" in capsys.readouterr().out
    got = pq.read_table(tmp_path / "out" / "diagnostics").to_pylist()
    assert _canon(got) == _canon(expected.diagnostics)
    fixed = {r["id"]: r["fixed"] for r in pq.read_table(tmp_path / "out" / "fixed").to_pylist()}
    assert fixed == expected.fixed
    texts = {k: v.decode("utf-8") for k, v in files.items() if _decodes(v)}
    with open(tmp_path / "pages.jsonl", "w", encoding="utf-8") as fh:
        for k, v in texts.items():
            fh.write(json.dumps({"id": k, "text": v}, ensure_ascii=False) + "\n")
    assert main(["check", "--engine", "dask", "pages.jsonl", "--output-format", "json", "--exit-zero"]) == 0
    got = json.loads(capsys.readouterr().out)
    expected = BatchLinter().lint_records(texts.items())
    assert _canon(got) == _canon(to_cli_json(r) for r in expected.diagnostics)
