"""The pre-commit hooks, run for real with ``pre-commit try-repo``.

pre-commit installs the hook repository into its own virtualenv with pip; here pip is
offline (``--no-index``) and finds tidymark's dependencies and the build backend in a
wheelhouse packed from the running test environment, so nothing comes from the base
interpreter or the index.  The project is copied into a temporary git repository and
committed there, so the hook tests do not depend on the working tree's own git history; the
README's configuration is also run as written against a clone of this repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# each try-repo builds a fresh hook environment (about 10 s); three runs in all
pytestmark = pytest.mark.slow

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\nauthor: Someone\n---\nBody text.\n"
FIXED = "---\ntitle: Subsidies cannot buy loyalty\nauthor: Someone\n---\nBody text.\n"
FM002_MESSAGE = "`title` is a block scalar (`|`), so its value ends with a newline"


def _pre_commit() -> list[str]:
    # the pre-commit installed with the test extra, in this very environment
    return [sys.executable, "-m", "pre_commit"]


def _git(cwd: Path, *args: str, env: dict) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def env(tmp_path_factory, offline_pip) -> dict:
    if shutil.which("git") is None:
        pytest.fail("git is needed to run the pre-commit hooks")
    # HOME stays (pip's configuration and cache live there); git's user configuration is ignored
    e = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    e.update(PRE_COMMIT_HOME=str(tmp_path_factory.mktemp("pre-commit-home")),
             GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1",
             GIT_AUTHOR_NAME="tidymark tests", GIT_AUTHOR_EMAIL="tests@example.invalid",
             GIT_COMMITTER_NAME="tidymark tests", GIT_COMMITTER_EMAIL="tests@example.invalid",
             PRE_COMMIT_COLOR="never", NO_COLOR="1")
    e.pop("VIRTUAL_ENV", None)
    e = {k: v for k, v in e.items() if not k.startswith("PIP_")}
    e.update(offline_pip)
    return e


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, env) -> Path:
    """A committed copy of the project: what a user's `repo:` URL would point at."""
    repo = tmp_path_factory.mktemp("tidymark-repo")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("lint", "rules"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml"):
        shutil.copy2(ROOT / name, repo / name)
    _git(repo, "init", "-q", env=env)
    _git(repo, "add", "-A", env=env)
    _git(repo, "commit", "-q", "-m", "tidymark snapshot", env=env)
    return repo


@pytest.fixture
def user_repo(tmp_path, env) -> Path:
    repo = tmp_path / "notes"
    repo.mkdir()
    _git(repo, "init", "-q", env=env)
    (repo / "x.md").write_text(BAD, encoding="utf-8", newline="")
    (repo / "clean.md").write_text(FIXED, encoding="utf-8", newline="")
    _git(repo, "add", "x.md", "clean.md", env=env)
    return repo


def _try_repo(hook_repo: Path, user_repo: Path, hook: str, env: dict, *files: str) -> subprocess.CompletedProcess:
    return subprocess.run([*_pre_commit(), "try-repo", str(hook_repo), hook, "--files", *files],
                          cwd=user_repo, env=env, capture_output=True, text=True, timeout=900)


def test_check_hook_fails_on_a_bad_note_only(hook_repo, user_repo, env):
    proc = _try_repo(hook_repo, user_repo, "tidymark", env, "x.md", "clean.md")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "- hook id: tidymark" in out, out
    assert "x.md:2:1: FM002" in out, out
    assert FM002_MESSAGE in out, out
    assert "clean.md" not in out.split("- exit code:", 1)[-1], out
    assert (user_repo / "x.md").read_text(encoding="utf-8") == BAD, "the check hook must not write"


def test_fix_hook_rewrites_then_passes(hook_repo, user_repo, env):
    first = _try_repo(hook_repo, user_repo, "tidymark-fix", env, "x.md")
    out = first.stdout + first.stderr
    assert first.returncode == 1, out  # pre-commit fails a hook that modified files
    assert "files were modified by this hook" in out, out
    assert (user_repo / "x.md").read_text(encoding="utf-8") == FIXED
    second = _try_repo(hook_repo, user_repo, "tidymark-fix", env, "x.md")
    assert second.returncode == 0, second.stdout + second.stderr
    assert (user_repo / "x.md").read_text(encoding="utf-8") == FIXED


# -- the README's configuration, as written, against a clone of this repository ---------------------

REPO_URL = "https://github.com/OWNER/tidymark"  # the documented placeholder for this repository


def _readme_config() -> str:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "repos:" in b]
    assert len(blocks) == 1, "the README should have one .pre-commit-config.yaml snippet"
    return blocks[0]


def _config_rev(config: str) -> str:
    from ruamel.yaml import YAML

    (repo,) = YAML(typ="safe", pure=True).load(config)["repos"]
    return str(repo["rev"])


def _use_readme_config(user_repo: Path, repo_clone: Path, env: dict) -> str:
    config = _readme_config()
    assert f"repo: {REPO_URL}" in config
    (user_repo / ".pre-commit-config.yaml").write_text(config.replace(REPO_URL, str(repo_clone)), encoding="utf-8")
    _git(user_repo, "add", ".pre-commit-config.yaml", env=env)
    return config


def test_readme_configuration_runs_as_written_against_a_clone(user_repo, repo_clone, commit_in_clone, env):
    """The README's `.pre-commit-config.yaml`, its `rev:` unchanged, with `repo:` a clone of this repository."""
    config = _use_readme_config(user_repo, repo_clone, env)
    rev = _config_rev(config)
    assert commit_in_clone(rev) == rev, f"pin a full commit SHA, not {rev!r}"
    proc = subprocess.run([*_pre_commit(), "run", "--files", "x.md", "clean.md"], cwd=user_repo, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "x.md:2:1: FM002" in out and "mutable reference" not in out, out
    assert (user_repo / "x.md").read_text(encoding="utf-8") == BAD


def test_autoupdate_moves_the_pin_to_the_newest_commit(user_repo, repo_clone, env):
    """How the README says a user updates the pin: `pre-commit autoupdate`, then the hook still runs."""
    _use_readme_config(user_repo, repo_clone, env)
    proc = subprocess.run([*_pre_commit(), "autoupdate"], cwd=user_repo, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rev = _config_rev((user_repo / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    head = subprocess.run(["git", "-C", str(repo_clone), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    resolved = subprocess.run(["git", "-C", str(repo_clone), "rev-parse", f"{rev}^{{commit}}"], capture_output=True,
                              text=True, check=True).stdout.strip()
    assert resolved == head, (rev, head)
    _git(user_repo, "add", ".pre-commit-config.yaml", env=env)
    run = subprocess.run([*_pre_commit(), "run", "--files", "x.md"], cwd=user_repo, env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 1 and "x.md:2:1: FM002" in run.stdout + run.stderr, run.stdout + run.stderr
