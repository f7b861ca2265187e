"""A fix run ended by a signal to its main process alone: SIGTERM (what a parent's
``proc.terminate()`` sends) ends it as Ctrl-C does; SIGKILL leaves nothing running.

Worker processes must end with the run's process and write nothing after it: they had gone on
fixing files under PID 1 and then idled forever holding the output pipes, so whatever read the
output waited forever.  Each test runs a real ``tidymark fix`` over 300 notes in a subprocess
and cleans up every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(signal, "SIGKILL"),
                                reason="needs Linux /proc and POSIX signals")

PARAGRAPH = "A paragraph of the article with enough words to take the rules some time to read. " * 12
N = 300


def _folder(root: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    (root / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    body = "\n\n".join(f"{i}. {PARAGRAPH}" for i in range(60))
    files, fixed = {}, {}
    for i in range(N):
        data = f"---\ntitle: |\n  Note {i}\n---\n# Heading {i}\n\n{body}\n".encode()
        (root / f"n{i:03d}.md").write_bytes(data)
        files[f"n{i:03d}.md"] = data
        fixed[f"n{i:03d}.md"] = data.replace(b"title: |\n  Note", b"title: Note")
    return files, fixed


def _children(pid: int) -> set[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return {int(x) for x in fh.read().split()}
    except OSError:
        return set()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _state(root: Path, files, fixed) -> dict[str, bool]:
    """Which files are fixed; every file must be the old or the new version."""
    out = {}
    for name, data in files.items():
        now = (root / name).read_bytes()
        assert now in (data, fixed[name]), f"{name} is neither the old nor the new version"
        out[name] = now == fixed[name]
    return out


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tidymark-tmp")]


@contextlib.contextmanager
def _fix_run(root: Path, jobs: str):
    """A ``tidymark fix`` subprocess in its own session, stopped when a few files are fixed;
    yields (process, the worker pids seen); every process of it is killed on the way out."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "tidymark", "fix", "--no-cache", "-j", jobs, "."], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    workers: set[int] = set()
    try:
        jr = root / ".tidymark_cache" / "journal"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            workers |= _children(proc.pid)
            if len(list(jr.glob("*/files/*.json"))) >= 3 and (jobs == "1" or len(workers) >= int(jobs)):
                break
            time.sleep(0.02)
        workers |= _children(proc.pid)
        assert proc.poll() is None, "the run ended before it could be stopped"
        yield proc, workers
    finally:
        for pid in {proc.pid} | workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=30)


def _wait_gone(pids: set[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


@pytest.mark.parametrize("jobs,group", [("2", False), ("1", False), ("2", True)],
                         ids=["pool", "serial", "pool-process-group"])
def test_sigterm_ends_a_fix_run_as_ctrl_c_does(tmp_path, jobs, group):
    """``group``: SIGTERM to every process of the run (as `timeout` or a service manager sends)."""
    files, fixed = _folder(tmp_path)
    with _fix_run(tmp_path, jobs) as (proc, workers):
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()  # the main process alone
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 143, (out, err)
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        state = _state(tmp_path, files, fixed)
        changed = sum(state.values())
        assert 0 < changed < N
        assert f"terminated (SIGTERM) after " in err and f"of {N} files ({changed} changed; every file is" in err, err
        assert _temp_files(tmp_path) == []
        assert _wait_gone(workers, 30) == [], "worker processes outlived the run"
        [rundir] = [p for p in (tmp_path / ".tidymark_cache" / "journal").iterdir() if p.is_dir()]
        manifest = json.loads((rundir / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["complete"] is False  # the journal is marked as an interrupted run
        assert sorted(Path(f["path"]).name for f in manifest["files"]) == sorted(k for k, v in state.items() if v)
    undo = subprocess.run([sys.executable, "-m", "tidymark", "undo"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert all((tmp_path / name).read_bytes() == data for name, data in files.items())


def test_sigkill_of_the_main_process_ends_its_workers(tmp_path):
    files, fixed = _folder(tmp_path)
    with _fix_run(tmp_path, "2") as (proc, workers):
        assert workers, "no worker processes seen"
        os.kill(proc.pid, signal.SIGKILL)  # the main process alone
        # whatever reads the output gets its end: no worker holds the pipes any more
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert _wait_gone(workers, 30) == [], "worker processes outlived the killed run"
        state = _state(tmp_path, files, fixed)
        time.sleep(1.0)
        assert _state(tmp_path, files, fixed) == state  # nothing is written any more
        changed = sum(state.values())
        assert changed < N / 2, f"the workers went on fixing after the kill ({changed} of {N} fixed)"
        assert _temp_files(tmp_path) == []
        # every fixed file has its original in the (unfinished) journal: undo puts them back
        [rundir] = [p for p in (tmp_path / ".tidymark_cache" / "journal").iterdir() if p.is_dir()]
        assert len(list((rundir / "files").glob("*.json"))) == changed
    undo = subprocess.run([sys.executable, "-m", "tidymark", "undo"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert all((tmp_path / name).read_bytes() == data for name, data in files.items())


def test_sigterm_to_the_main_process_of_a_check_run(tmp_path):
    _folder(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    proc = subprocess.Popen([sys.executable, "-m", "tidymark", "check", "--no-cache", "-j", "2", "."],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            workers |= _children(proc.pid)
            time.sleep(0.02)
        time.sleep(0.3)
        proc.terminate()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 143 and "terminated (SIGTERM) after" in err, (out[-500:], err)
        assert "Traceback" not in err
        assert _wait_gone(workers, 30) == []
    finally:
        for pid in {proc.pid} | workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=30)
