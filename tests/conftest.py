import sys
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
    """A few hundred documents from seeds/: LF, CRLF, BOM, edited copies, Latin-1, UTF-16, binary,
    and a subfolder with its own configuration (severity, per-file-ignores, unsafe fixes)."""
    seeds = sorted(p for p in (ROOT / "seeds").glob("*.md") if p.name != "README.md")
    dest.mkdir(parents=True, exist_ok=True)
    for p in seeds:
        lf = p.read_bytes().replace(b"\r\n", b"\n")
        stem = p.name[:-3]
        variants = {"lf": lf, "crlf": lf.replace(b"\n", b"\r\n"), "bom": b"\xef\xbb\xbf" + lf,
                    "bomcrlf": b"\xef\xbb\xbf" + lf.replace(b"\n", b"\r\n"),
                    "edit1": lf + b"\n<!-- variant 1 -->\n", "edit2": lf.replace(b"\n\n", b"\n\n\n", 3),
                    "cut": lf[: len(lf) * 2 // 3]}
        for name, data in variants.items():
            (dest / name).mkdir(exist_ok=True)
            (dest / name / f"{stem}.md").write_bytes(data)
        text = lf.decode("utf-8")
        latin = text.encode("latin-1", "replace") + "Café crème, naïve.\n".encode("latin-1")
        (dest / "latin1").mkdir(exist_ok=True)
        (dest / "latin1" / f"{stem}.md").write_bytes(latin)
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


@pytest.fixture(scope="session")
def ray_session():
    """The one Ray instance of the test run (local, two CPUs, no dashboard).

    tests/test_ray.py shuts it down when its last test is done (see its module fixture)."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("pyarrow")
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    yield ray
    if started and ray.is_initialized():
        ray.shutdown()
# --- end of scale-out engines ---------------------------------------------------------------------
