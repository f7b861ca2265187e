import contextlib
import faulthandler
import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def _no_toplevel_lint_or_rules():
    yield
    leaked = [m for m in ("lint", "rules") if m in sys.modules]
    assert not leaked, f"the repository folders were imported as top-level packages: {leaked}"


# --- scale-out engines: one generated corpus and one Ray session for test_batch / test_ray / test_dask ---


def _engine_corpus(dest: Path) -> Path:
    """A few hundred documents (293) generated from seeds/: LF, CRLF, CR, BOM, edited and cut copies,
    Latin-1 (LF and CRLF), UTF-16, binary, mixed CRLF/LF in a nested folder, and a subfolder with its
    own configuration (severity, per-file-ignores, unsafe fixes)."""
    seeds = sorted(p for p in (ROOT / "seeds").glob("*.md") if p.name != "README.md")
    dest.mkdir(parents=True, exist_ok=True)
    for p in seeds:
        lf = p.read_bytes().replace(b"\r\n", b"\n")
        stem = p.name[:-3]
        variants = {"lf": lf, "crlf": lf.replace(b"\n", b"\r\n"), "bom": b"\xef\xbb\xbf" + lf,
                    "bomcrlf": b"\xef\xbb\xbf" + lf.replace(b"\n", b"\r\n"),
                    "edit1": lf + b"\n<!-- variant 1 -->\n", "edit2": lf.replace(b"\n\n", b"\n\n\n", 3),
                    "cut": lf[: len(lf) * 2 // 3], "cr": lf.replace(b"\n", b"\r"),
                    "nested/a/b": lf.replace(b"\n", b"\r\n", 5)}  # mixed CRLF and LF
        for name, data in variants.items():
            (dest / name).mkdir(parents=True, exist_ok=True)
            (dest / name / f"{stem}.md").write_bytes(data)
        text = lf.decode("utf-8")
        latin = text.encode("latin-1", "replace") + "Café crème, naïve.\n".encode("latin-1")
        (dest / "latin1").mkdir(exist_ok=True)
        (dest / "latin1" / f"{stem}.md").write_bytes(latin)
        (dest / "latin1crlf").mkdir(exist_ok=True)
        (dest / "latin1crlf" / f"{stem}.md").write_bytes(latin.replace(b"\n", b"\r\n"))
        (dest / "sub").mkdir(exist_ok=True)
        (dest / "sub" / f"{stem}.md").write_bytes(lf)
    (dest / "odd").mkdir(exist_ok=True)
    (dest / "odd" / "utf16.md").write_bytes("---\ntitle: x\n---\nhi\n".encode("utf-16"))
    (dest / "odd" / "nul.md").write_bytes(b"---\ntitle: x\n---\n\x00\x01binary\n")
    (dest / "odd" / "empty.md").write_bytes(b"")
    (dest / "odd" / "only-bom.md").write_bytes(b"\xef\xbb\xbf")
    (dest / "odd" / "lone-cr.md").write_bytes(b"---\rtitle: |\r  Hello\rdraft: true\r---\r# Hello\rtext\r")
    (dest / "sub" / ".tidymark.yaml").write_text(
        "unsafe-fixes: true\nseverity: {IM: warning, draft-flag: info}\n"
        "per-file-ignores: {'*.fixed.md': [DM006, AD]}\n", encoding="utf-8")
    return dest


@pytest.fixture(scope="session")
def engine_corpus(tmp_path_factory) -> Path:
    return _engine_corpus(tmp_path_factory.mktemp("engines") / "corpus")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.md"))}


@pytest.fixture(scope="session")
def engine_expected(engine_corpus, tmp_path_factory) -> dict:
    """What `--engine local` gives on the corpus: check (JSON, text) and fix (JSON, files after)."""
    import json
    import shutil
    import subprocess

    def run(args, cwd):
        proc = subprocess.run([sys.executable, "-m", "tidymark", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode in (0, 1), proc.stderr
        return proc.stdout

    fixdir = tmp_path_factory.mktemp("engines-local-fix") / "corpus"
    shutil.copytree(engine_corpus, fixdir)
    return {"check": json.loads(run(["check", "--no-cache", "--output-format", "json", "."], engine_corpus)),
            "text": run(["check", "--no-cache", "."], engine_corpus),
            "fix": json.loads(run(["fix", "--no-cache", "--output-format", "json", "."], fixdir)),
            "fixed": _snapshot(fixdir), "original": _snapshot(engine_corpus)}


# Ray and Dask are optional extras: without them their tests skip, except in CI (CI=true), which
# installs them (.ci/run), so that a broken install fails instead of silently running nothing.
IN_CI = os.environ.get("CI", "").lower() == "true"
_ENGINE_FIXTURES = {"ray_session": "ray", "dask_engine": "dask"}
_STALLED: dict[str, str] = {}  # engine -> the test that ran out of time: its later tests fail at once


def _import_engine(engine: str, *names: str) -> list:
    """Import an engine's packages, or skip (fail when CI=true); fail at once if the engine stalled before."""
    if engine in _STALLED:
        pytest.fail(f"not run: {engine} stalled in {_STALLED[engine]} (time limit)", pytrace=False)
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            if IN_CI:
                raise pytest.fail.Exception(f"{name} is required in CI (.ci/run installs the `ray` and `dask` "
                                            f"extras): {exc}", pytrace=False) from None
            pytest.skip(f"{name} is not installed (pip install -e \".[test,ray,dask]\")")
    return modules


def _ray_down() -> None:
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def ray_session():
    """The Ray instance of the test run: local, two CPUs, no dashboard, a small object store.

    The first Ray test starts it and the following Ray tests share it; it is shut down after the last
    Ray test of a run of them (pytest_runtest_teardown below), whatever the order of the tests, so
    that no later test forks a process that holds Ray's threads, and at the end of the session."""
    ray, _ = _import_engine("ray", "ray", "pyarrow")
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no network, no usage-stats notice
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 object_store_memory=128 * 1024 * 1024)
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    return ray


@pytest.fixture
def dask_engine():
    """The dask module (local schedulers only: nothing to start or stop)."""
    return _import_engine("dask", "dask", "dask.dataframe", "pyarrow")[0]


def _engine_of(item) -> str | None:
    return next((e for f, e in _ENGINE_FIXTURES.items() if f in getattr(item, "fixturenames", ())), None)


def pytest_sessionfinish(session, exitstatus):
    _ray_down()


# --- time_limit(seconds): a test that cannot hang the run --------------------------------------------
# pytest-timeout's signal method cannot stop a Ray test: its exception, raised by a signal handler
# while the main thread waits in ray.get, is swallowed by Ray, which only lets KeyboardInterrupt
# through; its thread method ends the whole run. So: when a marked test (setup and teardown included)
# runs past its limit, every thread's traceback goes to stderr, the main thread gets a real SIGINT
# (it also wakes a blocking wait), and the KeyboardInterrupt becomes a failure of that test; the run
# goes on, and the engine's later tests fail at once. A test still running 15 s later has its child
# processes killed (Dask's process pool waits for its workers before it lets the interrupt through);
# one still running 60 s after its limit (stuck in C code) gets its tracebacks dumped again by
# faulthandler, which ends the run (exit code 1).
_KILL_AFTER = 15.0
_GRACE = 60.0
_STDERR_FD: int | None = None
_EXPIRED: set[str] = set()  # tests whose time limit has passed


def pytest_configure(config):
    global _STDERR_FD
    config.addinivalue_line("markers", "time_limit(seconds): fail the test (setup and teardown included) "
                                       "when it runs longer; end the run if it cannot be stopped")
    _STDERR_FD = os.dup(2)  # the real stderr: captured tests redirect fd 2


def pytest_unconfigure(config):
    global _STDERR_FD
    if _STDERR_FD is not None:
        os.close(_STDERR_FD)
        _STDERR_FD = None


def _time_limit(item) -> float | None:
    marker = item.get_closest_marker("time_limit")
    return float(marker.args[0]) if marker is not None else None


def _child_processes() -> list[int]:
    """This process's children (Linux /proc), e.g. a local scheduler's worker processes, but not
    multiprocessing's resource tracker."""
    me, kids = str(os.getpid()).encode(), []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else ():
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                stat = fh.read()
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        ppid = stat[stat.rfind(b")") + 2:].split()[1:2]
        if name.isdigit() and ppid == [me] and b"resource_tracker" not in cmdline:
            kids.append(int(name))
    return kids


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    limit = _time_limit(item)
    if limit is None:
        return (yield)
    fd = sys.__stderr__.fileno() if _STDERR_FD is None else _STDERR_FD
    main, done = threading.main_thread().ident, threading.Event()

    def watch():
        if done.wait(limit):
            return
        _EXPIRED.add(item.nodeid)
        os.write(fd, f"\n+++ {item.nodeid}: time limit of {limit:.0f} s passed; tracebacks:\n".encode())
        faulthandler.dump_traceback(file=fd, all_threads=True)
        signal.pthread_kill(main, signal.SIGINT)
        if done.wait(_KILL_AFTER):
            return
        # still running, e.g. Dask's process pool waiting for its stalled workers on the way out
        kids = _child_processes()
        os.write(fd, f"+++ {item.nodeid}: still running; killing its child processes {kids}\n".encode())
        for pid in kids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    threading.Thread(target=watch, name=f"time-limit {item.nodeid}", daemon=True).start()
    faulthandler.dump_traceback_later(limit + _GRACE, exit=True, file=fd)
    try:
        return (yield)
    finally:
        done.set()
        faulthandler.cancel_dump_traceback_later()


@contextlib.contextmanager
def _expiry_is_a_failure(item):
    try:
        yield
    except KeyboardInterrupt:
        if item.nodeid not in _EXPIRED:
            raise  # a real Ctrl-C
        engine = _engine_of(item)
        if engine:
            _STALLED.setdefault(engine, item.nodeid)
        raise pytest.fail.Exception(f"time limit of {_time_limit(item):.0f} s passed (tracebacks on stderr)",
                                    pytrace=False) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with _expiry_is_a_failure(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with _expiry_is_a_failure(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Also shuts Ray down after the last Ray test of a run of them (or one that stalled), once the
    test's fixtures are torn down and within its time limit."""
    with _expiry_is_a_failure(item):
        try:
            return (yield)
        finally:
            if _engine_of(item) == "ray" and (nextitem is None or _engine_of(nextitem) != "ray"
                                              or "ray" in _STALLED):
                _ray_down()


# --- end of scale-out engines ---------------------------------------------------------------------


# --- nested environments: packages from the running test environment, never from the base Python ---


def build_checkout_wheel(dest: Path) -> Path:
    """A wheel of this checkout, built by hand so no build backend (or index) is needed."""
    import base64
    import csv
    import hashlib
    import io
    import tomllib
    import zipfile

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


# written by the installer, not part of a wheel
_INSTALL_ONLY = {"INSTALLER", "RECORD", "REQUESTED", "direct_url.json"}


def wheel_from_installed(dist, dest: Path) -> Path:
    """Pack an installed distribution (an ``importlib.metadata.Distribution``) back into a wheel.

    The files its RECORD lists inside site-packages, its own WHEEL file and a new RECORD; the
    wheel's tag is the first of its WHEEL tags that this interpreter supports.  Scripts (outside
    site-packages) are left out: pip writes console scripts again from ``entry_points.txt``."""
    import base64
    import csv
    import hashlib
    import io
    import zipfile

    from packaging.tags import parse_tag, sys_tags
    from packaging.utils import canonicalize_name

    name = dist.metadata["Name"]
    wheel_meta = dist.read_text("WHEEL")
    if wheel_meta is None or dist.files is None:
        pytest.fail(f"{name} was not installed from a wheel (no WHEEL or RECORD file): cannot pack it again")
    tags = [t for line in wheel_meta.splitlines() if line.startswith("Tag:")
            for t in parse_tag(line.split(":", 1)[1].strip())]
    supported = set(sys_tags())
    tag = next((t for t in tags if t in supported), None)
    if tag is None:
        pytest.fail(f"{name}: none of its wheel tags {tags} is supported by this interpreter")
    site = Path(dist.locate_file("")).resolve()
    files: list[tuple[str, bytes]] = []
    info_dir = None
    for rel in dist.files:
        path = Path(dist.locate_file(rel)).resolve()
        if not path.is_relative_to(site) or "__pycache__" in rel.parts or not path.is_file():
            continue
        arc = path.relative_to(site).as_posix()
        if rel.parts[0].endswith(".dist-info"):
            info_dir = rel.parts[0]
            if rel.name in _INSTALL_ONLY:
                continue
        files.append((arc, path.read_bytes()))
    if info_dir is None:
        pytest.fail(f"{name}: its RECORD lists no .dist-info folder")
    record = io.StringIO()
    w = csv.writer(record, lineterminator="\n")
    for arc, data in files:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        w.writerow([arc, f"sha256={digest}", len(data)])
    w.writerow([f"{info_dir}/RECORD", "", ""])
    files.append((f"{info_dir}/RECORD", record.getvalue().encode()))
    wheel = dest / f"{canonicalize_name(name).replace('-', '_')}-{dist.version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in files:
            z.writestr(arc, data)
    return wheel


def _runtime_closure(requirements: list[str]) -> list:
    """The installed distributions these requirements need, transitively (markers evaluated here)."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, object] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            pytest.fail(f"{req.name} is required by tidymark but not installed in the test environment")
        if not req.specifier.contains(dist.version, prereleases=True):
            pytest.fail(f"the test environment has {req.name} {dist.version}, which does not satisfy {req}")
        seen[key] = dist
        todo.extend(Requirement(r) for r in (dist.requires or []))
    return list(seen.values())


def _setuptools_wheels(dest: Path) -> list[Path]:
    """Wheels of setuptools (the build backend of source installs) without the index: the one of the
    test environment, when installed, and the one virtualenv (pre-commit's dependency) embeds."""
    import importlib.metadata as md

    found = []
    try:
        found.append(wheel_from_installed(md.distribution("setuptools"), dest))
    except md.PackageNotFoundError:
        pass
    try:
        from virtualenv.seed.wheels.embed import get_embed_wheel

        embedded = get_embed_wheel("setuptools", f"{sys.version_info[0]}.{sys.version_info[1]}")
    except ImportError:
        embedded = None
    if embedded is not None and not (dest / Path(str(embedded.path)).name).exists():
        import shutil

        found.append(Path(shutil.copy2(embedded.path, dest)))
    return found


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A folder of wheels for ``pip install --no-index --find-links``: this checkout's tidymark, every
    distribution its dependencies need (packed from the running test environment), and setuptools
    for source builds.  A nested virtualenv made from it sees nothing of the base interpreter."""
    import tomllib

    dest = tmp_path_factory.mktemp("wheelhouse")
    build_checkout_wheel(dest)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for dist in _runtime_closure(deps):
        wheel_from_installed(dist, dest)
    _setuptools_wheels(dest)
    return dest


@pytest.fixture(scope="session")
def offline_pip(wheelhouse) -> dict:
    """Environment variables that make pip (also when pre-commit or a build isolation runs it)
    install only from the wheelhouse, never from the index or the base interpreter."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="session")
def repo_clone(tmp_path_factory) -> Path:
    """A git clone of this repository: what a user's pre-commit `repo:`, Action `uses:` or
    `pip install git+…` URL gets.  Skips when the checkout is not a git repository."""
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    inside = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-inside-work-tree"],
                            capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        pytest.skip(f"{ROOT} is not a git checkout")
    dest = tmp_path_factory.mktemp("clone") / "tidymark"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True, capture_output=True, timeout=300)
    return dest


@pytest.fixture(scope="session")
def commit_in_clone(repo_clone):
    """``commit_in_clone(rev)``: the full SHA ``rev`` names in the clone; fails when the clone does
    not have it (skips only when the checkout is a shallow clone, whose history is cut)."""
    import subprocess

    def resolve(rev: str) -> str:
        proc = subprocess.run(["git", "-C", str(repo_clone), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                              capture_output=True, text=True)
        if proc.returncode == 0:
            return proc.stdout.strip()
        shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
                                 capture_output=True, text=True).stdout.strip()
        if shallow == "true":
            pytest.skip(f"{ROOT} is a shallow clone: cannot tell whether it has {rev}")
        pytest.fail(f"this repository has no commit or tag {rev!r}: a documented pin must name one it has")

    return resolve
