"""Hostile YAML and Markdown: every case is checked and fixed through the per-file pipeline
(read, check, fix, write) with every rule selected, and must finish within seconds, never
raise, never report an internal error, and never lose text.

The cases stay under the default ``max-file-size`` (10 MB), so none is skipped for size.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from tidymark.config import Settings
from tidymark.document import Document
from tidymark.pipeline import RunOptions, Worker

# per case and mode: a bound that catches hangs and quadratic blow-ups even on a loaded CI
# machine; most cases take well under 5 s (docs/reliability.md has the numbers)
SECONDS = 45


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        name, prev = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "---\n" + "\n".join(lines) + "\ntitle: |\n  Laughs\n---\nBody.\n"


def _mapping_bomb(levels: int = 9) -> str:
    lines = ["a: &a {x: 1, y: 2}"]
    for i in range(1, levels + 1):
        name, prev = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines.append(f"{name}: &{name} {{" + ", ".join(f"k{j}: *{prev}" for j in range(9)) + "}")
    return "---\n" + "\n".join(lines) + "\n---\nBody.\n"


def _merge_bomb(levels: int = 9) -> str:
    lines = ["a: &a {x: 1}"]
    for i in range(1, levels + 1):
        name, prev = chr(ord("a") + i), chr(ord("a") + i - 1)
        lines += [f"{name}: &{name}", f"  <<: *{prev}", f"  k: [{', '.join([f'*{prev}'] * 9)}]"]
    return "---\n" + "\n".join(lines) + "\n---\nBody.\n"


YAML_CASES = {
    "billion-laughs": _billion_laughs(),
    "mapping-alias-bomb": _mapping_bomb(),
    "merge-key-bomb": _merge_bomb(),
    "recursive-alias": "---\na: &a [*a]\nb: &b {self: *b}\ntitle: x\n---\nBody.\n",
    "nested-flow-seq-10k": "---\nx: " + "[" * 10_000 + "]" * 10_000 + "\n---\nBody.\n",
    "nested-flow-map-5k": "---\nx: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n---\nBody.\n",
    "nested-block-map-1k": "---\n" + "".join(" " * i + f"k{i}:\n" for i in range(1_000)) + "---\nBody.\n",
    "nested-block-seq-1k": "---\nx:\n" + "".join("  " * i + "- \n" for i in range(1_000)) + "---\nBody.\n",
    "nested-within-limit": "---\ntitle: |\n  Nested\nx: " + "[" * 50 + "1" + "]" * 50 + "\n---\nBody.\n",
    "huge-plain-scalar-5mb": "---\ntitle: " + "x" * 5_000_000 + "\n---\nBody.\n",
    "huge-block-scalar-5mb": "---\ntitle: |\n" + ("  " + "y" * 98 + "\n") * 50_000 + "---\nBody.\n",
    "huge-key-1mb": "---\n" + "k" * 1_000_000 + ": v\n---\nBody.\n",
    "scalar-just-under-limit": "---\ntitle: |\n  T\ndescription: " + "d" * 120_000 + "\n---\nBody.\n",
    "100k-keys": "---\n" + "".join(f"k{i}: v\n" for i in range(100_000)) + "---\nBody.\n",
    "20k-anchors-and-aliases": "---\n" + "".join(f"k{i}: &a{i} v\n" for i in range(20_000))
                               + "".join(f"r{i}: *a{i}\n" for i in range(20_000)) + "---\nBody.\n",
    "python-object-apply": "---\ntitle: !!python/object/apply:os.system ['touch PWNED']\n---\nBody.\n",
    "python-object": "---\nx: !!python/object:collections.OrderedDict {a: 1}\ntitle: y\n---\nBody.\n",
    "python-name": "---\nx: !!python/name:os.system\n---\nBody.\n",
    "python-module": "---\nx: !!python/module:os\n---\nBody.\n",
    "custom-tags": "---\nx: !secret value\ny: !!binary aGVsbG8=\ntitle: |\n  Tagged\n---\nBody.\n",
    "duplicate-keys": "---\ntitle: a\ntitle: b\ntitle: |\n  c\nx: {k: 1, k: 2}\n---\nBody.\n",
    "tab-indentation": "---\ntitle:\tx\n\tkey: y\n---\nBody.\n",
    "tab-after-colon": "---\ntitle:\t|\n  x\n---\nBody.\n",
    "never-closes": "---\ntitle: x\nauthor: y\n\nBody text forever\n" + "more body\n" * 1000,
    "never-closes-dashes-in-code": "---\ntitle: x\n\n```\n---\n```\n",
    "closes-with-dots": "---\ntitle: |\n  x\n...\nBody.\n",
    "several-yaml-documents": "---\na: 1\n---\nb: 2\n---\nBody.\n",
    "only-front-matter": "---\ntitle: |\n  x\n---\n",
    "only-front-matter-no-eol": "---\ntitle: |\n  x\n---",
    "only-delimiters": "---\n---\n",
    "only-opening-delimiter": "---\n",
    "crlf-front-matter": "---\r\ntitle: |\r\n  x\r\n---\r\nBody.\r\n",
    "cr-only-front-matter": "---\rtitle: |\r  x\r---\rBody.\r",
    "toml-front-matter-invalid": "+++\ntitle = \n+++\nBody.\n",
    "json-front-matter-deep": "{\n" + '"a": ' * 1 + "[" * 5_000 + "]" * 5_000 + "\n}\nBody.\n",
}

MARKDOWN_CASES = {
    "empty": "",
    "bom-only": "\ufeff",
    "whitespace-only": " \t \n\n   \n",
    "newlines-only-crlf": "\r\n" * 100_000,
    "dashes-inside-code": "```\n---\ntitle: x\n---\n```\nBody.\n",
    "front-matter-in-code-later": "---\ntitle: x\n---\n```yaml\n---\na: b\n---\n```\n",
    "long-line-5mb": "x" * 5_000_000 + "\n",
    "long-line-of-links": "[a](https://example.com/x) " * 200_000 + "\n",
    "long-line-of-images": "![i](https://proxy-prod.omnivore-image-cache.app/0x0,s/https://x.example/i.png) " * 5_000,
    "open-brackets-1m": "[" * 1_000_000 + "\n",
    "bracket-paren-300k": "[](" * 300_000 + "\n",
    "emphasis-400k": "*" * 200_000 + "a" + "*" * 200_000 + "\n",
    "backticks": "`" * 100_000 + "\n" + "`a" * 100_000 + "\n",
    "unclosed-comments": "<!--" * 100_000 + "\n",
    "unclosed-img-tags": "<img src='x'" * 100_000 + "\n",
    "100k-headings": "".join(f"# Heading {i}\n\n" for i in range(100_000)),
    "100k-list-items": "".join(f"- item {i}\n" for i in range(100_000)),
    "100k-reference-definitions": "".join(f"[r{i}]: https://x.example/{i}\n" for i in range(100_000)),
    "nested-lists-1k": "".join("  " * i + "- item\n" for i in range(1_000)),
    "nested-list-markers-50k": "- " * 50_000 + "x\n",
    "nested-quotes-100k": ">" * 100_000 + " deep\n",
    "nested-quote-lines-2k": "".join(">" * i + " q\n" for i in range(2_000)),
    "quotes-and-lists-10k": "> - " * 10_000 + "x\n",
    "nested-html-100k": "<div>" * 100_000 + "x" + "</div>" * 100_000 + "\n",
    "wide-table-50k": "|" + "a|" * 50_000 + "\n|" + "-|" * 50_000 + "\n|" + "b|" * 50_000 + "\n",
    "cr-only-newlines": "# T\r\rpara\r" * 50_000,
    "mixed-newlines": "a\nb\r\nc\rd\n" * 50_000,
    "control-characters": "".join(chr(c) for c in range(1, 32) if c not in (10, 13)) * 1000 + "\n",
    "unicode-separators": "line\u2028sep\u2029para\x85nel\x0cff\n" * 10_000,
    "combining-marks": "e" + "\u0301" * 100_000 + "\n",
    "surrogate-free-astral": "😀" * 500_000 + "\n",
    "scaffolding-everywhere": ("---\ntitle: |\n  T\n---\n" + "Read Original\n\n[Read Original](https://omnivore.app/x)\n\n"
                               "#Omnivore\n\n" * 2_000),
}

CASES = {**{f"yaml/{k}": v for k, v in YAML_CASES.items()}, **{f"md/{k}": v for k, v in MARKDOWN_CASES.items()}}


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("select: [ALL]\nrule-timeout: 0\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _process(path: Path, mode: str):
    worker = Worker(RunOptions(mode=mode, use_cache=False, journal=path.parent / "journal"))
    started = time.monotonic()
    res = worker.process(path, path.name)
    return res, time.monotonic() - started


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_checked_and_fixed_safely(folder, name):
    text = CASES[name]
    data = text.encode("utf-8")
    assert len(data) < Settings().max_file_size
    f = folder / "note.md"
    f.write_bytes(data)
    res, seconds = _process(f, "check")
    assert seconds < SECONDS, f"check took {seconds:.1f}s"
    codes = {d.code for d in res.diagnostics}
    assert not codes & {"TM001", "TM002", "TM003"}, [d.message for d in res.diagnostics if d.code.startswith("TM")]

    res, seconds = _process(f, "fix")
    assert seconds < SECONDS, f"fix took {seconds:.1f}s"
    assert not [d for d in res.diagnostics if d.code in ("TM001", "TM002")], \
        [d.message for d in res.diagnostics if d.code.startswith("TM")]
    after = f.read_bytes()
    if not res.changed:
        assert after == data
    else:
        # lossless: what changed is what the applied fixes say; a second fix changes nothing
        again, _ = _process(f, "fix")
        assert not again.changed and f.read_bytes() == after
    assert not (folder / "PWNED").exists()
    assert not list(folder.glob(".*.tidymark-tmp"))


@pytest.mark.parametrize("name", ["yaml/billion-laughs", "yaml/mapping-alias-bomb", "yaml/merge-key-bomb",
                                  "yaml/recursive-alias"])
def test_alias_bombs_are_refused_with_bounded_memory(name):
    from tidymark.api import check_text

    tracemalloc.start()
    try:
        doc = Document(CASES[name])
        fm = doc.front_matter
        assert fm.values == {}
        assert len(fm.entries) < 1_000
        assert "alias" in fm.error.message
        diags = check_text(CASES[name], Settings(select=("ALL",)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    assert [d.code for d in diags if d.code.startswith("FM0")] == ["FM000"]
    assert "alias bomb" in next(d.message for d in diags if d.code == "FM000")


def test_ordinary_aliases_still_read():
    fm = Document("---\nbase: &b {a: 1}\nx: *b\ny: [*b, *b]\n---\nBody.\n").front_matter
    assert fm.error is None and fm.values["y"] == [{"a": 1}, {"a": 1}]
    assert [e.key for e in fm.entries if e.top_level] == ["base", "x", "y"]


def test_oversized_front_matter_is_reported_not_parsed():
    from tidymark.api import check_text

    diags = check_text(CASES["yaml/huge-block-scalar-5mb"], Settings(select=("ALL",)))
    [fm000] = [d for d in diags if d.code == "FM000"]
    assert "over the 131,072 tidymark reads" in fm000.message
    fm = Document(CASES["yaml/scalar-just-under-limit"]).front_matter
    assert fm.error is None and len(fm.values["description"]) == 120_000


def test_python_tags_are_never_constructed(folder):
    from tidymark.api import check_text

    for name in ("yaml/python-object-apply", "yaml/python-object", "yaml/python-name", "yaml/python-module"):
        diags = check_text(CASES[name], Settings(select=("ALL",)))
        assert any(d.code == "FM000" and "python/" in d.message for d in diags), name
    assert not (folder / "PWNED").exists()


def test_deep_markdown_nesting_never_recurses_out():
    for name in ("md/nested-lists-1k", "md/nested-quotes-100k", "md/nested-list-markers-50k",
                 "md/quotes-and-lists-10k"):
        doc = Document(CASES[name])
        assert doc.tokens and doc.blocks and doc.protected is not None
