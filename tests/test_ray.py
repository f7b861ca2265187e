"""Ray Data adapter and `--engine ray`: exactly the CLI's diagnostics and fixed texts (local Ray)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tidymark.batch import BatchLinter, to_cli_json

# Every test takes the `ray_session` fixture (tests/conftest.py): one local Ray shared by these tests,
# shut down after the last of them; without ray they skip, but fail when CI=true. A stalled Ray fails
# its test after 180 s (time_limit, tests/conftest.py) and the other Ray tests at once: CI never hangs.
pytestmark = pytest.mark.time_limit(180)


def _rel(root: Path, rid: str) -> str:
    return Path(rid).relative_to(root).as_posix()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.md"))}


def _canon(records) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in records)


def test_map_batches_adapter(ray_session, engine_corpus, engine_expected, monkeypatch):
    from tidymark.adapters.ray_adapter import TidymarkLinter, explode, read_markdown

    monkeypatch.chdir(engine_corpus)
    ds = read_markdown(str(engine_corpus))  # a folder: whole files, path + bytes
    docs = ds.map_batches(TidymarkLinter, fn_constructor_kwargs={"discover": True}, batch_format="pyarrow",
                          num_cpus=0.5, compute=ray_session.data.ActorPoolStrategy(size=2)).materialize()
    rows = sorted(docs.take_all(), key=lambda r: _rel(engine_corpus, r["id"]))
    assert len(rows) == len(engine_expected["original"])
    got = [to_cli_json({**d, "id": r["id"]}, _rel(engine_corpus, r["id"])) for r in rows for d in r["diagnostics"]]
    facts = {_rel(engine_corpus, r["id"]): json.loads(r["facts"]) for r in rows if r["facts"]}
    got += [to_cli_json(d) for d in BatchLinter(discover=True).project_records(facts)]
    assert got == engine_expected["check"]
    flat = docs.map_batches(explode, batch_format="pyarrow").take_all()
    assert len(flat) == sum(len(r["diagnostics"]) for r in rows)


def test_cli_engine_ray_on_a_folder(ray_session, engine_corpus, engine_expected, tmp_path, monkeypatch, capsys):
    from tidymark.cli import main

    monkeypatch.chdir(engine_corpus)
    assert main(["check", "--engine", "ray", "--output-format", "json", "."]) == 1
    assert json.loads(capsys.readouterr().out) == engine_expected["check"]
    assert main(["check", "--engine", "ray", "."]) == 1
    assert capsys.readouterr().out == engine_expected["text"]
    work = tmp_path / "corpus"
    shutil.copytree(engine_corpus, work)
    monkeypatch.chdir(work)
    assert main(["fix", "--engine", "ray", "--output-format", "json", "."]) == 1
    assert json.loads(capsys.readouterr().out) == engine_expected["fix"]
    assert _snapshot(work) == engine_expected["fixed"]


def test_cli_engine_ray_on_parquet(ray_session, engine_corpus, tmp_path, monkeypatch, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tidymark.cli import main

    monkeypatch.chdir(tmp_path)
    files = _snapshot(engine_corpus)
    pq.write_table(pa.table({"doc": list(files), "body": list(files.values())}), tmp_path / "corpus.parquet",
                   row_group_size=40)
    expected = BatchLinter(fix=True).lint_records(files.items())
    assert main(["fix", "--engine", "ray", "corpus.parquet", "--text-column", "body", "--id-column", "doc",
                 "--output-dir", "out"]) == 1
    out = capsys.readouterr().out
    assert f"Results written to {tmp_path / 'out'}" in out and "Fixed" in out
    got = pq.read_table(tmp_path / "out" / "diagnostics").to_pylist()
    assert _canon(got) == _canon(expected.diagnostics)
    fixed = {r["id"]: r["fixed"] for r in pq.read_table(tmp_path / "out" / "fixed").to_pylist()}
    assert fixed == expected.fixed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["engine"] == "ray" and summary["files"] == len(files)
    assert summary["changed_files"] == len(expected.fixed) and summary["remaining"] == len(expected.diagnostics)
