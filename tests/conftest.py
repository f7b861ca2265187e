import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _no_toplevel_lint_or_rules():
    yield
    leaked = [m for m in ("lint", "rules") if m in sys.modules]
    assert not leaked, f"the repository folders were imported as top-level packages: {leaked}"
