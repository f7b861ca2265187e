"""The house: one selector grammar for every setting, the same policy in the CLI and the batch
API, suppressions judged against the run's own rules, and the import graph's layers."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tidymark.batch import BatchLinter, to_cli_json
from tidymark.commands.main import main

ROOT = Path(__file__).resolve().parent.parent

NOTES = {
    # FM001 (unsafe fix) and FM002 (safe fix) in the front matter, PB001 (unsafe fix)
    "a.md": "---\ntitle: Hello\ntitle: Hello again\nsummary: |\n  one line\ndraft: true\n---\nBody text here.\n",
    # FM002 only (safe fix)
    "b.md": "---\ntitle: Plain\nsummary: |\n  one line\n---\nAnother body.\n",
    # clean
    "c.md": "---\ntitle: Clean\n---\nNothing to see.\n",
}

SELECTORS = ["ALL", "FM", "FM0", "FM002", "block-scalar-single-line", "PB001"]


@pytest.fixture
def vault(tmp_path, monkeypatch):
    for name, text in NOTES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli_json(capsys, *argv) -> list[dict]:
    main(["check", "--no-cache", "--output-format", "json", *argv, *sorted(NOTES)])
    out, _ = capsys.readouterr()
    return json.loads(out)


def _batch_json() -> list[dict]:
    files = sorted(NOTES)
    res = BatchLinter(discover=True).lint_records((f, Path(f).read_bytes()) for f in files)
    return [to_cli_json(r) for r in res.diagnostics]


@pytest.mark.parametrize("selector", SELECTORS)
def test_cli_and_batch_agree_on_severity_for_every_selector_form(vault, capsys, selector):
    (vault / ".tidymark.yaml").write_text(f"severity: {{{selector}: info}}\n", encoding="utf-8")
    cli = _cli_json(capsys)
    assert cli, "the notes have problems"
    assert any(d["severity"] == "info" for d in cli)
    assert _batch_json() == cli


@pytest.mark.parametrize("selector", SELECTORS)
def test_cli_and_batch_agree_on_unfixable_for_every_selector_form(vault, capsys, selector):
    (vault / ".tidymark.yaml").write_text(f"unfixable: [{selector}]\n", encoding="utf-8")
    cli = _cli_json(capsys)
    held = [d for d in cli if d["fix"] is None]
    assert held, f"unfixable = [{selector}] holds back no fix"
    assert _batch_json() == cli


def test_severity_all_is_info_in_the_batch_api(vault):
    (vault / ".tidymark.yaml").write_text("severity: {ALL: info}\n", encoding="utf-8")
    got = _batch_json()
    assert got and {d["severity"] for d in got} == {"info"}


def test_more_specific_severity_selector_wins(vault, capsys):
    (vault / ".tidymark.yaml").write_text("severity: {ALL: info, FM: warning, FM001: error}\n", encoding="utf-8")
    by_code = {d["code"]: d["severity"] for d in _cli_json(capsys)}
    assert by_code == {"FM001": "error", "FM002": "warning", "PB001": "info"}
    assert {d["code"]: d["severity"] for d in _batch_json()} == by_code


def test_unfixable_all_holds_back_every_fix(vault, capsys):
    (vault / ".tidymark.yaml").write_text("unfixable: [ALL]\n", encoding="utf-8")
    before = {name: (vault / name).read_bytes() for name in NOTES}
    main(["fix", "--no-cache", "--unsafe-fixes", *sorted(NOTES)])
    out, _ = capsys.readouterr()
    assert {name: (vault / name).read_bytes() for name in NOTES} == before
    assert "fixable" not in out


def test_unfixable_prefix_is_not_counted_fixable(vault, capsys):
    (vault / ".tidymark.yaml").write_text("unfixable: [FM]\n", encoding="utf-8")
    code = main(["fix", "--no-cache", "b.md"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "No fixes available (1 problem remaining)." in out
    assert "fixable" not in out, out
    main(["check", "--no-cache", "b.md"])
    out, _ = capsys.readouterr()
    assert "[*]" not in out and "fixable" not in out, out


PACK = """\
rules:
  - code: XX001
    name: company-banner
    kind: phrase
    message: Internal banner left in a published note
    patterns: ["INTERNAL USE ONLY"]
"""


def test_suppression_of_a_rule_pack_rule_is_not_unknown(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pack.yaml").write_text(PACK, encoding="utf-8")
    (tmp_path / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XX]\n", encoding="utf-8")
    (tmp_path / "n.md").write_text("Intro.\n\n<!-- tidymark-disable-next-line XX001 -->\nINTERNAL USE ONLY\n\nEnd.\n",
                                   encoding="utf-8")
    code = main(["check", "--no-cache", "n.md"])
    out, _ = capsys.readouterr()
    assert "no rule matches" not in out, out
    assert code == 0, out
    res = BatchLinter(discover=True).lint_records([("n.md", (tmp_path / "n.md").read_bytes())])
    assert res.diagnostics == []


def test_unknown_code_in_a_suppression_is_still_reported(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "n.md").write_text("Intro.\n\n<!-- tidymark-disable-next-line XX001 -->\nText.\n", encoding="utf-8")
    main(["check", "--no-cache", "n.md"])
    out, _ = capsys.readouterr()
    assert "no rule matches XX001" in out


# --------------------------------------------------------------------------- the layers

def _imports(path: Path) -> set[str]:
    """Modules a source file imports (absolute names; ``from tidymark import x`` counts as
    ``tidymark.x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m == "tidymark" or m.startswith("tidymark.")}


def _module_name(path: Path) -> str:
    if path.is_relative_to(ROOT / "rules"):
        rel = path.relative_to(ROOT / "rules").with_suffix("")
        parts = ["tidymark", "rules", *rel.parts]
    else:
        rel = path.relative_to(ROOT / "lint").with_suffix("")
        parts = ["tidymark", *rel.parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


GRAPH = {_module_name(p): _imports(p) for base in ("lint", "rules") for p in sorted((ROOT / base).rglob("*.py"))
         if "__pycache__" not in p.parts}


def _edges(module: str) -> set[str]:
    return {m for m in GRAPH[module] if m in GRAPH and m != module}


def test_the_graph_is_read():
    assert len(GRAPH) > 60
    assert "tidymark.core.engine" in GRAPH and "tidymark.rules.tm.tm100_unused_suppression" in GRAPH


def test_the_engine_imports_no_rule_and_nothing_above_it():
    for module in GRAPH:
        if module.startswith("tidymark.core."):
            above = {m for m in _edges(module) if m.startswith(("tidymark.rules", "tidymark.run", "tidymark.plugins",
                                                                 "tidymark.commands", "tidymark.outputs"))}
            assert not above, f"{module} imports {sorted(above)}"


def test_no_rule_imports_the_registry_or_the_run():
    for module in GRAPH:
        if module.startswith("tidymark.rules"):
            bad = {m for m in _edges(module) if m.startswith(("tidymark.plugins", "tidymark.run", "tidymark.commands"))}
            assert not bad, f"{module} imports {sorted(bad)}"


def test_no_import_cycle():
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(_edges(m)):
            if n.startswith(m + "."):
                continue  # a package importing its own module (it is not a cycle at run time)
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)


def test_moved_module_paths_are_the_same_modules():
    import importlib

    import tidymark

    for old, new in tidymark._MOVED.items():
        assert importlib.import_module(old) is importlib.import_module(new), old


def test_all_in_a_suppression_comment_means_every_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.md").write_text("---\ntitle: Hello\ntitle: Again\n---\n\n<!-- tidymark-disable-file ALL -->\n\nText.\n",
                                   encoding="utf-8")
    code = main(["check", "--no-cache", "m.md"])
    out, _ = capsys.readouterr()
    assert code == 0 and "All checks passed!" in out, out
