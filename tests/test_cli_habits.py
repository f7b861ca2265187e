"""Terminal and command-line habits: `check --fix`, `fix --diff` exit codes, a closed pipe,
colour, the progress bar on a terminal, `tidymark config` as JSON, configuration error
messages, option checks and singular/plural in messages."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tidymark.cli import main, use_color
from tidymark.config import Settings, apply_table

BAD = "---\ntitle: |\n  Subsidies cannot buy loyalty\n---\nBody text.\n"
BAD_FIXED = "---\ntitle: Subsidies cannot buy loyalty\n---\nBody text.\n"
DRAFT = "---\ntitle: Release notes\ndraft: true\n---\nBody text.\n"  # PB001: an unsafe fix only
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def proj(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for var in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def env_without_colour(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(extra)
    return env


# -- `check --fix` is `fix` -----------------------------------------------------------------------------

def test_check_fix_fixes_like_fix(proj, capsys):
    a, b = write(proj / "a.md", BAD), write(proj / "b.md", DRAFT)
    code, out, err = run(capsys, "check", "--fix", "--no-cache", ".")
    assert code == 1, err  # b.md's draft flag remains (its fix is unsafe)
    assert a.read_text(encoding="utf-8") == BAD_FIXED and b.read_text(encoding="utf-8") == DRAFT
    assert "Fixed 1 problem in 1 file" in out
    code, out, err = run(capsys, "check", "--fix", "--unsafe-fixes", "--no-cache", ".")
    assert code == 0, out + err
    assert "draft" not in b.read_text(encoding="utf-8")


def test_check_diff_shows_the_fix_and_writes_nothing(proj, capsys):
    a = write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "check", "--diff", "--no-cache", "a.md")
    assert code == 1 and "-title: |" in out and "+title: Subsidies cannot buy loyalty" in out
    code, out, _ = run(capsys, "check", "--fix", "--diff", "--no-cache", "a.md")
    assert code == 1 and "+title: Subsidies cannot buy loyalty" in out
    assert a.read_text(encoding="utf-8") == BAD


def test_check_without_fix_refuses_fix_only_options(proj, capsys):
    a = write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "--show-fixes", "a.md")
    assert code == 2 and "--show-fixes" in err and "check --fix" in err
    code, _, _ = run(capsys, "check", "--fix", "--no-fix", "a.md")
    assert code == 1 and a.read_text(encoding="utf-8") == BAD  # --no-fix wins when given last


# -- `fix --diff` exit codes ---------------------------------------------------------------------------

def test_fix_diff_exits_0_when_there_is_nothing_to_change(proj, capsys):
    write(proj / "b.md", DRAFT)  # a problem whose only fix is unsafe: no diff without --unsafe-fixes
    code, out, err = run(capsys, "fix", "--diff", "--no-cache", ".")
    assert (code, out) == (0, ""), err
    assert "1 problem remaining" in err
    code, out, _ = run(capsys, "fix", "--diff", "--unsafe-fixes", "--no-cache", ".")
    assert code == 1 and "-draft: true" in out


def test_fix_diff_exits_1_when_it_shows_a_diff_with_unfixable_problems_left(proj, capsys):
    write(proj / "a.md", BAD)
    write(proj / "b.md", DRAFT)
    code, out, _ = run(capsys, "fix", "--diff", "--no-cache", ".")
    assert code == 1 and "+title: Subsidies cannot buy loyalty" in out


# -- a closed pipe -------------------------------------------------------------------------------------

PROXY = "https://proxy-prod.omnivore-image-cache.app/0x0,sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"


@pytest.mark.parametrize("command", [["check"], ["fix", "--diff"]])
def test_a_closed_pipe_ends_the_run_quietly(proj, command):
    # far more output than a pipe holds: the writer meets the closed pipe
    images = "\n\n".join(f"![]({PROXY}/https://img.example.org/{i}.png)" for i in range(400))
    for n in range(6):
        write(proj / f"n{n}.md", f"---\ntitle: Note {n}\n---\n{images}\n")
    proc = subprocess.Popen([sys.executable, "-m", "tidymark", *command, "--no-cache", "-j", "1", "."],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_without_colour())
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert first
    assert code == 141, err  # 128 + SIGPIPE, as for a program ended by the closed pipe
    assert err == ""  # no traceback, no "Exception ignored" at exit


def test_a_closed_pipe_from_main_returns_the_sigpipe_status(proj, monkeypatch):
    write(proj / "a.md", BAD)

    class Closed:
        def write(self, s):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stdout", Closed())
    assert main(["check", "--no-cache", "a.md"]) == 141


# -- colour --------------------------------------------------------------------------------------------

class _Tty:
    def isatty(self):
        return True


class _Pipe:
    def isatty(self):
        return False


@pytest.mark.parametrize("choice, env, stream, expected", [
    ("auto", {}, _Tty(), True),
    ("auto", {}, _Pipe(), False),
    ("auto", {"NO_COLOR": "1"}, _Tty(), False),
    ("auto", {"NO_COLOR": ""}, _Tty(), True),          # an empty NO_COLOR is not set
    ("auto", {"FORCE_COLOR": "1"}, _Pipe(), True),
    ("auto", {"FORCE_COLOR": ""}, _Pipe(), False),
    ("auto", {"NO_COLOR": "1", "FORCE_COLOR": "1"}, _Tty(), False),
    ("auto", {"TERM": "dumb"}, _Tty(), False),
    ("always", {"NO_COLOR": "1"}, _Pipe(), True),      # the command line beats the environment
    ("never", {"FORCE_COLOR": "1"}, _Tty(), False),
])
def test_colour_choice(monkeypatch, choice, env, stream, expected):
    for var in ("NO_COLOR", "FORCE_COLOR", "TERM"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert use_color(choice, stream) is expected


def test_colour_option_and_environment_end_to_end(proj, capsys, monkeypatch):
    write(proj / "a.md", BAD)
    _, out, _ = run(capsys, "check", "--no-cache", "a.md")
    assert not ANSI.search(out)  # not a terminal
    _, out, _ = run(capsys, "check", "--no-cache", "--color", "always", "a.md")
    assert ANSI.search(out) and ANSI.sub("", out).startswith("a.md:2:1: FM002")
    _, out, _ = run(capsys, "fix", "--diff", "--no-cache", "--color", "always", "a.md")
    assert "\x1b[32m+title: Subsidies cannot buy loyalty\x1b[0m" in out
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, out, _ = run(capsys, "check", "--no-cache", "a.md")
    assert ANSI.search(out)
    _, out, _ = run(capsys, "check", "--no-cache", "--color", "never", "a.md")
    assert not ANSI.search(out)
    _, out, _ = run(capsys, "check", "--no-cache", "--color", "always", "--output-format", "json", "a.md")
    assert not ANSI.search(out) and json.loads(out)  # only the text format is ever coloured


# -- the progress bar on a terminal --------------------------------------------------------------------

def _run_in_pty(argv: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    pty = pytest.importorskip("pty")
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a new pty is 0 columns wide
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed (Linux raises EIO)
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.time_limit(180)
def test_diagnostics_are_not_glued_to_the_progress_bar_on_a_terminal(proj):
    for n in range(60):
        write(proj / f"n{n:02d}.md", BAD)
    env = env_without_colour(TQDM_MININTERVAL="0", TQDM_MINITERS="1", COLUMNS="100", TERM="xterm")
    # (AD005 left out: 60 identical notes would teach it their lines, a second problem each)
    code, screen = _run_in_pty([sys.executable, "-m", "tidymark", "check", "--progress", "--color", "never",
                                "--no-cache", "-j", "1", "--ignore", "AD005", "."], proj, env)
    assert code == 1, screen
    assert "/60 [" in screen  # the bar was drawn
    visible = []
    for line in screen.replace("\r\n", "\n").split("\n"):
        visible.append(line.split("\r")[-1])  # what a carriage return leaves on the terminal's line
    diagnostic_lines = [l for l in visible if "FM002" in l]
    assert len(diagnostic_lines) == 60
    for line in diagnostic_lines:
        assert re.match(r"n\d\d\.md:2:1: FM002 ", line), repr(line)
    # the bar is cleared before the summary, which is left alone on its line
    assert "Found 60 problems." in visible


# -- `tidymark config` ---------------------------------------------------------------------------------

def test_config_prints_valid_json_with_the_configuration_file_keys(proj, capsys):
    write(proj / ".tidymark.yaml",
          "select: [FM, PB]\nextend-select: [DM002]\nper-file-ignores:\n  'drafts/**': [PB001]\n"
          "fail-on: warning\nmax-removal: 0.5\ncache-dir: .cache\nrules:\n  draft-flag:\n    draft-keys: [draft, wip]\n")
    code, out, err = run(capsys, "config", ".")
    assert code == 0, err
    data = json.loads(out)  # the whole output is JSON: no comment line before it
    assert data["source"] == str((proj / ".tidymark.yaml").resolve())
    settings = data["settings"]
    assert not any("_" in k for k in settings)
    assert settings["select"] == ["FM", "PB"] and settings["extend-select"] == ["DM002"]
    assert settings["per-file-ignores"] == {"drafts/**": ["PB001"]} and settings["fail-on"] == "warning"
    assert "PB001" in data["rules-selected"] and "DM002" in data["rules-selected"]
    # the settings read back, as a configuration file, to the same configuration
    base = Settings(root=proj.resolve())
    again = apply_table(base, settings, "printed")
    from tidymark.config import load_file

    original = load_file(proj / ".tidymark.yaml")
    assert again == type(original)(**{**original.__dict__, "source": None})


def test_config_without_a_configuration_file_has_a_null_source(tmp_path, monkeypatch, capsys):
    from tidymark.config import CONFIG_NAMES

    above = [d / n for d in (tmp_path, *tmp_path.parents) for n in (*CONFIG_NAMES, "pyproject.toml")]
    if any(p.is_file() for p in above):
        pytest.skip("a configuration file above the temporary folder applies")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "config", ".")
    data = json.loads(out)
    assert code == 0 and data["source"] is None and data["settings"]["fail-on"] == "info"
    assert "select" not in data["settings"]  # unset: the default selection, not an empty list


# -- configuration errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("key, suggestion", [("selct", "select"), ("ignroe", "ignore"),
                                             ("unsafe_fixes", "unsafe-fixes"), ("extnd", "extend")])
def test_unknown_key_suggests_the_closest(proj, capsys, key, suggestion):
    write(proj / ".tidymark.yaml", f"{key}: [FM]\n")
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "a.md")
    assert code == 2 and f"unknown key `{key}` (did you mean `{suggestion}`?)" in err


def test_unknown_code_on_the_command_line_is_blamed_on_the_command_line(proj, capsys):
    (proj / ".tidymark.yaml").unlink()
    write(proj / "pyproject.toml", "[tool.tidymark]\nignore = [\"AD004\"]\n")
    write(proj / "a.md", BAD)
    for option in ("--select", "--ignore", "--extend-select"):
        code, _, err = run(capsys, "check", option, "FM02X", "a.md")
        assert code == 2
        assert "pyproject.toml" not in err and f"{option}: unknown rule or prefix 'FM02X'" in err
        assert "command line" in err and "FM002" in err  # with the closest code
    # an unknown code in the configuration file is still that file's
    write(proj / "pyproject.toml", "[tool.tidymark]\nignore = [\"AD999\"]\n")
    code, _, err = run(capsys, "check", "--select", "FM", "a.md")
    assert code == 2 and "pyproject.toml" in err and "AD999" in err


def test_yaml_error_says_where_and_what_without_parser_internals(proj, capsys):
    write(proj / ".tidymark.yaml", "select: [FM, PB\nignore: [AD004]\n")
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "a.md")
    assert code == 2
    assert ".tidymark.yaml: invalid YAML: line 2, column 7: expected ',' or ']'" in err
    assert "<unicode string>" not in err and "\n  in" not in err and len(err.strip().splitlines()) == 1


def test_extend_of_a_missing_file_names_the_file_that_points_to_it(proj, capsys):
    sub = proj / "sub"
    write(sub / ".tidymark.yaml", "extend: ../nope.yaml\n")
    write(sub / "a.md", BAD)
    code, _, err = run(capsys, "check", "sub")
    assert code == 2
    assert f"{(sub / '.tidymark.yaml').resolve()}: `extend` names ../nope.yaml, which does not exist" in err


# -- option checks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, says", [
    (["-j", "0"], "--jobs: must be a positive number"),
    (["-j", "-1"], "--jobs: must be a positive number"),
    (["--jobs", "two"], "--jobs: must be a positive number"),
    (["--select", ""], "--select: an empty list selects no rule"),
    (["--select", " , "], "--select: an empty list selects no rule"),
])
def test_options_that_would_silently_misbehave_are_errors(proj, capsys, argv, says):
    write(proj / "a.md", BAD)
    with pytest.raises(SystemExit) as exc:
        main(["check", *argv, "a.md"])
    assert exc.value.code == 2 and says in capsys.readouterr().err


def test_cache_dir_whose_parent_is_missing_is_an_error_and_creates_nothing(proj, capsys):
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "--cache-dir", str(proj / "no" / "such" / "cache"), "a.md")
    assert code == 2 and f"the folder {proj / 'no' / 'such'} does not exist" in err
    assert not (proj / "no").exists()
    code, _, err = run(capsys, "fix", "--cache-dir", "no/cache", "a.md")  # the journal is kept there too
    assert code == 2 and "--cache-dir no/cache" in err and not (proj / "no").exists()
    code, _, err = run(capsys, "check", "--cache-dir", str(proj / "cache"), "a.md")  # only the last part is new
    assert code == 1 and (proj / "cache").is_dir()


def test_cache_dir_of_the_configuration_with_a_missing_parent_names_the_file(proj, capsys):
    write(proj / ".tidymark.yaml", "cache-dir: build/cache\n")
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "a.md")
    assert code == 2 and ".tidymark.yaml: `cache-dir`" in err and not (proj / "build").exists()
    assert run(capsys, "check", "--no-cache", "a.md")[0] == 1  # no cache: no folder needed


# -- singular and plural -------------------------------------------------------------------------------

def test_the_closing_line_of_a_fix_of_one_file_says_one_file(proj, capsys):
    write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "fix", "--no-cache", "--no-backup", "a.md")
    assert code == 0
    assert re.search(r"Scanned 1 file in [0-9.]+s: changed 1, fixed 1 \(FM002 1\), 0 left, 4 bytes removed\.", out)
    assert "1 files" not in out


def test_yaml_error_in_a_rule_pack_says_where_and_what(proj, capsys):
    write(proj / "pack.yaml", "prefix: XP\nrules:\n  - code: XP001\n    patterns: [a, b\n")
    write(proj / ".tidymark.yaml", "rule-packs: [pack.yaml]\n")
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "a.md")
    assert code == 2 and "pack.yaml: invalid YAML: line 5, column 1:" in err
    assert "<unicode string>" not in err and len(err.strip().splitlines()) == 1


def test_undo_of_one_file_says_one_file(proj, capsys):
    a = write(proj / "a.md", BAD)
    code, out, _ = run(capsys, "fix", "--no-cache", "a.md")
    assert code == 0 and "The originals of the changed file are kept in" in out
    code, out, _ = run(capsys, "undo", "--list")
    assert code == 0 and "    1 file   can be undone" in out and "1 files" not in out
    code, out, _ = run(capsys, "undo")
    assert code == 0 and "Restored 1 of 1 file of run" in out
    assert a.read_text(encoding="utf-8") == BAD


@pytest.mark.parametrize("config, says", [
    ("rules:\n  duplicate-key:\n    kep: last\n", "unknown option 'kep' for rule FM001 (duplicate-key) "
                                                  "(did you mean `keep`?)"),
    ("select: [FM02X]\n", "`select` names unknown rule or prefix 'FM02X' (did you mean `FM002`?)"),
    ("ignore: [draft-flg]\n", "`ignore` names unknown rule or prefix 'draft-flg' (did you mean `draft-flag`?)"),
])
def test_configuration_typos_get_the_closest_name(proj, capsys, config, says):
    write(proj / ".tidymark.yaml", config)
    write(proj / "a.md", BAD)
    code, _, err = run(capsys, "check", "a.md")
    assert code == 2 and ".tidymark.yaml" in err and says in err, err
