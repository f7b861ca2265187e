"""The VS Code extension (editors/vscode) builds: ``npm ci && npm run compile``.

Skipped where node/npm are missing; failing instead when ``CI=true`` (CI must have them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "editors" / "vscode"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed in CI to build editors/vscode")
        pytest.skip("node/npm not installed")
    return npm


def test_extension_starts_the_server_and_names_its_command():
    from tidymark.server import FIX_ALL_COMMAND

    pkg = json.loads((EXT / "package.json").read_text(encoding="utf-8"))
    source = (EXT / "src" / "extension.ts").read_text(encoding="utf-8")
    assert "onLanguage:markdown" in pkg["activationEvents"]
    assert "vscode-languageclient" in pkg["dependencies"]
    assert 'args: ["server"]' in source and f'"{FIX_ALL_COMMAND}"' in source
    lock = json.loads((EXT / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"][""]["dependencies"] == pkg["dependencies"]


def test_extension_compiles(tmp_path):
    npm = _npm()
    work = tmp_path / "vscode"
    shutil.copytree(EXT, work, ignore=shutil.ignore_patterns("node_modules", "out"))
    for step in (["ci", "--no-audit", "--no-fund"], ["run", "compile"]):
        proc = subprocess.run([npm, *step], cwd=work, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"npm {' '.join(step)} failed:\n{proc.stdout}\n{proc.stderr}"
    js = (work / "out" / "extension.js").read_text(encoding="utf-8")
    assert "exports.activate" in js and "tidymark.fixAll" in js
