"""docs/rules/: one generated page per rule plus an index, never stale.

Regenerate with ``python -m tidymark.docs docs/rules``.  (The README rule table has its own
staleness test in tests/test_hygiene.py.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tidymark import docs, registry

ROOT = Path(__file__).resolve().parent.parent
RULE_DOCS = ROOT / "docs" / "rules"
README = ROOT / "README.md"
REGENERATE = "python -m tidymark.docs docs/rules"


def builtin() -> dict:
    return {code: info for code, info in registry.all_rules().items() if info.builtin}


def test_committed_rule_docs_are_current():
    stale = docs.stale_pages(RULE_DOCS)
    assert not stale, f"docs/rules is stale ({', '.join(stale)}): run `{REGENERATE}` and commit the result"


def test_one_page_per_builtin_rule_plus_an_index():
    names = sorted(p.name for p in RULE_DOCS.glob("*.md"))
    assert names == sorted([f"{code}.md" for code in builtin()] + ["README.md"])


def test_pages_are_what_tidymark_rule_prints(capsys):
    from tidymark.cli import main

    for code in builtin():
        assert main(["rule", code]) == 0
        out, _ = capsys.readouterr()
        assert (RULE_DOCS / f"{code}.md").read_text(encoding="utf-8") == out, code


def test_pages_have_the_documented_sections():
    for code, info in builtin().items():
        text = (RULE_DOCS / f"{code}.md").read_text(encoding="utf-8")
        assert text.startswith(f"# {info.cls.name} ({code})\n\n{info.cls.summary}\n"), code
        assert re.search(r"^Default: (on|off) · Severity: (error|warning|info) · Fix is ", text, re.M), code
        for section in ("## What it does", "## Why is this bad?", "## Example"):
            assert f"\n{section}\n" in text, (code, section)
        assert text.count("```") % 2 == 0, f"{code}: unbalanced code fence"
        assert text.endswith("\n") and not text.endswith("\n\n"), code


def _table_rows(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| Code ")]


def test_index_links_every_page_and_matches_the_readme_table():
    index = (RULE_DOCS / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\[([A-Z]+[0-9]+)\]\(([^)]+)\)", index)
    assert [c for c, _ in links] == list(builtin())
    for code, target in links:
        assert target == f"{code}.md" and (RULE_DOCS / target).is_file()
    # the same rows as the README table (both come from tidymark.docs.rule_rows)
    unlinked = [re.sub(r"^\| \[([A-Z]+[0-9]+)\]\([^)]*\)", r"| \1", ln) for ln in _table_rows(index)]
    readme = README.read_text(encoding="utf-8").split("<!-- rules-table:start -->", 1)[1]
    readme = readme.split("<!-- rules-table:end -->", 1)[0]
    readme_rows = _table_rows(readme)
    assert unlinked and all(row in readme_rows for row in unlinked)
    assert unlinked == _table_rows(docs.markdown_table(docs.rule_rows(builtin())))


def test_readme_links_the_rule_docs():
    assert "docs/rules/" in README.read_text(encoding="utf-8")


def _generator(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tidymark.docs", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def test_generator_writes_checks_and_prunes(tmp_path):
    out = tmp_path / "rules"
    proc = _generator(str(out))
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in out.glob("*.md"))
    assert written == sorted(p.name for p in RULE_DOCS.glob("*.md"))
    for name in written:
        assert (out / name).read_bytes() == (RULE_DOCS / name).read_bytes(), name
    assert _generator("--check", str(out)).returncode == 0

    # a hand edit, a page of a rule that no longer exists, a missing page: all stale
    page = out / "FM002.md"
    page.write_text(page.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    (out / "XX999.md").write_text("# gone\n", encoding="utf-8")
    (out / "PB001.md").unlink()
    proc = _generator("--check", str(out))
    assert proc.returncode == 1
    for name in ("FM002.md", "XX999.md", "PB001.md"):
        assert f"{name}: stale" in proc.stdout, proc.stdout
    assert "python -m tidymark.docs" in proc.stdout
    assert "hand edit" in page.read_text(encoding="utf-8")  # --check writes nothing

    proc = _generator(str(out))
    assert proc.returncode == 0 and "3 updated" in proc.stdout, proc.stdout
    assert not (out / "XX999.md").exists() and (out / "PB001.md").is_file()
    assert _generator("--check", str(out)).returncode == 0


def test_generator_leaves_unchanged_pages_alone(tmp_path):
    out = tmp_path / "rules"
    shutil.copytree(RULE_DOCS, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.md")}
    proc = _generator(str(out))
    assert proc.returncode == 0 and "0 updated" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.md")} == before


@pytest.mark.parametrize("page", sorted(p.name for p in RULE_DOCS.glob("*.md")))
def test_pages_use_lf_and_utf8(page):
    data = (RULE_DOCS / page).read_bytes()
    assert b"\r" not in data
    data.decode("utf-8")
