"""Per-rule metadata, documentation and file-layout contracts."""

from pathlib import Path

import pytest

from tidymark.registry import builtin_rules
from tidymark.testing import assert_rule_contract, cases_for, cases_path

RULES = [info.cls for info in builtin_rules()]


def test_rules_found():
    assert len(RULES) >= 4


@pytest.mark.parametrize("rule_cls", RULES, ids=[r.code for r in RULES])
def test_contract(rule_cls):
    assert_rule_contract(rule_cls)


@pytest.mark.parametrize("rule_cls", RULES, ids=[r.code for r in RULES])
def test_module_named_after_code_and_name(rule_cls):
    module = rule_cls.__module__.rsplit(".", 1)[-1]
    assert module.startswith(rule_cls.code.lower() + "_"), module


@pytest.mark.parametrize("rule_cls", RULES, ids=[r.code for r in RULES])
def test_has_passing_and_failing_cases(rule_cls):
    from tidymark.project import ProjectRule

    if issubclass(rule_cls, ProjectRule):
        pytest.skip("cross-document rule: tested over folders in tests/test_project_rules.py")
    cases = cases_for(rule_cls)
    assert cases_path(rule_cls).exists()
    assert any(c.failing for c in cases), "needs a failing case"
    assert any(not c.failing for c in cases), "needs a passing case"
    assert all(c.rule == rule_cls.code for c in cases)


def test_codes_and_names_unique():
    codes = [r.code for r in RULES]
    names = [r.name for r in RULES]
    assert len(set(codes)) == len(codes)
    assert len(set(names)) == len(names)


def test_every_cases_file_belongs_to_a_rule():
    rules_dir = Path(__file__).resolve().parent.parent / "rules"
    modules = {r.__module__.rsplit(".", 1)[-1] for r in RULES}
    found = list(rules_dir.rglob("*.cases.yml"))
    assert len(found) >= 10, "the scan found almost no cases files; is the layout still rules/<family>/?"
    for p in found:
        assert p.name[: -len(".cases.yml")] in modules, f"orphan cases file {p.name}"
