"""Repository hygiene: package names, the built wheel, the hook manifest, the README."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
HOOKS = ROOT / ".pre-commit-hooks.yaml"

# `lint/` and `rules/` are source folders only; the import package is `tidymark`.
BAD_IMPORT = re.compile(r"^\s*(from|import)\s+(lint|rules)\b", re.M)
SCANNED = ("lint", "rules", "tests", "benchmarks")

TABLE_START = "<!-- rules-table:start -->"
TABLE_END = "<!-- rules-table:end -->"


def _python_files():
    for folder in SCANNED:
        base = ROOT / folder
        if base.is_dir():
            yield from sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def test_bad_import_pattern_catches_what_it_should():
    for line in ("import lint", "from lint.engine import x", "  from rules import fm001", "import rules.fm000"):
        assert BAD_IMPORT.search(line), line
    for line in ("from tidymark.rules import x", "import tidymark", "from linter import x", "import rulesets",
                 "# import lint is wrong"):
        assert not BAD_IMPORT.search(line), line


def test_no_import_of_source_folder_names():
    files = list(_python_files())
    assert len(files) > 10, "the scan found almost nothing; is the layout still lint/ + rules/ + tests/?"
    offenders = []
    for path in files:
        for m in BAD_IMPORT.finditer(path.read_text(encoding="utf-8")):
            line = path.read_text(encoding="utf-8")[: m.start()].count("\n") + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}: {m.group(0).strip()}")
    assert not offenders, "import the package as `tidymark`, never `lint` / `rules`:\n" + "\n".join(offenders)


def _copy_project(dest: Path) -> Path:
    """The files a build needs, without caches or build folders left in the working tree."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("lint", "rules"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    return _copy_project(tmp_path_factory.mktemp("src"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, source_copy) -> Path:
    src = source_copy
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = list(out.glob("tidymark-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_names(wheel) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def test_wheel_installs_only_tidymark(wheel_names):
    tops = {n.split("/", 1)[0] for n in wheel_names}
    tops = {t for t in tops if not t.endswith(".dist-info")}
    assert tops == {"tidymark"}, f"the wheel installs more than the `tidymark` package: {sorted(tops)}"
    assert "tidymark/__init__.py" in wheel_names
    assert "tidymark/commands/main.py" in wheel_names
    assert "tidymark/rules/__init__.py" in wheel_names
    assert not any(n.startswith(("lint/", "rules/", "tests/", "seeds/")) for n in wheel_names)


def test_wheel_ships_rule_modules_cases_and_data(wheel_names, source_copy):
    names = set(wheel_names)
    rules_dir = source_copy / "rules"  # the snapshot the wheel was built from
    expected = [p.relative_to(rules_dir).as_posix() for p in rules_dir.rglob("*.py")]
    expected += [p.relative_to(rules_dir).as_posix() for p in rules_dir.rglob("*.cases.yml")]
    data = [p for p in (rules_dir / "data").rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json")]
    expected += [p.relative_to(rules_dir).as_posix() for p in data]
    assert any(e.endswith(".cases.yml") for e in expected)
    missing = sorted(e for e in expected if f"tidymark/rules/{e}" not in names)
    assert not missing, f"files of rules/ missing from the wheel: {missing}"
    lint_dir = source_copy / "lint"
    lint_missing = sorted(p.relative_to(lint_dir).as_posix() for p in lint_dir.rglob("*.py")
                          if "__pycache__" not in p.parts and f"tidymark/{p.relative_to(lint_dir).as_posix()}" not in names)
    assert not lint_missing, f"engine modules missing from the wheel: {lint_missing}"


def test_wheel_declares_console_script(wheel, wheel_names):
    ep = [n for n in wheel_names if n.endswith(".dist-info/entry_points.txt")]
    assert len(ep) == 1
    with zipfile.ZipFile(wheel) as z:
        text = z.read(ep[0]).decode()
    assert re.search(r"^tidymark\s*=\s*tidymark\.commands\.main:main\s*$", text, re.M), text


def _pre_commit() -> list[str]:
    # the pre-commit installed with the test extra, in this very environment
    return [sys.executable, "-m", "pre_commit"]


def test_hook_manifest_validates():
    proc = subprocess.run([*_pre_commit(), "validate-manifest", str(HOOKS)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _hooks() -> list[dict]:
    import yaml

    data = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data


def test_hook_manifest_has_check_and_fix_hooks():
    hooks = {h["id"]: h for h in _hooks()}
    assert set(hooks) == {"tidymark", "tidymark-fix"}
    assert hooks["tidymark"]["entry"] == "tidymark check"
    assert hooks["tidymark-fix"]["entry"] == "tidymark fix"
    for h in hooks.values():
        assert h["language"] == "python"
        assert h["types"] == ["markdown"]
        assert h["minimum_pre_commit_version"] == "3.2.0"
        assert h.get("description")


def test_every_hook_id_is_in_the_readme():
    readme = README.read_text(encoding="utf-8")
    for h in _hooks():
        assert re.search(rf"\bid:\s*{re.escape(h['id'])}\s*$", readme, re.M), \
            f"hook `{h['id']}` is not shown in the README's .pre-commit-config.yaml example"


def _readme_table() -> str:
    readme = README.read_text(encoding="utf-8")
    assert readme.count(TABLE_START) == 1 and readme.count(TABLE_END) == 1, "README rule-table markers"
    return readme.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip("\n") + "\n"


def test_readme_rule_table_is_current():
    proc = subprocess.run([sys.executable, "-m", "tidymark", "rules", "--format", "md"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    live = proc.stdout
    assert live.count("\n") >= 3
    assert _readme_table() == live, (
        "the README rule table is stale: paste the output of `tidymark rules --format md` between "
        f"{TABLE_START} and {TABLE_END}")


def test_readme_quick_start_has_the_two_commands():
    readme = README.read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:sh|bash|console)?\n(.*?)```", quick, re.S)
    commands = [line.strip() for b in blocks for line in b.splitlines() if line.strip()]
    assert commands == ['pip install -e ".[test]" && tidymark check seeds/', "pytest"], commands


def test_readme_documents_every_config_key():
    from tidymark.config import KEYS

    readme = README.read_text(encoding="utf-8")
    missing = [k for k in KEYS if f"`{k}`" not in readme]
    assert not missing, f"configuration keys missing from the README: {missing}"
    assert "`extend`" in readme


def test_readme_explains_every_dependency():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    readme = README.read_text(encoding="utf-8").lower()
    for dep in deps:
        name = re.split(r"[<>=!~\[; ]", dep, 1)[0].lower()
        assert name in readme, f"the README does not say why `{name}` is a dependency"


def test_json_contract_is_documented():
    from tidymark.diagnostics import Diagnostic, Edit, Fix
    from tidymark.output import diagnostic_json
    from tidymark.source import LineIndex, Span

    doc = (ROOT / "docs" / "json-output.md").read_text(encoding="utf-8")
    d = Diagnostic("FM002", "block-scalar-single-line", "m", Span(0, 1),
                   fix=Fix.safe("t", Edit.replace(0, 1, "x")), line=1, column=1, end_line=1, end_column=2)
    item = diagnostic_json("a.md", d, LineIndex("ab\n"))
    keys = set(item) | set(item["fix"]) | set(item["fix"]["edits"][0])
    missing = sorted(k for k in keys if f"`{k}`" not in doc)
    assert not missing, f"docs/json-output.md does not describe: {missing}"
    for label in ("safe", "unsafe", "display-only", "error", "warning", "info"):
        assert f'"{label}"' in doc, label
    assert "docs/json-output.md" in README.read_text(encoding="utf-8")


def test_ci_script_is_executable_and_refuses_empty_runs():
    script = ROOT / ".ci" / "run"
    assert script.is_file() and script.stat().st_mode & 0o111, ".ci/run must be executable"
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = script.read_text(encoding="utf-8")
    assert 'pip install -q -e ".[test]"' in text and "pytest" in text
    assert text.index('pip install -q -e ".[test]"') < text.index('pip install -q -e ".[ray,dask]"')
    assert re.search(r"^\s*5\)\s*fail", text, re.M), "pytest's exit code 5 (no tests) must fail CI"
