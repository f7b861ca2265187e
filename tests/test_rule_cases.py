"""Every case of every built-in rule (``rules/*.cases.yml``), e.g. ``pytest -k FM002``."""

import pytest

from tidymark.registry import builtin_rules
from tidymark.testing import cases_for, run_case

CASES = [(info.cls, case) for info in builtin_rules() for case in cases_for(info.cls)]


@pytest.mark.parametrize(("rule_cls", "case"), CASES, ids=[c.id for _, c in CASES])
def test_case(rule_cls, case):
    run_case(rule_cls, case)
