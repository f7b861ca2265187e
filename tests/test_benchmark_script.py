"""The benchmark script (benchmarks/bench.py) runs end to end on a tiny corpus.

Only the floors and tidymark are run (no peers), once each.  Nothing here asserts a timing:
timings belong in benchmarks/RESULTS.md, not in tests.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench.py"

EXPECTED_ROWS = [
    "floor: read files (Python)",
    "floor: front matter + markdown-it block parse",
    "floor: front matter + markdown-it full parse",
    "tidymark check (cold cache)",
    "tidymark check (warm cache)",
    "tidymark fix --diff",
]
EXPECTED_KEYS = ["read", "parse-block", "parse", "tidymark-cold", "tidymark-warm", "tidymark-fix"]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("tidymark_bench_script", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


@pytest.fixture
def corpus(tmp_path) -> Path:
    root = tmp_path / "corpus"
    (root / "notes" / "deep").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "a.md").write_text("---\ntitle: A note\n---\n\n# A note\n\nSome text.\n", encoding="utf-8")
    (root / "notes" / "b.markdown").write_text("---\ntitle: B\ndraft: true\n---\nBody.\n", encoding="utf-8")
    (root / "notes" / "deep" / "c.md").write_text("Plain text with a [link](https://example.com/).\n",
                                                   encoding="utf-8")
    (root / ".hidden" / "skipped.md").write_text("# not a note\n", encoding="utf-8")
    (root / "notes" / "readme.txt").write_text("not Markdown\n", encoding="utf-8")
    return root


def _table_labels(markdown: str) -> list[str]:
    """First cells of the first table's body rows."""
    lines = markdown.split("\n## ", 2)[1].splitlines()
    rows = [ln for ln in lines if ln.startswith("| ")]
    return [r.split("|")[1].strip() for r in rows[1:]]  # rows[0] is the header


def test_markdown_files_are_found_as_tidymark_finds_them(bench, corpus):
    files = bench.markdown_files(corpus)
    assert [f.as_posix() for f in files] == ["a.md", "notes/b.markdown", "notes/deep/c.md"]


@pytest.mark.parametrize("copies", [1, 3])
def test_replicate_makes_n_copies_and_leaves_the_corpus_alone(bench, corpus, tmp_path, copies):
    files = bench.markdown_files(corpus)
    before = bench.snapshot(corpus)
    dest = tmp_path / "replicas"
    count, size = bench.replicate(corpus, files, dest, copies, distinct=False)
    copied = sorted(p for p in dest.rglob("*") if p.is_file())
    assert count == len(copied) == copies * len(files)
    assert size == copies * sum((corpus / f).stat().st_size for f in files)
    assert sorted(p.name for p in dest.iterdir()) == [f"r{i}" for i in range(1, copies + 1)]
    for i in range(1, copies + 1):
        for rel in files:
            assert (dest / f"r{i}" / rel).read_bytes() == (corpus / rel).read_bytes()
    assert bench.snapshot(corpus) == before


def test_distinct_replicas_differ_only_by_a_trailing_comment(bench, corpus, tmp_path):
    files = bench.markdown_files(corpus)
    dest = tmp_path / "replicas"
    count, size = bench.replicate(corpus, files, dest, 4)  # distinct is the default
    copied = [p for p in dest.rglob("*") if p.is_file()]
    assert count == len(copied) == 4 * len(files)
    assert size == sum(p.stat().st_size for p in copied)
    assert len({p.read_bytes() for p in copied}) == len(copied), "two replicas have the same bytes"
    for rel in files:
        original = (corpus / rel).read_bytes()
        assert (dest / "r1" / rel).read_bytes() == original
        for i in (2, 3, 4):
            data = (dest / f"r{i}" / rel).read_bytes()
            assert data.startswith(original) and data.endswith(b"\n<!-- copy %d -->\n" % i)


def test_tool_selection_expands_groups(bench):
    assert bench.select("floors,tidymark") == EXPECTED_KEYS
    assert bench.select("rumdl,read") == ["read", "rumdl"]
    with pytest.raises(SystemExit):
        bench.select("no-such-tool")


def test_pathological_documents_have_about_the_asked_size(bench):
    size = 50_000
    docs = bench.pathological_documents(size)
    assert {"huge-line", "short-lines", "headings", "nested-lists", "nested-quotes", "open-brackets",
            "backtick-run", "front-matter"} <= set(docs)
    for name, (description, generate) in docs.items():
        text = generate()
        assert description
        # ramps of 1,000 nesting levels are generated whole, whatever the size
        assert size * 0.9 <= len(text.encode("utf-8")) <= max(size * 1.3, 1_100_000), name


def test_script_runs_floors_and_tidymark_on_a_tiny_corpus(corpus, tmp_path):
    raw = tmp_path / "raw.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH), str(corpus), "--runs", "1", "--tools", "floors,tidymark",
         "--json", str(raw), "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert _table_labels(out) == EXPECTED_ROWS, out
    assert "3 files" in out
    for peer in ("rumdl", "markdownlint", "pymarkdown", "mdformat"):
        assert peer not in out, f"{peer} ran although not selected"

    data = json.loads(raw.read_text(encoding="utf-8"))
    results = {r["key"]: r for r in data["scales"]["1"]}
    assert list(results) == EXPECTED_KEYS
    for key, r in results.items():
        assert r["files"] == 3
        if r["skipped"]:  # a tidymark without a result cache has no warm run
            assert key == "tidymark-warm"
            continue
        assert len(r["runs"]) == 1 and not r["failure"], r
        assert r["runs"][0]["exit_code"] in (0, 1) and not r["runs"][0]["timed_out"]
    assert results["tidymark-cold"]["runs"][0]["exit_code"] == 1  # the draft flag is a problem
    assert data["unchanged"] is True
    assert (corpus / "notes" / "b.markdown").read_text(encoding="utf-8").count("draft: true") == 1
