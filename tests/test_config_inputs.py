"""Files read as configuration are read only when they are regular files of a bounded size.

`--config`, `extend:`, `--baseline`, `rule-packs:` and `local-rules:` entries, and a discovered
`.tidymark.yaml`: a FIFO would block the run forever and `/dev/zero` would fill the memory, so
each gets a clear error naming the file (exit 2).  The hostile cases run in a subprocess with a
memory limit and a time-out, so that a regression fails the test instead of the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tidymark.cli import main

NOTE = "---\ntitle: A note\n---\nBody text.\n"
DEV_ZERO = Path("/dev/zero")

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not DEV_ZERO.exists(),
                                reason="needs FIFOs and /dev/zero")


def _limit_memory() -> None:
    import resource

    limit = 1536 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def tidymark(cwd: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    try:
        return subprocess.run([sys.executable, "-m", "tidymark", *argv], cwd=cwd, capture_output=True, text=True,
                              timeout=90, env=env, preexec_fn=_limit_memory, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:  # (subprocess.run kills the child)
        pytest.fail(f"tidymark {' '.join(argv)} did not end within 90 s")


def _hostile(tmp_path: Path, kind: str, name: str) -> Path:
    """A FIFO named ``name``, or a symlink of that name to /dev/zero."""
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(DEV_ZERO)
    return path


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    (tmp_path / "note.md").write_text(NOTE, encoding="utf-8")
    return tmp_path


def _assert_refused(res: subprocess.CompletedProcess, name: str, what: str) -> None:
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr, res.stderr
    # a symlink may be named by its target (configuration files are named resolved)
    named = name in res.stderr or (what == "a character device" and str(DEV_ZERO) in res.stderr)
    assert named and f"not a regular file ({what})" in res.stderr, res.stderr


@pytest.mark.parametrize("kind,what", [("fifo", "a FIFO"), ("zero", "a character device")])
@pytest.mark.parametrize("setting", ["--config", "extend", "--baseline", "rule-packs", "local-rules",
                                     "discovered"])
def test_a_configuration_input_that_is_not_a_regular_file_is_refused(proj, kind, what, setting):
    name = {"local-rules": "hostile_rule.py", "--baseline": "baseline.json"}.get(setting, "hostile.yaml")
    if setting == "discovered":
        name = ".tidymark.yaml"
    _hostile(proj, kind, name)
    argv = ["check", "--no-cache", "note.md"]
    if setting in ("--config", "--baseline"):
        argv += [setting, name]
    elif setting == "extend":
        (proj / "tidymark.yml").write_text(f"extend: {name}\n", encoding="utf-8")
        argv += ["--config", "tidymark.yml"]
    elif setting in ("rule-packs", "local-rules"):
        (proj / "tidymark.yml").write_text(f"{setting}: [{name}]\n", encoding="utf-8")
        argv += ["--config", "tidymark.yml"]
    _assert_refused(tidymark(proj, *argv), name, what)


def test_dev_zero_named_directly(proj):
    """The cases of the report: `--config /dev/zero`, `extend: /dev/zero`, `--baseline /dev/zero`."""
    _assert_refused(tidymark(proj, "check", "--no-cache", "--config", "/dev/zero", "note.md"),
                    "/dev/zero", "a character device")
    _assert_refused(tidymark(proj, "check", "--no-cache", "--baseline", "/dev/zero", "note.md"),
                    "/dev/zero", "a character device")
    (proj / ".tidymark.yaml").write_text("extend: /dev/zero\n", encoding="utf-8")
    _assert_refused(tidymark(proj, "check", "--no-cache", "note.md"), "/dev/zero", "a character device")
    (proj / ".tidymark.yaml").write_text("rule-packs: [/dev/zero]\n", encoding="utf-8")
    _assert_refused(tidymark(proj, "check", "--no-cache", "note.md"), "/dev/zero", "a character device")


@pytest.mark.parametrize("setting", ["--config", "rule-packs", "--baseline"])
def test_a_configuration_input_over_the_size_limit_is_refused(proj, capsys, monkeypatch, setting):
    from tidymark import baseline, config

    monkeypatch.chdir(proj)
    monkeypatch.setattr(config, "MAX_CONFIG_BYTES", 4096)
    monkeypatch.setattr(baseline, "MAX_BASELINE_BYTES", 4096)
    big = proj / "big.yaml"
    with open(big, "wb") as fh:  # a sparse file: its size is what counts
        fh.truncate(8192)
    argv = ["check", "--no-cache", "note.md"]
    if setting == "rule-packs":
        (proj / "tidymark.yml").write_text("rule-packs: [big.yaml]\n", encoding="utf-8")
        argv += ["--config", "tidymark.yml"]
    else:
        argv += [setting, "big.yaml"]
    from tidymark import packs

    packs._load.cache_clear()
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "big.yaml" in err and "8,192 bytes, over the 4,096-byte limit" in err


def test_the_default_limits_leave_room_for_real_inputs():
    from tidymark import baseline, config

    assert config.MAX_CONFIG_BYTES >= 16 * 1024 * 1024
    assert baseline.MAX_BASELINE_BYTES >= 256 * 1024 * 1024


def test_a_rule_pack_that_is_not_utf8_is_a_clear_error(proj, capsys, monkeypatch):
    monkeypatch.chdir(proj)
    pack = "rules:\n  - code: XX001\n    name: caf\xe9-banner\n    kind: phrase\n    message: Caf\xe9\n" \
           "    patterns: [Caf\xe9]\n"
    (proj / "pack.yaml").write_bytes(pack.encode("latin-1"))
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XX]\n", encoding="utf-8")
    code = main(["check", "--no-cache", "note.md"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "pack.yaml: cannot read rule pack: not UTF-8 text (byte 0xe9 at offset" in err
    # and the commands that list rules say the same
    assert main(["rules"]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_regular_configuration_files_still_load(proj, capsys, monkeypatch):
    monkeypatch.chdir(proj)
    (proj / "base.yaml").write_text("ignore: [PB001]\n", encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("extend: base.yaml\nrule-packs: [pack.yaml]\nextend-select: [XX]\n",
                                         encoding="utf-8")
    (proj / "pack.yaml").write_text("rules:\n  - code: XX001\n    name: body-text\n    kind: phrase\n"
                                    "    message: Body text found\n    patterns: [Body text.]\n", encoding="utf-8")
    code = main(["check", "--no-cache", "--output-format", "concise", "note.md"])
    out = capsys.readouterr().out
    assert code == 1 and "XX001" in out
