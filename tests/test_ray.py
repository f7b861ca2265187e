"""Ray Data adapter and `--engine ray`: exactly the CLI's diagnostics and fixed texts (local Ray)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tidymark.batch import BatchLinter, to_cli_json
from tidymark.results import merge_records

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


def _by_path(records) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for rec in records:
        out.setdefault(rec["path"], []).append(rec)
    return out


def test_map_batches_adapter(ray_session, engine_corpus, engine_expected, monkeypatch):
    from tidymark.adapters.ray_adapter import TidymarkLinter, explode, read_markdown

    monkeypatch.chdir(engine_corpus)
    ds = read_markdown(str(engine_corpus))  # a folder: whole files, path + bytes
    docs = ds.map_batches(TidymarkLinter, fn_constructor_kwargs={"discover": True}, batch_format="pyarrow",
                          num_cpus=0.5, compute=ray_session.data.ActorPoolStrategy(size=2)).materialize()
    rows = sorted(docs.take_all(), key=lambda r: _rel(engine_corpus, r["id"]))
    assert len(rows) == len(engine_expected["original"])
    groups = [(_rel(engine_corpus, r["id"]),
               [to_cli_json({**d, "id": r["id"]}, _rel(engine_corpus, r["id"])) for d in r["diagnostics"]])
              for r in rows]
    facts = {_rel(engine_corpus, r["id"]): json.loads(r["facts"]) for r in rows if r["facts"]}
    got = merge_records(groups, _by_path(to_cli_json(d) for d in BatchLinter(discover=True).project_records(facts)))
    assert got == engine_expected["check"]  # the command line's one stream: cross-document records in place
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


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_cli_engine_ray_on_jsonl_parquet_folder_and_uri(ray_session, engine_corpus, tmp_path, monkeypatch, capsys):
    """`--engine ray` plans its own tasks (ray_adapter.plan_units): a JSON Lines file split into byte
    ranges, a Parquet folder of more files than CPUs (one task per file, row groups read one by one, extra
    columns and `_SUCCESS` left alone) and an object-store-style URI (file://) give the batch API's results."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tidymark.adapters import ray_adapter
    from tidymark.cli import main

    monkeypatch.chdir(tmp_path)
    files = _snapshot(engine_corpus)
    texts = {k: v.decode("utf-8") for k, v in files.items() if _decodes(v)}
    with open(tmp_path / "pages.jsonl", "w", encoding="utf-8", newline="\n") as fh:
        for k, v in texts.items():
            fh.write(json.dumps({"id": k, "text": v}, ensure_ascii=False) + "\n")
    monkeypatch.setattr(ray_adapter, "JSONL_SPLIT_BYTES", 20_000)
    assert len(ray_adapter.plan_units("table", source=str(tmp_path / "pages.jsonl"), cpus=2)) > 4
    assert main(["check", "--engine", "ray", "pages.jsonl", "--output-format", "json", "--exit-zero"]) == 0
    expected = BatchLinter().lint_records(texts.items())
    assert json.loads(capsys.readouterr().out) == [to_cli_json(r) for r in expected.diagnostics]

    (tmp_path / "pages").mkdir()
    items = list(files.items())
    for k in range(12):  # more files than 4 tasks per CPU
        chunk = items[k::12]
        pq.write_table(pa.table({"extra": list(range(len(chunk))), "path": [a for a, _ in chunk],
                                 "bytes": [b for _, b in chunk]}), tmp_path / "pages" / f"part-{k}.parquet",
                       row_group_size=9)
    (tmp_path / "pages" / "_SUCCESS").write_bytes(b"")
    assert len(ray_adapter.plan_units("table", source=str(tmp_path / "pages"), cpus=2)) == 12
    assert main(["fix", "--engine", "ray", "pages", "--text-column", "bytes", "--output-dir", "out"]) == 1
    capsys.readouterr()
    expected = BatchLinter(fix=True).lint_records(files.items())
    assert _canon(pq.read_table(tmp_path / "out" / "diagnostics").to_pylist()) == _canon(expected.diagnostics)
    assert {r["id"]: r["fixed"] for r in pq.read_table(tmp_path / "out" / "fixed").to_pylist()} == expected.fixed

    assert main(["check", "--engine", "ray", "--output-format", "json", engine_corpus.as_uri()]) == 1
    paths = sorted(str(p) for p in engine_corpus.rglob("*.md"))
    expected = BatchLinter().lint_records((p, Path(p).read_bytes()) for p in paths)
    assert json.loads(capsys.readouterr().out) == [to_cli_json(r) for r in expected.diagnostics]


def test_jsonl_byte_ranges_give_every_line_once(tmp_path):
    pytest.importorskip("pandas")
    pafs = pytest.importorskip("pyarrow.fs")

    from tidymark.adapters.ray_adapter import _read_jsonl

    lines = [json.dumps({"id": f"d{i}", "text": "x" * (i * 7 % 50) + ("\u00e9" if i % 3 else "")},
                        ensure_ascii=False) for i in range(40)]
    data = ("\n".join(lines[:20]) + "\r\n" + "\n".join(lines[20:]) + "\n").encode("utf-8")
    (tmp_path / "a.jsonl").write_bytes(data)
    fs = pafs.LocalFileSystem()
    whole = _read_jsonl(fs, str(tmp_path / "a.jsonl"), 0, None).to_pylist()
    assert [r["id"] for r in whole] == [f"d{i}" for i in range(40)]
    for step in (1, 5, 37, 100, len(data) - 1, len(data)):
        got = []
        for start in range(0, len(data), step):
            table = _read_jsonl(fs, str(tmp_path / "a.jsonl"), start, min(len(data), start + step))
            got += table.to_pylist() if table is not None else []
        assert got == whole, step
