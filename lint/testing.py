"""Test helpers for rule authors: the same harness tidymark's built-in rules use.

A rule's cases live in ``<module>.cases.yml`` beside it::

    rule: XX001
    cases:
      - name: passes_on_clean_text        # no expect/output: must report nothing
        input: "..."
      - name: finds_and_fixes
        input: "..."
        expect:                           # exact list, in order; keys optional
          - {line: 3, column: 1, message: "..."}
        output: "..."                     # the fixed text (safe fixes, or unsafe with `unsafe: true`)
        unsafe: false
        options: {some-option: 1}         # the rule's options for this case

In a plugin's test module::

    from tidymark.testing import cases_for, run_case
    import pytest

    @pytest.mark.parametrize("case", cases_for(MyRule), ids=lambda c: c.id)
    def test_cases(case):
        run_case(MyRule, case)

``run_case`` checks: the diagnostics; the fixed text; that the fixed text has no fixable
problem of the rule left; that fixing twice equals fixing once; and that every line
outside the fixes' edits is unchanged.
"""

from __future__ import annotations

import difflib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.core.engine import check_document, fix_document
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

REQUIRED_SECTIONS = ("## What it does", "## Why is this bad?", "## Example")


@dataclass
class Case:
    rule: str
    name: str
    input: str
    expect: list[dict] | None = None
    output: str | None = None
    unsafe: bool = False
    options: dict = field(default_factory=dict)
    source: str = ""

    @property
    def id(self) -> str:
        return f"{self.rule}-{self.name}"

    @property
    def failing(self) -> bool:
        return self.expect is not None or self.output is not None


CASE_KEYS = {"name", "input", "expect", "output", "unsafe", "options"}


def load_cases(path: str | Path) -> list[Case]:
    from ruamel.yaml import YAML

    path = Path(path)
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "rule" not in data or not isinstance(data.get("cases"), list):
        raise ValueError(f"{path}: a cases file needs `rule:` and a `cases:` list")
    out = []
    names = set()
    for i, raw in enumerate(data["cases"]):
        if not isinstance(raw, dict) or "name" not in raw or "input" not in raw:
            raise ValueError(f"{path}: case #{i + 1} needs `name` and `input`")
        unknown = set(raw) - CASE_KEYS
        if unknown:
            raise ValueError(f"{path}: case {raw['name']!r} has unknown keys {sorted(unknown)}")
        if raw["name"] in names:
            raise ValueError(f"{path}: case name {raw['name']!r} is used twice")
        names.add(raw["name"])
        out.append(Case(str(data["rule"]), str(raw["name"]), raw["input"], raw.get("expect"), raw.get("output"),
                        bool(raw.get("unsafe", False)), dict(raw.get("options") or {}), str(path)))
    return out


def cases_path(rule_cls: type[Rule]) -> Path:
    return Path(inspect.getfile(rule_cls)).with_suffix(".cases.yml")


def cases_for(rule_cls: type[Rule]) -> list[Case]:
    p = cases_path(rule_cls)
    return load_cases(p) if p.exists() else []


def _rule(rule_cls: type[Rule], options: dict) -> Rule:
    return rule_cls(rule_cls.parse_options(options) if rule_cls.Options is not None or options else None)


def _changed_lines_outside(before: str, after: str, allowed: list[Span]) -> list[str]:
    """Lines of ``before`` changed in ``after`` although no allowed span touches them."""
    a = before.splitlines(keepends=True)
    b = after.splitlines(keepends=True)
    starts = [0]
    for line in a:
        starts.append(starts[-1] + len(line))
    bad = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:  # pure insertion: must happen at an edit
            pos = starts[i1]
            if not any(s.start <= pos <= s.end for s in allowed):
                bad.append(f"insertion before line {i1 + 1}: {''.join(b[j1:j2])!r}")
            continue

        def covered(k: int) -> bool:
            return any(s.start < starts[k + 1] and starts[k] < max(s.end, s.start + 1) for s in allowed)

        if j1 == j2 and not all(covered(k) for k in range(i1, i2)):
            # a pure deletion slides over identical lines (a blank line before or after the
            # removed run): any equivalent position covered by the edits is the same change
            kept = a[:i1] + a[i2:]
            if any(0 <= i1 + d and i2 + d <= len(a) and a[:i1 + d] + a[i2 + d:] == kept
                   and all(covered(k) for k in range(i1 + d, i2 + d)) for d in (1, 2, 3, -1, -2, -3)):
                continue
        for k in range(i1, i2):
            ls, le = starts[k], starts[k + 1]
            if not any(s.start < le and ls < max(s.end, s.start + 1) for s in allowed):
                bad.append(f"line {k + 1}: {a[k]!r}")
    return bad


def _known_with(rule: Rule) -> tuple[tuple[str, str], ...]:
    """The rules a suppression comment may name in a case: the built-in ones and the rule tested."""
    from tidymark.plugins import registry

    return tuple({(code, i.cls.name) for code, i in registry.all_rules().items()} | {(rule.code, rule.name)})


def run_case(rule_cls: type[Rule], case: Case) -> None:
    """Assert every invariant of one case (raises AssertionError with a readable message)."""
    rule = _rule(rule_cls, case.options)
    threshold = Applicability.UNSAFE if case.unsafe else Applicability.SAFE
    doc = Document(case.input)
    known = _known_with(rule)
    diags = [d for d in check_document(doc, [rule], known=known)]
    internal = [d for d in diags if d.code != rule_cls.code]
    assert not internal, f"{case.id}: engine reported {[(d.code, d.message) for d in internal]}"
    if case.expect is not None:
        got = [{"line": d.line, "column": d.column, "end_line": d.end_line, "end_column": d.end_column,
                "message": d.message, "code": d.code} for d in diags]
        assert len(got) == len(case.expect), f"{case.id}: expected {len(case.expect)} diagnostics, got {got}"
        for want, have in zip(case.expect, got):
            for k, v in want.items():
                assert have.get(k) == v, f"{case.id}: diagnostic {k} expected {v!r}, got {have.get(k)!r} ({have})"
    elif case.failing:
        assert diags, f"{case.id}: expected diagnostics, got none"
    else:
        assert not diags, f"{case.id}: expected no diagnostics, got {[(d.line, d.column, d.message) for d in diags]}"

    if rule_cls.fix_availability is FixAvailability.NONE:
        assert all(d.fix is None for d in diags), f"{case.id}: rule declares no fix but offered one"
    if rule_cls.fix_availability is FixAvailability.ALWAYS:
        assert all(d.fix is not None for d in diags), f"{case.id}: rule declares a fix always but one is missing"
    for d in diags:
        if d.fix is not None:
            want = rule_cls.fix_safety.split("/")
            assert d.fix.applicability.label in want, \
                f"{case.id}: fix is {d.fix.applicability.label} but the rule declares {rule_cls.fix_safety}"

    out = fix_document(doc, [rule], threshold, known=known)
    assert not out.problems, f"{case.id}: {[p.message for p in out.problems]}"
    expected = case.output if case.output is not None else case.input
    assert out.text == expected, (f"{case.id}: fixed text differs\n--- expected\n{expected}\n--- got\n{out.text}")
    # no fixable problem of this rule left
    left = [d for d in check_document(Document(out.text), [rule], known=known)
            if d.fix is not None and d.fix.applicability >= threshold]
    assert not left, f"{case.id}: fixable problems remain after fixing: {[(d.line, d.message) for d in left]}"
    # idempotent
    again = fix_document(Document(out.text), [rule], threshold, known=known)
    assert again.text == out.text, f"{case.id}: fixing twice differs from fixing once"
    # nothing outside the fixes' edits changed
    bad = _changed_lines_outside(case.input, out.text, out.original_spans())
    assert not bad, f"{case.id}: text outside the fix edits changed: {bad}"


def docstring_examples(rule_cls: type[Rule]) -> tuple[str | None, str | None]:
    """The first fenced block under ``## Example`` and the one after ``Use instead:``."""
    doc = rule_cls.documentation()
    m = re.search(r"^## Example\s*\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    if not m:
        return None, None
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", m.group(1), re.M | re.S)
    bad = blocks[0] if blocks else None
    good = None
    if "Use instead:" in m.group(1):
        tail = m.group(1).split("Use instead:", 1)[1]
        gb = re.findall(r"^```[a-z]*\n(.*?)^```", tail, re.M | re.S)
        good = gb[0] if gb else None
    return bad, good


def assert_rule_contract(rule_cls: type[Rule]) -> None:
    """Metadata and documentation checks every rule must pass."""
    doc = rule_cls.documentation()
    for section in REQUIRED_SECTIONS:
        assert section in doc, f"{rule_cls.code}: docstring lacks `{section}`"
    if rule_cls.fix_availability is not FixAvailability.NONE or "## Fix safety" in doc:
        assert "## Fix safety" in doc, f"{rule_cls.code}: fixable rule lacks `## Fix safety`"
    opts = rule_cls.Options
    if opts is not None:
        import dataclasses

        assert "## Options" in doc, f"{rule_cls.code}: rule with options lacks `## Options`"
        section = doc.split("## Options", 1)[1]
        for f in dataclasses.fields(opts):
            assert f"`{f.name.replace('_', '-')}`" in section, \
                f"{rule_cls.code}: option `{f.name.replace('_', '-')}` is not documented"
    bad, good = docstring_examples(rule_cls)
    assert bad is not None, f"{rule_cls.code}: `## Example` needs a fenced example"
    from tidymark.core.project import ProjectRule

    if issubclass(rule_cls, ProjectRule):
        return  # cross-document rules report over a folder, not on one example
    rule = rule_cls()
    assert any(d.code == rule_cls.code for d in check_document(Document(bad), [rule])), \
        f"{rule_cls.code}: the docstring example does not trigger the rule"
    if good is not None:
        found = [d for d in check_document(Document(good), [rule]) if d.code == rule_cls.code]
        assert not found, f"{rule_cls.code}: the `Use instead` example triggers the rule: {found}"
