#!/usr/bin/env python3
"""Time tidymark, its peers and the floors as whole processes over the same Markdown files.

    python benchmarks/bench.py CORPUS [--runs 3] [--peer-runs N] [--scale 1,2,5]
                               [--pathological] [--one-file] [--json FILE]

The Markdown files of CORPUS are copied into a scratch folder (the corpus itself is never
touched, and no configuration file it may hold reaches any tool, so every tool runs with
its default rules); every tool then runs in that folder on the same files:

- floors: a Python process that only reads the files, and one that also parses them with
  python-frontmatter + markdown-it-py (block-only parse, and full parse) — see floor.py;
- tidymark check with a cold cache (a fresh empty ``--cache-dir`` per run, else
  ``--no-cache``), tidymark check with a warm cache (filled by one untimed run), and
  tidymark fix --diff;
- peers with their default rules: rumdl, markdownlint-cli2, pymarkdown and mdformat --check.

For each: median wall time over the runs, peak RSS, files/s, MB/s, and the ratios
tidymark/tool.  ``--scale`` replicates the corpus k times and reports how time and memory
grow; ``--pathological`` generates documents built to trip quadratic code and times
tidymark on each with a timeout; ``--one-file`` times start-up on a single file.

A Markdown report goes to stdout, progress to stderr, and with ``--json`` the raw numbers to
a file.  A peer that is not installed is reported with its install command; ``--install-peers``
installs them into benchmarks/.peers/ (git-ignored).  A non-zero exit status from a linter
that found problems is not a failure.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
FLOOR = HERE / "floor.py"
PEERS_DIR = HERE / ".peers"
PEERS_VENV = PEERS_DIR / "venv"
PEERS_BIN = (PEERS_DIR / "node_modules" / ".bin", PEERS_VENV / "bin")

MARKDOWN_SUFFIXES = (".md", ".markdown")
SKIP_DIRS = {"node_modules", "__pycache__"}
MB = 1_000_000
MIB_KIB = 1024
SAMPLE_INTERVAL = 0.05  # seconds between samples of the process tree's memory

# Python packages of the peers installed by --install-peers into benchmarks/.peers/venv.
PIP_PEERS = ("pymarkdownlnt", "rumdl", "mdformat")
NPM_PEERS = ("markdownlint-cli2",)


# --------------------------------------------------------------------------- corpus


def markdown_files(root: Path) -> list[Path]:
    """Markdown files under ``root``, relative and sorted, found as tidymark finds them."""
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in names:
            if name.endswith(MARKDOWN_SUFFIXES) and not name.startswith("."):
                found.append((Path(folder) / name).relative_to(root))
    return sorted(found)


def replicate(src: Path, files: list[Path], dest: Path, copies: int, distinct: bool = True) -> tuple[int, int]:
    """Copy ``files`` (relative to ``src``) ``copies`` times into ``dest/r1`` … ``dest/rN``.

    Real copies, not links, so that no tool can ever write to the corpus through them.
    With ``distinct``, copies 2…N end with one more line, ``<!-- copy N -->``, so that
    no two files have the same bytes: a cache keyed by content would otherwise serve
    copies 2…N of a cold run from the entries copy 1 just wrote.
    Returns (number of files, total bytes) of the replicated tree.
    """
    count = total = 0
    for i in range(1, copies + 1):
        for rel in files:
            target = dest / f"r{i}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, target)
            if distinct and i > 1:
                with open(target, "r+b") as f:
                    data = f.read()
                    f.write((b"" if data.endswith(b"\n") or not data else b"\n") + b"\n<!-- copy %d -->\n" % i)
            count += 1
            total += target.stat().st_size
    return count, total


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file under ``root`` (to prove nothing wrote)."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            p = os.path.join(folder, name)
            st = os.stat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


@dataclass
class Target:
    """A folder of Markdown files every tool is run in, with its size."""

    root: Path       # the tools' working directory; they are given "." (or the file name)
    files: int
    bytes: int
    scratch: Path    # for cache folders and captured output
    scale: int = 1
    path_arg: str = "."

    def fresh_dir(self, name: str) -> Path:
        """A new empty folder in the scratch folder (e.g. a cold cache)."""
        return Path(tempfile.mkdtemp(prefix=name + "-", dir=self.scratch))


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One timed process."""

    wall: float
    cpu: float              # user + system seconds of the whole process tree
    max_rss_kib: int        # largest single process of the tree (kernel accounting)
    tree_rss_kib: int       # largest sampled sum over the whole process tree (0 if unknown)
    exit_code: int | None
    timed_out: bool = False
    busy_before: float | None = None   # share of the CPUs other processes used just before

    @property
    def peak_rss_kib(self) -> int:
        return max(self.max_rss_kib, self.tree_rss_kib)


_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
_HAVE_PROC = os.path.isdir("/proc/self")


def _session_rss_kib(session: int, leader_too: bool = True) -> int:
    """Sum of the resident memory of the processes of a session (Linux /proc; else 0)."""
    if not _HAVE_PROC:
        return 0
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        # fields[0] is field 3 of proc(5): session is field 6, rss (pages) field 24
        if len(fields) > 21 and int(fields[3]) == session and (leader_too or int(name) != session):
            total += int(fields[21]) * _PAGE_KIB
    return total


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat (None elsewhere)."""
    try:
        with open("/proc/stat") as f:
            values = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def machine_busy(window: float = 0.2) -> float | None:
    """Share of all CPUs busy over ``window`` seconds (this script sleeps meanwhile)."""
    a = _cpu_times()
    time.sleep(window)
    b = _cpu_times()
    if a is None or b is None or b[1] == a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def wait_until_quiet(max_wait: float, threshold: float = 0.2) -> float | None:
    """Wait (at most ``max_wait`` s) until other processes leave the CPUs nearly idle.

    Returns the last busy share measured.  On a shared machine, runs measured while
    something else is busy are slower; the share is recorded with every run.
    """
    deadline = time.monotonic() + max_wait
    busy = machine_busy()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(1.0)
    return busy


def _gnu_time() -> str | None:
    """GNU time, if present: it reports the peak RSS of the measured process itself.

    wait4(2) alone is not enough: a child forked from this Python process inherits its
    resident-set high-water mark across exec, so small tools would show this script's
    size instead of their own.
    """
    exe = "/usr/bin/time"
    if not os.access(exe, os.X_OK):
        return None
    try:
        probe = subprocess.run([exe, "-f", "%M", "-o", os.devnull, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return exe if probe.returncode == 0 else None


GNU_TIME = _gnu_time()


def _time_rss_kib(path: Path) -> int:
    """The ``%M`` number GNU time wrote (after any "Command exited ..." line), or 0."""
    with contextlib.suppress(OSError):
        for line in reversed(path.read_text(errors="replace").splitlines()):
            if line.strip().isdigit():
                return int(line.strip())
    return 0


def run_process(argv: list[str], *, cwd: Path, timeout: float, out: Path, err: Path,
                quiet_wait: float = 0) -> Run:
    """Run ``argv`` to completion (or kill it after ``timeout`` s) and measure it.

    The process gets its own session so that its whole tree can be sampled and, on a
    timeout, killed.  Wall time runs from just before the spawn to the reaping of the
    process.  ``max_rss_kib`` is the peak of the largest single process (from GNU time when
    present, else wait4(2)); ``tree_rss_kib`` the peak of the sampled sum over the tree.
    Before the run, waits up to ``quiet_wait`` s for the machine to be idle.
    """
    busy = wait_until_quiet(quiet_wait)
    rss_file = out.with_suffix(".rss")
    wrapped = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *argv] if GNU_TIME else argv
    with open(out, "wb") as fo, open(err, "wb") as fe:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, cwd=cwd, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe,
                                start_new_session=True)
        reaped: dict = {}

        def reap() -> None:
            _, status, usage = os.wait4(proc.pid, 0)
            reaped.update(end=time.perf_counter(), status=status, usage=usage)

        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        tree_peak = 0
        timed_out = False
        try:
            while waiter.is_alive():
                tree_peak = max(tree_peak, _session_rss_kib(proc.pid, leader_too=not GNU_TIME))
                waiter.join(SAMPLE_INTERVAL)
                if waiter.is_alive() and time.perf_counter() - start > timeout:
                    timed_out = True
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    waiter.join()
        except BaseException:  # interrupted: take the measured tree down too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
        proc.returncode = os.waitstatus_to_exitcode(reaped["status"])  # reaped here, not by Popen
    max_rss = _time_rss_kib(rss_file) if GNU_TIME else reaped["usage"].ru_maxrss
    usage = reaped["usage"]
    return Run(wall=reaped["end"] - start, cpu=usage.ru_utime + usage.ru_stime, max_rss_kib=max_rss,
               tree_rss_kib=tree_peak, exit_code=None if timed_out else proc.returncode, timed_out=timed_out,
               busy_before=busy)


def _tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    """A command to time.  ``command(target)`` builds the argv for one run."""

    key: str
    label: str
    kind: str                                   # "floor", "tidymark" or "peer"
    command: Callable[[Target], list[str]] | None
    missing: str = ""                           # why it cannot run, and how to fix that
    ok_codes: tuple[int, ...] = (0, 1)          # 1 = "problems found" for every linter here
    warm_up: bool = False                       # one untimed run first (fills a cache)
    one_file: Callable[[Target], list[str]] | None = None   # argv for the one-file section
    exe: str = ""                               # a peer's executable


def _find(name: str) -> str | None:
    """A peer's executable: benchmarks/.peers first, then PATH."""
    for d in PEERS_BIN:
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return shutil.which(name)


def tidymark_command(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    exe = shutil.which("tidymark")
    return [exe] if exe else [sys.executable, "-m", "tidymark"]


@dataclass
class CacheFlags:
    """Which result-cache options this tidymark has (read from ``tidymark check --help``)."""

    cache_dir: bool = False
    no_cache: bool = False

    @classmethod
    def detect(cls, tidymark: list[str]) -> "CacheFlags":
        try:
            text = subprocess.run([*tidymark, "check", "--help"], capture_output=True, text=True,
                                  timeout=60).stdout
        except (OSError, subprocess.TimeoutExpired):
            text = ""
        return cls(cache_dir="--cache-dir" in text, no_cache="--no-cache" in text)

    def cold(self, target: Target) -> list[str]:
        if self.cache_dir:
            return ["--cache-dir", str(target.fresh_dir("cache-cold"))]
        return ["--no-cache"] if self.no_cache else []

    @property
    def has_cache(self) -> bool:
        return self.cache_dir or self.no_cache


def _capture(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (proc.stdout + proc.stderr).strip()


def _first_match(text: str, pattern: str) -> str:
    m = re.search(pattern, text)
    return m.group(0) if m else text.splitlines()[0] if text else "?"


def build_tools(tidymark: list[str], cache: CacheFlags) -> list[Tool]:
    """Every tool the benchmark knows, in report order (floors, tidymark, peers)."""
    py = sys.executable

    def floor(mode: str) -> Callable[[Target], list[str]]:
        return lambda t: [py, str(FLOOR), mode, t.path_arg]

    def cold_check(t: Target) -> list[str]:
        return [*tidymark, "check", *cache.cold(t), t.path_arg]

    warm_dirs: dict[Path, Path] = {}

    def warm_check(t: Target) -> list[str]:
        if not cache.cache_dir:
            return [*tidymark, "check", t.path_arg]  # a cache on by default, in its default place
        if t.root not in warm_dirs:
            warm_dirs[t.root] = t.fresh_dir("cache-warm")
        return [*tidymark, "check", "--cache-dir", str(warm_dirs[t.root]), t.path_arg]

    tools = [  # a floor exits 0; anything else is a crash (e.g. the parser's RecursionError)
        Tool("read", "floor: read files (Python)", "floor", floor("read"), one_file=floor("read"), ok_codes=(0,)),
        Tool("parse-block", "floor: front matter + markdown-it block parse", "floor", floor("parse-block"),
             one_file=floor("parse-block"), ok_codes=(0,)),
        Tool("parse", "floor: front matter + markdown-it full parse", "floor", floor("parse"),
             one_file=floor("parse"), ok_codes=(0,)),
        Tool("tidymark-cold", "tidymark check (cold cache)", "tidymark", cold_check, one_file=cold_check),
        Tool("tidymark-warm", "tidymark check (warm cache)", "tidymark",
             warm_check if cache.has_cache else None, warm_up=True,
             missing="" if cache.has_cache else "n/a: no result cache in this tidymark"),
        Tool("tidymark-fix", "tidymark fix --diff", "tidymark",
             lambda t: [*tidymark, "fix", "--diff", *cache.cold(t), t.path_arg]),
    ]

    def peer(key: str, label: str, exe_name: str, hint: str,
             argv: Callable[[str, Target], list[str]]) -> Tool:
        exe = _find(exe_name)
        command = (lambda t: argv(exe, t)) if exe else None
        return Tool(key, label, "peer", command, one_file=command, exe=exe or "",
                    missing="" if exe else f"not installed: {hint} (or --install-peers)")

    tools += [
        peer("rumdl", "rumdl check", "rumdl", "pip install rumdl",
             lambda exe, t: [exe, "check", "--no-cache", "--no-config", t.path_arg]),
        peer("markdownlint-cli2", "markdownlint-cli2", "markdownlint-cli2",
             "npm install --prefix benchmarks/.peers markdownlint-cli2",
             # a glob for a folder, ":name" for a literal file name
             lambda exe, t: [exe, "**/*.{md,markdown}" if t.path_arg == "." else ":" + t.path_arg]),
        peer("pymarkdown", "pymarkdown scan", "pymarkdown", "pip install pymarkdownlnt",
             # without --continue-on-error it stops at the first document it cannot tokenize
             lambda exe, t: [exe, "--continue-on-error", "scan", "-r", t.path_arg]),
        peer("mdformat", "mdformat --check", "mdformat", "pip install mdformat",
             lambda exe, t: [exe, "--check", t.path_arg]),
    ]
    return tools


GROUPS = {
    "floors": ("read", "parse-block", "parse"),
    "tidymark": ("tidymark-cold", "tidymark-warm", "tidymark-fix"),
    "peers": ("rumdl", "markdownlint-cli2", "pymarkdown", "mdformat"),
}
ALL_KEYS = tuple(k for keys in GROUPS.values() for k in keys)


def select(spec: str) -> list[str]:
    """Expand a comma list of tool keys and group names (floors, tidymark, peers, all)."""
    keys: list[str] = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        names = ALL_KEYS if item == "all" else GROUPS.get(item, (item,))
        for name in names:
            if name not in ALL_KEYS:
                raise SystemExit(f"unknown tool {name!r}; choose from {', '.join(ALL_KEYS)}, "
                                 f"{', '.join(GROUPS)} or all")
            if name not in keys:
                keys.append(name)
    return [k for k in ALL_KEYS if k in keys]


def tool_versions(tools: list[Tool], tidymark: list[str]) -> dict[str, str]:
    """Version strings of everything measured."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("markdown-it-py", "python-frontmatter", "PyYAML"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    out["tidymark"] = _first_match(_capture([*tidymark, "--version"]), r"\d+\.\d+\S*")
    probes = {
        "rumdl": (["--version"], r"rumdl \S+"),
        "markdownlint-cli2": (["--help"], r"markdownlint-cli2 v\S+ \(markdownlint v[^)]+\)"),
        "pymarkdown": (["version"], r"\d+\.\d+\.\d+\S*"),
        "mdformat": (["--version"], r"mdformat \S+"),
    }
    for tool in tools:
        if tool.key in probes and tool.command is not None:
            args, pattern = probes[tool.key]
            out[tool.key] = _first_match(_capture([tool.exe, *args]), pattern)
            if tool.key == "markdownlint-cli2":
                out["node"] = _capture(["node", "--version"]) or "?"
    return out


_FINGERPRINT = r"""
import hashlib, importlib.util, pathlib, sys
sys.path[:0] = sys.argv[1:]
files = {}
for name in ("tidymark", "tidymark.rules"):
    for loc in importlib.util.find_spec(name).submodule_search_locations or []:
        for p in pathlib.Path(loc).rglob("*"):
            if p.is_file() and p.suffix in (".py", ".yml", ".yaml") and "__pycache__" not in p.parts:
                files[p.resolve()] = name + "/" + p.relative_to(loc).as_posix()
h = hashlib.sha256()
for path, rel in sorted(files.items(), key=lambda item: item[1]):
    h.update(rel.encode() + b"\0" + path.read_bytes())
print(h.hexdigest()[:12], len(files), "files")
"""


def tidymark_fingerprint(frozen: Path | None = None) -> str:
    """A hash of the installed tidymark's source (to tell whether it changed during a benchmark)."""
    lines = _capture([sys.executable, "-c", _FINGERPRINT, *([str(frozen)] if frozen else [])]).splitlines()
    return lines[-1] if lines else "?"


def freeze_tidymark(work: Path) -> Path:
    """Copy this checkout's tidymark under ``work`` and write a launcher that runs the copy.

    The benchmark then measures one fixed version even if the working tree is edited while
    it runs (an editable install would pick every edit up, and a cache keyed by tidymark's
    own source would miss after each).  The copy is compiled to bytecode and has the installed layout (``lint/`` as
    ``tidymark/``, ``rules/`` as ``tidymark/rules/``) and comes first on ``sys.path``; the
    dependencies are this Python's.  Returns the launcher, an executable script.
    """
    project, root = HERE.parent, work / "tidymark-frozen"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(project / "lint", root / "tidymark", ignore=ignore)
    shutil.copytree(project / "rules", root / "tidymark" / "rules", ignore=ignore)
    # bytecode, as an installed package has (pip compiles on install): without it every run
    # would compile tidymark's sources first, and PYTHONDONTWRITEBYTECODE keeps it from caching
    import compileall

    compileall.compile_dir(str(root / "tidymark"), quiet=1)
    launcher = root / "tidymark-launcher"
    launcher.write_text(f"#!{sys.executable}\n"
                        f"import sys\nsys.path.insert(0, {str(root)!r})\n"
                        "from tidymark.cli import main\nsys.exit(main())\n", encoding="utf-8")
    launcher.chmod(0o755)
    where = _capture([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                                            "import tidymark, tidymark.rules as r; print(tidymark.__file__, *r.__path__)"])
    if not all(part.startswith(str(root)) for part in where.split()):
        raise SystemExit(f"the frozen tidymark is not the one imported: {where}")
    return launcher


def install_peers() -> None:
    """Install the peers into benchmarks/.peers (npm --prefix, and a virtual environment)."""
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    if shutil.which("npm"):
        subprocess.run(["npm", "install", "--prefix", str(PEERS_DIR), *NPM_PEERS], check=True)
    else:
        print("npm not found: markdownlint-cli2 not installed", file=sys.stderr)
    if not (PEERS_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run([str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", *PIP_PEERS], check=True)


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    """All runs of one tool on one target."""

    key: str
    label: str
    kind: str
    scale: int
    files: int
    bytes: int
    argv: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    skipped: str = ""
    failure: str = ""

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if not r.timed_out]

    @property
    def median(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.wall for r in ok) if ok and not self.failure else None

    @property
    def peak_rss_mib(self) -> float | None:
        return max(r.peak_rss_kib for r in self.runs) / MIB_KIB if self.runs else None

    @property
    def median_cpu(self) -> float | None:
        ok = self.ok_runs
        return statistics.median(r.cpu for r in ok) if ok and not self.failure else None


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def measure(tools: list[Tool], target: Target, runs_for: Callable[[Tool], int], timeout: float,
            one_file: bool = False, quiet_wait: float = 0, into: list[Result] | None = None) -> list[Result]:
    """Time every tool on ``target``, interleaving the tools run by run.

    The results are also appended to ``into`` before the first run, so that the caller
    holds what was measured so far if the benchmark is interrupted.
    """
    results = {t.key: Result(t.key, t.label, t.kind, target.scale, target.files, target.bytes) for t in tools}
    if into is not None:
        into.extend(results.values())
    active = []
    for tool in tools:
        build = tool.one_file if one_file else tool.command
        if build is None:
            results[tool.key].skipped = tool.missing or "n/a"
            continue
        active.append((tool, build))
        if tool.warm_up and not one_file:
            _log(f"  [{target.scale}x] {tool.label}: filling the cache (untimed)")
            run_process(build(target), cwd=target.root, timeout=timeout, out=target.scratch / "warm.out",
                        err=target.scratch / "warm.err")
    rounds = max((runs_for(t) for t, _ in active), default=0)
    for i in range(rounds):
        for tool, build in active:
            res = results[tool.key]
            if i >= runs_for(tool) or res.failure or any(r.timed_out for r in res.runs):
                continue
            argv = build(target)
            res.argv = argv
            out, err = target.scratch / f"{tool.key}.out", target.scratch / f"{tool.key}.err"
            run = run_process(argv, cwd=target.root, timeout=timeout, out=out, err=err, quiet_wait=quiet_wait)
            res.runs.append(run)
            status = "TIMEOUT" if run.timed_out else f"exit {run.exit_code}"
            busy = f", machine {run.busy_before:.0%} busy before" if run.busy_before is not None else ""
            _log(f"  [{target.scale}x] {tool.label} run {i + 1}/{runs_for(tool)}: {run.wall:.3f} s "
                 f"(CPU {run.cpu:.2f} s), {run.peak_rss_kib / MIB_KIB:.0f} MiB, {status}{busy}")
            if not run.timed_out and run.exit_code not in tool.ok_codes:
                res.failure = f"exit {run.exit_code}: {_tail(err) or _tail(out)}"
    return [results[t.key] for t in tools]


def stage_corpus(corpus: Path, files: list[Path], work: Path, scale: int, distinct: bool = True) -> Target:
    root = work / f"x{scale}"
    scratch = work / f"scratch-x{scale}"
    scratch.mkdir(parents=True)
    n, size = replicate(corpus, files, root, scale, distinct)
    return Target(root=root, files=n, bytes=size, scratch=scratch, scale=scale)


def stage_one_file(corpus: Path, files: list[Path], work: Path) -> Target:
    """A copy of the corpus file of median size, alone in a folder."""
    sized = sorted(files, key=lambda rel: (corpus / rel).stat().st_size)
    pick = sized[len(sized) // 2]
    root, scratch = work / "one-file", work / "scratch-one-file"
    root.mkdir()
    scratch.mkdir()
    shutil.copyfile(corpus / pick, root / "note.md")
    size = (root / "note.md").stat().st_size
    return Target(root=root, files=1, bytes=size, scratch=scratch, path_arg="note.md")


# --------------------------------------------------------------------------- pathological


FRONT = "---\ntitle: Pathological document\nsource: https://example.com/pathological\n---\n\n"
PROXY = "https://proxy-prod.omnivore-image-cache.app/0x0,s" + "A" * 43 + "/https://example.com/img/{}.png"
WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".split()


def _words(width: int, seed: int = 0) -> str:
    """Ordinary words filling exactly ``width`` characters."""
    out, i = [], seed
    n = 0
    while n < width:
        w = WORDS[i % len(WORDS)]
        out.append(w)
        n += len(w) + 1
        i += 1
    return " ".join(out)[:width].rstrip() or "x"


def _repeat_until(size: int, unit: Callable[[int], str]) -> str:
    parts, n, i = [], 0, 0
    while n < size:
        s = unit(i)
        parts.append(s)
        n += len(s)
        i += 1
    return "".join(parts)


def _ramp(levels: int, line: Callable[[int], str]) -> str:
    return "".join(line(i) for i in range(levels)) + "\nA paragraph between the ramps.\n\n"


def pathological_documents(size: int = 5 * MB) -> dict[str, tuple[str, Callable[[], str]]]:
    """Documents of about ``size`` bytes, each built to trip code that is not linear.

    name -> (description, generator).  Each but the front-matter one starts with a short
    front matter, so that front-matter rules run too.  Counts are those of a 5 MB document
    (100,000 lines, headings, keys...) scaled to ``size``; nesting is always 1,000 levels.
    """
    n = max(round(100_000 * size / (5 * MB)), 10)
    per_line = max(size // n, 8)
    return {
        "huge-line": ("one line of words", lambda: FRONT + _words(size) + "\n"),
        "short-lines": (f"{n:,} short lines", lambda: FRONT + "".join(
            _words(per_line - 1, i) + "\n" + ("\n" if i % 10 == 9 else "") for i in range(n))),
        "headings": (f"{n:,} headings", lambda: FRONT + "".join(
            "## " + _words(per_line - 4, i) + "\n" for i in range(n))),
        "nested-lists": ("lists nested 1,000 levels deep, repeated", lambda: FRONT + _repeat_until(
            size, lambda _: _ramp(1000, lambda i: "  " * i + f"- item {i}\n"))),
        "nested-quotes": ("block quotes nested 1,000 levels deep, repeated", lambda: FRONT + _repeat_until(
            size, lambda _: _ramp(1000, lambda i: ">" * (i + 1) + f" quote {i}\n"))),
        "open-brackets": ("one run of `[`", lambda: FRONT + "[" * size + "\n"),
        "backtick-run": ("one run of backticks", lambda: FRONT + "`" * size + "\n"),
        "backtick-runs": ("backtick runs of rising length 1, 2, 3, …", lambda: FRONT + _repeat_until(
            size, lambda i: "`" * (i + 1) + " a ")),
        "unclosed-emphasis": ("unclosed `*` and `_` delimiters", lambda: FRONT + _repeat_until(
            size, lambda i: "*a _b **c __d " + ("\n" if i % 6 == 5 else ""))),
        "table-rows": (f"a table of {n:,} rows", lambda: FRONT + "| a | b | c |\n| - | - | - |\n" + "".join(
            f"| {_words(max(per_line - 22, 4), i)} | {i:06d} | `x` |\n" for i in range(n))),
        "proxied-images": ("images through a proxy, one per paragraph", lambda: FRONT + _repeat_until(
            size, lambda i: f"![image {i}]({PROXY.format(i)})\n\n")),
        "html-entities": ("an HTML-entity-escaped body", lambda: FRONT + _repeat_until(
            size, lambda i: f"It&#39;s &quot;{i}&quot;: see https:&#x2F;&#x2F;example.com&#x2F;a&#x3D;{i}\n")),
        "front-matter": (f"a front matter of {n:,} keys", lambda: "---\n" + "".join(
            f"key_{i:06d}: {_words(per_line - 13, i)}\n" for i in range(n)) + "---\n\n# Body\n\nText.\n"),
    }


@dataclass
class PathologicalResult:
    name: str
    description: str
    bytes: int
    lines: int
    results: list[Result]


def measure_pathological(tools: list[Tool], work: Path, size: int, timeout: float,
                         names: list[str] | None = None, quiet_wait: float = 0,
                         out: list[PathologicalResult] | None = None) -> list[PathologicalResult]:
    """Write each document alone in a folder and time the tools on it once (appended to ``out``)."""
    out = [] if out is None else out
    for name, (description, generate) in pathological_documents(size).items():
        if names and name not in names:
            continue
        root, scratch = work / "pathological" / name, work / "scratch-pathological" / name
        root.mkdir(parents=True)
        scratch.mkdir(parents=True)
        text = generate()
        (root / "doc.md").write_text(text, encoding="utf-8")
        data = text.encode("utf-8")
        target = Target(root=root, files=1, bytes=len(data), scratch=scratch, path_arg="doc.md")
        _log(f"pathological {name}: {len(data) / MB:.1f} MB")
        doc = PathologicalResult(name, description, len(data), data.count(b"\n"), [])
        out.append(doc)
        measure(tools, target, lambda t: 1, timeout, quiet_wait=quiet_wait, into=doc.results)
    return out


# --------------------------------------------------------------------------- report


def _fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "—"


def _cell(res: Result, timeout: float) -> str:
    if res.skipped:
        return res.skipped
    if any(r.timed_out for r in res.runs):
        return f"TIMEOUT (> {timeout:g} s)"
    if res.failure:
        return f"failed ({res.failure.split(':', 1)[0]})"
    return _fmt_s(res.median)


def _shown(argv: list[str], work: Path) -> str:
    """A command line as run, with the scratch folder written as $WORK."""
    text = shlex.join(argv)
    return text.replace(str(work), "$WORK")


def main_table(results: list[Result], timeout: float) -> list[str]:
    by = {r.key: r for r in results}
    cold = by.get("tidymark-cold")
    warm = by.get("tidymark-warm")
    cold_t = cold.median if cold else None
    warm_t = warm.median if warm else None
    lines = ["| tool | runs | wall s (median) | range s | CPU s | peak RSS MiB | files/s | MB/s | exit "
             "| tidymark cold / tool | tidymark warm / tool |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in results:
        med = r.median
        walls = [x.wall for x in r.ok_runs]
        rng = f"{min(walls):.2f}–{max(walls):.2f}" if len(walls) > 1 else "—"
        rss = f"{r.peak_rss_mib:.0f}" if r.peak_rss_mib else "—"
        fps = f"{r.files / med:,.0f}" if med else "—"
        mbs = f"{r.bytes / MB / med:.2f}" if med else "—"
        codes = ",".join(sorted({str(x.exit_code) for x in r.runs if x.exit_code is not None})) or "—"
        lines.append(f"| {r.label} | {len(r.runs)} | {_cell(r, timeout)} | {rng} | {_fmt_s(r.median_cpu)} | {rss} "
                     f"| {fps} | {mbs} "
                     f"| {codes} | {_ratio(cold_t, med)} | {_ratio(warm_t, med)} |")
    return lines


def summary_lines(results: list[Result]) -> list[str]:
    """“tidymark X is N× faster/slower than peer” for each peer that ran."""
    by = {r.key: r for r in results}
    out = []
    for key in ("tidymark-cold", "tidymark-warm"):
        mine = by.get(key)
        if not mine or not mine.median:
            continue
        for r in results:
            if r.kind != "peer" or not r.median:
                continue
            q = r.median / mine.median
            word = f"{q:.1f}x faster than" if q >= 1 else f"{1 / q:.1f}x slower than"
            out.append(f"- {mine.label}: {word} {r.label} ({_fmt_s(mine.median)} s vs {_fmt_s(r.median)} s)")
    cold, warm = by.get("tidymark-cold"), by.get("tidymark-warm")
    if cold and warm and cold.median and warm.median:
        out.append(f"- warm cache vs cold: {cold.median / warm.median:.1f}x faster")
    return out


def scale_table(per_scale: dict[int, list[Result]]) -> list[str]:
    """Time, CPU time and memory at each replication factor, relative to the first."""
    scales = sorted(per_scale)
    base = {r.key: r for r in per_scale[scales[0]]}

    def rel(x: float | None, b: float | None) -> str:
        return f"{x / b:.2f}x" if x and b else "—"

    lines = ["| tool | scale | files | MB | wall s | wall vs 1st | CPU s | CPU vs 1st | CPU s per copy "
             "| peak RSS MiB | RSS vs 1st |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key in (r.key for r in per_scale[scales[0]]):
        b = base[key]
        for k in scales:
            r = next((x for x in per_scale[k] if x.key == key), None)
            if r is None or r.skipped:
                continue
            cpu = r.median_cpu
            rss = f"{r.peak_rss_mib:.0f}" if r.peak_rss_mib else "—"
            lines.append(f"| {r.label} | {k}x | {r.files:,} | {r.bytes / MB:.1f} | {_fmt_s(r.median)} "
                         f"| {rel(r.median, b.median)} | {_fmt_s(cpu)} | {rel(cpu, b.median_cpu)} "
                         f"| {_fmt_s(cpu / k if cpu else None)} | {rss} | {rel(r.peak_rss_mib, b.peak_rss_mib)} |")
    return lines


def one_file_table(results: list[Result], timeout: float) -> list[str]:
    lines = ["| tool | runs | wall ms (median) | range ms | peak RSS MiB |", "|---|---:|---:|---:|---:|"]
    for r in results:
        walls = [x.wall for x in r.ok_runs]
        med = r.median
        cell = f"{med * 1000:.0f}" if med is not None else _cell(r, timeout)
        rng = f"{min(walls) * 1000:.0f}–{max(walls) * 1000:.0f}" if len(walls) > 1 else "—"
        rss = f"{r.peak_rss_mib:.0f}" if r.peak_rss_mib else "—"
        lines.append(f"| {r.label} | {len(r.runs)} | {cell} | {rng} | {rss} |")
    return lines


def pathological_table(docs: list[PathologicalResult], timeout: float, slow: float) -> list[str]:
    labels = [r.label for r in docs[0].results] if docs else []
    lines = ["| document | MB | lines | " + " | ".join(f"{lb}: wall s (CPU s)" for lb in labels)
             + " | peak RSS MiB | verdict |",
             "|---|---:|---:|" + "---:|" * len(labels) + "---:|---|"]
    notes = []
    for d in docs:
        problems = []
        for r in d.results:
            if r.failure:
                notes.append(f"- {d.name}, {r.label}: {r.failure}")
            if r.kind != "tidymark":
                continue
            if any(x.timed_out for x in r.runs):
                problems.append(f"{r.label}: TIMEOUT")
            elif r.failure:
                problems.append(f"{r.label}: FAILED")
            elif r.median is not None and r.median > slow:
                problems.append(f"{r.label}: SLOW")
        rss = max((r.peak_rss_mib or 0 for r in d.results if r.kind == "tidymark"), default=0)
        cells = " | ".join(_cell(r, timeout) + (f" ({_fmt_s(r.median_cpu)})" if r.median is not None else "")
                           for r in d.results)
        lines.append(f"| {d.name} ({d.description}) | {d.bytes / MB:.1f} | {d.lines:,} | {cells} | {rss:.0f} "
                     f"| {'; '.join(problems) or 'ok'} |")
    return lines + (["", "Failures:", *notes] if notes else [])


def machine_info() -> dict:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem = f"{int(m.group(1)) / 1024 / 1024:.1f} GiB" if m else "?"
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": affinity, "cpu": cpu, "memory": mem, "os": platform.platform()}


def _all_runs(report: dict) -> list[Run]:
    groups = [*report.get("_per_scale", {}).values(), report.get("_one_file") or []]
    groups += [d.results for d in report.get("_pathological") or []]
    return [run for results in groups for r in results for run in r.runs]


def _busy_summary(report: dict) -> str:
    """How busy other processes kept the CPUs just before the runs (a shared machine is noisy)."""
    shares = [r.busy_before for r in _all_runs(report) if r.busy_before is not None]
    if not shares:
        return "CPU use by other processes before the runs: unknown"
    return (f"CPU use by other processes just before each run: median {statistics.median(shares):.0%}, "
            f"max {max(shares):.0%} ({len(shares)} runs; CPU s is less sensitive to it than wall time)")


def render(report: dict, args: argparse.Namespace) -> str:
    m = report["machine"]
    out = [f"# tidymark benchmark — {m['date']}", "",
           f"- machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, {m['os']}",
           "- versions: " + ", ".join(f"{k} {v}" if not v.startswith(k) else v
                                      for k, v in report["versions"].items()),
           f"- tidymark cache options: {report['cache_flags']}",
           f"- {_busy_summary(report)}",
           f"- tidymark source (sha256 of the installed package): {report['tidymark_source']}"
           + ("" if report["tidymark_source_after"] == report["tidymark_source"] else
              f" **changed during the benchmark, to {report['tidymark_source_after']}: numbers mix versions**"),
           f"- command: `{report['command']}`"]
    if report.get("interrupted"):
        out += ["", "**Interrupted: partial results (runs not made are shown as —).**"]
    corpus = report.get("corpus")
    if corpus:
        out += ["", f"## {corpus['path']}: {corpus['files']:,} files, {corpus['bytes'] / MB:.1f} MB", "",
                f"Median of {args.runs} runs (peers: {args.peer_runs or args.runs}); ratios are time "
                f"tidymark / tool (below 1: tidymark is faster).", ""]
        first = report["_per_scale"][min(report["_per_scale"])]
        out += main_table(first, args.timeout) + [""] + summary_lines(first)
        notes = [f"- {r.label}: {r.failure}" for r in first if r.failure]
        if notes:
            out += ["", "Failures:", *notes]
        if len(report["_per_scale"]) > 1:
            out += ["", "### Scale (the corpus copied k times; linear growth: CPU vs 1st close to k, "
                        "flat CPU s per copy)", "",
                    *scale_table(report["_per_scale"])]
        out += ["", "### Command lines (run in the copied corpus, $WORK/x1)", ""]
        out += [f"- {r.label}: `{_shown(r.argv, report['_work'])}`" for r in first if r.argv]
        if not report.get("unchanged", True):
            out += ["", "**WARNING: a tool changed files of the copied corpus.**"]
    if report.get("_one_file"):
        o = report["one_file"]
        out += ["", f"## One file ({o['bytes']:,} bytes, the corpus file of median size)", "",
                *one_file_table(report["_one_file"], args.timeout)]
    if report.get("_pathological") is not None:
        out += ["", f"## Pathological documents (one run each, timeout {args.pathological_timeout:g} s, "
                    f"slow above {args.slow:g} s)", "",
                *pathological_table(report["_pathological"], args.pathological_timeout, args.slow)]
    return "\n".join(out) + "\n"


def _json_results(results: list[Result]) -> list[dict]:
    out = []
    for r in results:
        d = asdict(r)
        d["median_s"] = r.median
        d["peak_rss_mib"] = r.peak_rss_mib
        out.append(d)
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", nargs="?", type=Path, help="folder of Markdown files (never modified)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per tool (median reported; default 3)")
    p.add_argument("--peer-runs", type=int, default=None, help="timed runs per peer (default: --runs)")
    p.add_argument("--tools", default="all",
                   help="comma list of tools or groups: floors, tidymark, peers, all (default), or "
                        + ", ".join(ALL_KEYS))
    p.add_argument("--scale", default="1", help="replication factors, e.g. 1,2,5 (default 1)")
    p.add_argument("--scale-tools", default=None, help="tools run at scales above the first (default: --tools)")
    p.add_argument("--replicas", choices=("distinct", "identical"), default="distinct",
                   help="distinct (default): copies 2..k get a trailing HTML comment so no two files are "
                        "byte-identical; identical: exact copies")
    p.add_argument("--timeout", type=float, default=1800, help="seconds before a corpus run is killed")
    p.add_argument("--one-file", action="store_true", help="also time each tool on one file (start-up)")
    p.add_argument("--one-file-runs", type=int, default=10)
    p.add_argument("--pathological", action="store_true", help="also time tidymark on generated pathological "
                                                                 "documents")
    p.add_argument("--pathological-size", type=float, default=5, help="size of each document in MB (default 5)")
    p.add_argument("--pathological-only", default=None, help="comma list of pathological documents to run")
    p.add_argument("--pathological-timeout", type=float, default=30)
    p.add_argument("--slow", type=float, default=3.0, help="seconds above which a pathological run is slow")
    p.add_argument("--quiet-wait", type=float, default=0,
                   help="before each run, wait up to this many seconds for other processes to leave the "
                        "CPUs idle (default 0: only record how busy they were)")
    p.add_argument("--json", type=Path, help="write the raw numbers to this file")
    p.add_argument("--install-peers", action="store_true", help="install the peers into benchmarks/.peers first")
    p.add_argument("--tidymark", default=None, help="command to run tidymark (default: tidymark on PATH)")
    p.add_argument("--freeze", action="store_true",
                   help="benchmark a copy of this checkout's tidymark taken at the start, immune to edits "
                        "of the working tree during the run")
    p.add_argument("--workdir", type=Path, default=None, help="scratch folder to use and keep (default: a "
                                                               "temporary folder, removed)")
    args = p.parse_args(argv)
    if args.corpus is None and not args.pathological:
        p.error("give a corpus folder, --pathological, or both")
    if args.corpus is not None and not args.corpus.is_dir():
        p.error(f"{args.corpus} is not a folder")
    try:
        args.scales = sorted({int(s) for s in args.scale.split(",") if s.strip()})
    except ValueError:
        p.error("--scale takes whole numbers, e.g. 1,2,5")
    if not args.scales or args.scales[0] < 1 or args.runs < 1:
        p.error("--scale factors and --runs must be at least 1")
    return args


@contextlib.contextmanager
def workspace(path: Path | None) -> Iterator[Path]:
    if path is not None:
        path.mkdir(parents=True, exist_ok=False)
        yield path.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="tidymark-bench-") as d:
        yield Path(d)


def run(args: argparse.Namespace) -> dict:
    if args.install_peers:
        install_peers()
    with workspace(args.workdir) as work:
        frozen = None
        if args.freeze:
            launcher = freeze_tidymark(work)
            frozen, tidymark = launcher.parent, [str(launcher)]
        else:
            tidymark = tidymark_command(args.tidymark)
        report: dict = {}
        try:
            measure_all(args, work, tidymark, frozen, report)
        except (KeyboardInterrupt, SystemExit) as exc:  # report what was measured
            if "machine" not in report:
                raise
            _log(f"interrupted ({type(exc).__name__}): the report is partial")
            report["interrupted"] = True
        report["tidymark_source_after"] = tidymark_fingerprint(frozen)
        if frozen:
            report["tidymark_source"] += f" (frozen copy of {HERE.parent})"
            report["tidymark_source_after"] += f" (frozen copy of {HERE.parent})"
    return report


def measure_all(args: argparse.Namespace, work: Path, tidymark: list[str], frozen: Path | None,
                report: dict) -> None:
    """Every section the arguments ask for, with ``tidymark`` as the command to run, into ``report``.

    The report is filled as the runs go, so that an interrupted benchmark still has one.
    """
    cache = CacheFlags.detect(tidymark)
    every = build_tools(tidymark, cache)
    wanted = select(args.tools)
    tools = [t for t in every if t.key in wanted]
    scale_keys = select(args.scale_tools) if args.scale_tools else wanted
    peer_runs = args.peer_runs or args.runs

    def runs_for(tool: Tool) -> int:
        return peer_runs if tool.kind == "peer" else args.runs

    report.update({
        "machine": machine_info(),
        "versions": tool_versions(tools, tidymark),
        "cache_flags": ", ".join(f for f, on in (("--cache-dir", cache.cache_dir), ("--no-cache", cache.no_cache))
                                 if on) or "none (cold and warm are the same; warm not run)",
        "command": shlex.join(["python", "benchmarks/bench.py",
                               *(sys.argv[1:] if args._argv is None else args._argv)]),
        "tidymark_source": tidymark_fingerprint(frozen),
        "_work": work,
    })
    if args.corpus is not None:
        corpus = args.corpus.resolve()
        files = markdown_files(corpus)
        if not files:
            raise SystemExit(f"no Markdown files under {corpus}")
        report["_per_scale"] = {}
        unchanged = True
        for k in args.scales:
            target = stage_corpus(corpus, files, work, k, distinct=args.replicas == "distinct")
            os.sync()  # no write-back of the copies during the timed runs
            _log(f"{k}x: {target.files} files, {target.bytes / MB:.1f} MB in {target.root}")
            if k == args.scales[0]:
                report["corpus"] = {"path": str(args.corpus), "files": target.files, "bytes": target.bytes}
            chosen = tools if k == args.scales[0] else [t for t in tools if t.key in scale_keys]
            before = snapshot(target.root)
            report["_per_scale"][k] = []
            measure(chosen, target, runs_for, args.timeout, quiet_wait=args.quiet_wait, into=report["_per_scale"][k])
            unchanged &= snapshot(target.root) == before
            shutil.rmtree(target.root)
            report["unchanged"] = unchanged
        if args.one_file:
            target = stage_one_file(corpus, files, work)
            report["one_file"] = {"bytes": target.bytes}
            cold_only = [t for t in tools if t.key not in ("tidymark-warm", "tidymark-fix")]
            report["_one_file"] = []
            measure(cold_only, target, lambda t: args.one_file_runs, args.timeout, one_file=True,
                    quiet_wait=args.quiet_wait, into=report["_one_file"])
    if args.pathological:
        chosen = [t for t in every if t.key in ("parse", "tidymark-cold", "tidymark-fix")]
        names = args.pathological_only.split(",") if args.pathological_only else None
        report["_pathological"] = []
        measure_pathological(chosen, work, int(args.pathological_size * MB), args.pathological_timeout, names,
                             args.quiet_wait, out=report["_pathological"])


def to_json(report: dict) -> dict:
    out = {k: v for k, v in report.items() if not k.startswith("_")}
    if "_per_scale" in report:
        out["scales"] = {str(k): _json_results(v) for k, v in report["_per_scale"].items()}
    if "_one_file" in report:
        out["one_file"]["results"] = _json_results(report["_one_file"])
    if report.get("_pathological") is not None:
        out["pathological"] = [{"name": d.name, "description": d.description, "bytes": d.bytes, "lines": d.lines,
                                "results": _json_results(d.results)} for d in report["_pathological"]]
    return out


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds: the measured process group is killed, scratch removed


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args(argv)
    if args.freeze and args.tidymark:
        raise SystemExit("--freeze and --tidymark exclude each other")
    args._argv = argv
    report = run(args)
    sys.stdout.write(render(report, args))
    if args.json:
        args.json.write_text(json.dumps(to_json(report), indent=2, default=str) + "\n", encoding="utf-8")
    return 130 if report.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
