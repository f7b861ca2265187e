"""Every output consumes one stream of results: cross-document diagnostics (DM006
duplicate-article) are counted and placed like any other by every output format, the
summary line, --statistics, the HTML report and the baseline."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tidymark.cli import main


def _paras(seed: str, n: int = 4) -> str:
    return "\n\n".join(f"Paragraph {i} of the {seed} article has enough words to count as real text."
                       for i in range(n))


# Walk order: a/dup.md, a/plain.md, b/dup-copy.md, b/other.md, c/clean.md.  The two dup notes hold
# the same article (DM006 on both); a/dup.md also has a draft flag and a heading that repeats
# its title, so its DM006 sits between diagnostics of its own.
FILES = {
    "a/dup.md": f"---\ntitle: Same\nurl: https://example.org/same\ndraft: true\n---\n# Same\n\n{_paras('same')}\n",
    "a/plain.md": "---\ntitle: Plain\ndraft: true\n---\nBody.\n",
    "b/dup-copy.md": f"---\ntitle: Same again\nurl: https://www.example.org/same/\n---\n\n{_paras('same')}\n",
    "b/other.md": "---\ntitle: Other\n---\n# Other\n\nText.\n",
    "c/clean.md": "---\ntitle: Clean\n---\nNothing to say.\n",
}
WALK = sorted(FILES)


@pytest.fixture
def vault(tmp_path, monkeypatch) -> Path:
    for rel, text in FILES.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--no-cache"])
    out, err = capsys.readouterr()
    return code, out, err


def _expected(capsys) -> list[dict]:
    code, out, _ = run(capsys, "check", "--output-format", "json", ".")
    assert code == 1
    items = json.loads(out)
    dm006 = sorted(i["path"] for i in items if i["code"] == "DM006")
    assert dm006 == ["a/dup.md", "b/dup-copy.md"], items  # the folder has duplicates
    assert {i["code"] for i in items} >= {"DM006", "PB001", "DM002"}
    return items


class _ReportData(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside = False
        self.data = ""

    def handle_starttag(self, tag, attrs):
        self.inside = tag == "script" and dict(attrs).get("id") == "tidymark-data"

    def handle_endtag(self, tag):
        self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.data += data


def test_every_output_counts_the_same_problems(vault, capsys):
    items = _expected(capsys)
    n = len(items)
    per_code = {}
    for i in items:
        per_code[i["code"]] = per_code.get(i["code"], 0) + 1

    code, out, _ = run(capsys, "check", ".")
    lines = [ln for ln in out.splitlines() if re.match(r"^[abc]/[\w.-]+\.md:\d+:\d+: ", ln)]
    assert len(lines) == n and f"Found {n} problems." in out

    code, out, _ = run(capsys, "check", "--output-format", "concise", ".")
    assert len(out.splitlines()) == n

    code, out, _ = run(capsys, "check", "--output-format", "github", ".")
    assert len([ln for ln in out.splitlines() if ln.startswith("::")]) == n

    code, out, _ = run(capsys, "check", "--output-format", "gitlab", ".")
    assert len(json.loads(out)) == n

    code, out, _ = run(capsys, "check", "--output-format", "sarif", ".")
    results = json.loads(out)["runs"][0]["results"]
    assert len(results) == n
    assert sorted(r["ruleId"] for r in results) == sorted(i["code"] for i in items)

    code, out, _ = run(capsys, "check", "--output-format", "junit", ".")
    suite = ET.fromstring(out).find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == WALK  # one test case per file, DM006 included
    assert sum(len(c.findall("failure")) + len(c.findall("error")) for c in cases) == n
    assert int(suite.get("tests")) == len(WALK)
    assert int(suite.get("failures")) == sum(1 for c in cases if c.findall("failure"))

    code, out, _ = run(capsys, "check", "--quiet", "--statistics", ".")
    rows = re.findall(r"^\s*(\d+)\s+([A-Z]+\d+)\b", out, re.M)
    assert {c: int(k) for k, c in rows} == per_code and len(rows) == len(per_code)
    assert re.search(rf"^\s*{n}\s+problems? in total", out, re.M), out

    code, out, _ = run(capsys, "check", "--report", "report.html", ".")
    parser = _ReportData()
    parser.feed((vault / "report.html").read_text(encoding="utf-8"))
    data = json.loads(parser.data)
    assert data["problems_remaining"] == n
    assert data["per_rule"] == per_code


def test_text_output_is_in_path_order_with_cross_document_problems_in_place(vault, capsys):
    items = _expected(capsys)
    code, out, _ = run(capsys, "check", ".")
    paths = [ln.split(":", 1)[0] for ln in out.splitlines() if re.match(r"^[abc]/[\w.-]+\.md:\d+:\d+: ", ln)]
    assert paths == sorted(paths, key=WALK.index)
    dup = [ln for ln in out.splitlines() if ln.startswith("a/dup.md:")]
    positions = [tuple(map(int, ln.split(":")[1:3])) for ln in dup]
    assert positions == sorted(positions)
    assert any(" DM006 " in ln for ln in dup)
    # JSON is in the same order
    assert [(i["path"], i["line"], i["column"]) for i in items] == [
        (ln.split(":")[0], int(ln.split(":")[1]), int(ln.split(":")[2])) for ln in out.splitlines()
        if re.match(r"^[abc]/[\w.-]+\.md:\d+:\d+: ", ln)]


def test_baseline_records_cross_document_problems(vault, capsys):
    code, _, err = run(capsys, "check", "--write-baseline", "baseline.json", ".")
    assert code == 0
    recorded = json.loads((vault / "baseline.json").read_text(encoding="utf-8"))["problems"]
    assert {(p["path"], p["code"]) for p in recorded} >= {("a/dup.md", "DM006"), ("b/dup-copy.md", "DM006")}
    code, out, _ = run(capsys, "check", "--baseline", "baseline.json", ".")
    assert code == 0, out
    assert "All checks passed!" in out
    # a third copy is a new problem: only its diagnostics are reported
    (vault / "c" / "dup-third.md").write_text(FILES["b/dup-copy.md"], encoding="utf-8")
    code, out, _ = run(capsys, "check", "--baseline", "baseline.json", ".")
    assert code == 1
    reported = [ln for ln in out.splitlines() if re.match(r"^[abc]/[\w.-]+\.md:\d+:\d+: ", ln)]
    # (three identical notes of one source now also teach AD005 their lines: new problems too)
    assert reported and all(ln.startswith("c/dup-third.md:") or " DM006 " in ln or " AD005 " in ln
                            for ln in reported), reported


def test_severity_overrides_reach_cross_document_problems(vault, capsys):
    (vault / ".tidymark.yaml").write_text("severity:\n  DM006: info\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", "--output-format", "json", "--select", "DM006", ".")
    items = json.loads(out)
    assert items and {i["severity"] for i in items} == {"info"}
    code, out, _ = run(capsys, "check", "--select", "DM006", "--fail-on", "warning", ".")
    assert code == 0, out


def test_statistics_prints_only_the_table(vault, capsys):
    items = _expected(capsys)
    code, out, err = run(capsys, "check", "--statistics", ".")
    assert code == 1
    lines = out.splitlines()
    assert lines[0].split() == ["Count", "Code", "Fix", "Rule"]
    assert not any(re.match(r"^[abc]/", ln) for ln in lines)  # no diagnostic lines
    assert not any(ln.startswith(("Found", "[*]")) for ln in lines)  # no summary: the total says it
    fixable = sum(1 for i in items if i["fix"] and i["fix"]["applicability"] == "safe")
    assert lines[-1].split() == [str(len(items)), "problems", "in", "total,", str(fixable), "fixable",
                                 "with", "`tidymark", "fix`"]
    body = lines[1:-1]
    assert len(body) == len({i["code"] for i in items})
    counts = [int(ln.split()[0]) for ln in body]
    assert counts == sorted(counts, reverse=True)
    # concise: the same table; a clean folder says so
    code, out2, _ = run(capsys, "check", "--statistics", "--output-format", "concise", ".")
    assert out2 == out
    code, out, _ = run(capsys, "check", "--statistics", "c")
    assert code == 0 and out == "No problems found.\n"


def test_merge_records_puts_cross_document_records_in_place():
    from tidymark.results import merge_records

    def rec(rid, line, col, code):
        return {"id": rid, "line": line, "column": col, "code": code}

    groups = [("x", [rec("x", 1, 1, "FM002"), rec("x", 5, 1, "PB001")]), ("y", []),
              ("z", [rec("z", 2, 3, "IM001")])]
    extra = {"shown-x": [rec("shown-x", 1, 1, "DM006"), rec("shown-x", 3, 1, "DM006")],
             "shown-y": [rec("shown-y", 1, 1, "DM006")], "gone": [rec("gone", 1, 1, "DM006")]}
    got = [(r["id"], r["line"], r["code"]) for r in merge_records(groups, extra, key=lambda rid: f"shown-{rid}")]
    assert got == [("x", 1, "FM002"), ("shown-x", 1, "DM006"), ("shown-x", 3, "DM006"), ("x", 5, "PB001"),
                   ("shown-y", 1, "DM006"), ("z", 2, "IM001"), ("gone", 1, "DM006")]


def test_fix_with_statistics_still_says_what_it_changed_and_how_to_undo(vault, capsys):
    code, out, _ = run(capsys, "fix", "--statistics", ".")
    lines = out.splitlines()
    assert any(ln.startswith("Scanned 5 files") and "changed" in ln for ln in lines), out
    assert any("`tidymark undo` restores them" in ln for ln in lines), out
    assert not any(re.match(r"^[abc]/[\w.-]+\.md:\d+:\d+: ", ln) for ln in lines)  # still no diagnostic lines
    head = next(i for i, ln in enumerate(lines) if ln.split() == ["Count", "Code", "Fix", "Rule"])
    assert re.match(r"^\s*\d+\s+problems? in total", lines[-1]) and head < len(lines) - 1
