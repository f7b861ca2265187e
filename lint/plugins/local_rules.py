"""Local Python rule files: ``local-rules = ["./tidymark_rules/my_rule.py"]``.

Each file (or every ``*.py`` file of a listed folder) is loaded under a synthetic module
name derived from its absolute path (``tidymark_local_<hash>``), registered in
``sys.modules`` so dataclasses and pickling work, and never by putting its folder on
``sys.path`` (a folder on ``sys.path`` would shadow other modules of the same name).
The rules use the same Rule API as the built-ins.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from functools import lru_cache
from pathlib import Path

from tidymark.plugins.registry import rules_in_module


MAX_RULE_FILE_BYTES = 16 * 1024 * 1024


class LocalRuleError(Exception):
    pass


def module_name(path: Path) -> str:
    return "tidymark_local_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]


@lru_cache(maxsize=128)
def _load_file(path_str: str, mtime_ns: int):
    path = Path(path_str)
    name = module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LocalRuleError(f"{path}: cannot load as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any error in user code is reported, not raised
        sys.modules.pop(name, None)
        raise LocalRuleError(f"{path}: failed to load local rules: {type(exc).__name__}: {exc}") from None
    classes = tuple(rules_in_module(module))
    if not classes:
        raise LocalRuleError(f"{path}: defines no Rule subclass")
    return classes


def load(path: Path) -> tuple:
    """Rule classes of a local rule file, or of every ``*.py`` file in a folder."""
    path = path.resolve()
    if path.is_dir():
        out = []
        for f in sorted(path.glob("*.py")):
            if not f.name.startswith(("_", "test_")) and not f.name.endswith("_test.py"):
                out.extend(load(f))
        return tuple(out)
    from tidymark.run.config import check_input

    try:
        st = path.stat()
        check_input(st, MAX_RULE_FILE_BYTES)  # a FIFO would block the import, a device never end
    except OSError as exc:
        raise LocalRuleError(f"{path}: cannot read local rule file: {exc.strerror or exc}") from None
    return _load_file(str(path), st.st_mtime_ns)
