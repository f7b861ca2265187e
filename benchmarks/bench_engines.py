#!/usr/bin/env python3
"""Documents per second per core: the CLI's process pool, the Ray adapter and the Dask adapter.

    python benchmarks/bench_engines.py [--corpus ../shared/bench-corpus] [--docs 50000]
                                       [--jobs N] [--runs ROWS] [--workdir DIR] [--json FILE]

The corpus's Markdown files are replicated to ``--docs`` documents (copies 2…k end with a
``<!-- copy N -->`` line, so no two documents are the same bytes), written once as files
(``files/``) and once as Parquet (``corpus.parquet``, columns ``id`` and ``bytes``, row
groups of 512 documents).  Each row is one whole process, timed from spawn to exit, with
``-j/--jobs`` workers (default: every core):

files (a folder of Markdown files; diagnostics printed as text to /dev/null)
  local        ``tidymark check --no-cache -q DIR``            the CLI's process pool
  ray          ``tidymark check --engine ray -q DIR``
  dask         ``tidymark check --engine dask -q DIR``
parquet (``corpus.parquet``; diagnostics written as Parquet to a scratch folder)
  pool         a plain ``ProcessPoolExecutor`` running BatchLinter over row groups
  ray-parquet  ``tidymark check --engine ray corpus.parquet --text-column bytes --output-dir OUT``
  dask-parquet ``tidymark check --engine dask corpus.parquet --text-column bytes --output-dir OUT``

For each row: wall time, CPU seconds of the whole process tree (sampled from /proc every
0.2 s, so Ray's raylet and workers count), documents per second, documents per second per
core (wall rate / workers) and per CPU-second, and the overhead over the baseline of its
group (``local`` for files, ``pool`` for Parquet): ``wall / baseline wall - 1``.  CPU-seconds
are less disturbed than wall time on a shared machine; both are reported.  The report
(Markdown) goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_CORPUS = ROOT.parent / "shared" / "bench-corpus"
ROW_GROUP = 512
ROWS = ("local", "ray", "dask", "pool", "ray-parquet", "dask-parquet")
BASELINE = {"local": "local", "ray": "local", "dask": "local", "pool": "pool", "ray-parquet": "pool",
            "dask-parquet": "pool"}
CLK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    sys.stderr.write(f"[bench-engines] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- corpus


def source_files(corpus: Path) -> list[Path]:
    out = []
    for folder, dirs, names in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "node_modules")
        out += [Path(folder) / n for n in sorted(names) if n.endswith((".md", ".markdown")) and not n.startswith(".")]
    return sorted(out)


def build_corpus(corpus: Path, n_docs: int, work: Path) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files_dir, parquet = work / "files", work / "corpus.parquet"
    stamp = work / f"built-{n_docs}"
    if stamp.exists():
        return files_dir, parquet
    shutil.rmtree(files_dir, ignore_errors=True)
    src = source_files(corpus)
    if not src:
        raise SystemExit(f"no Markdown files under {corpus}")
    log(f"replicating {len(src)} files to {n_docs} documents in {work}")
    datas = [p.read_bytes() for p in src]
    ids, blobs = [], []
    writer = None
    schema = pa.schema([("id", pa.string()), ("bytes", pa.binary())])
    for i in range(n_docs):
        copy, k = divmod(i, len(src))
        data = datas[k]
        if copy:
            nl = b"\r\n" if b"\r\n" in data[:4096] else b"\n"
            data = data + (b"" if data.endswith((b"\n", b"\r")) else nl) + f"<!-- copy {copy + 1} -->".encode() + nl
        rel = Path(f"r{copy + 1}") / src[k].relative_to(corpus)
        dest = files_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        ids.append(rel.as_posix())
        blobs.append(data)
        if len(ids) == ROW_GROUP * 8 or i == n_docs - 1:
            t = pa.table({"id": ids, "bytes": blobs}, schema=schema)
            if writer is None:
                writer = pq.ParquetWriter(parquet, schema)
            writer.write_table(t, row_group_size=ROW_GROUP)
            ids, blobs = [], []
    writer.close()
    stamp.touch()
    return files_dir, parquet


# --------------------------------------------------------------------------- measuring


def _tree_cpu(root: int, seen: dict[int, float]) -> None:
    """Record the CPU seconds of every process descending from ``root``."""
    parent: dict[int, int] = {}
    stats: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                raw = fh.read().decode(errors="replace")
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2:].split()
        pid = int(entry)
        parent[pid] = int(rest[1])
        stats[pid] = (int(rest[11]) + int(rest[12])) / CLK
    for pid, cpu in stats.items():
        p = pid
        for _ in range(64):
            if p == root:
                seen[pid] = max(seen.get(pid, 0.0), cpu)
                break
            p = parent.get(p, 0)
            if p <= 1:
                break


def measure(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    seen: dict[int, float] = {}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            _tree_cpu(proc.pid, seen)
            stop.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    # anything the sampler missed between samples: the reaped direct child's own usage
    return {"cmd": cmd, "wall": wall, "cpu": sum(seen.values()), "rc": proc.returncode,
            "stderr_tail": err.decode(errors="replace")[-2000:]}


POOL_SCRIPT = r"""
import sys, time
from concurrent.futures import ProcessPoolExecutor
import pyarrow.parquet as pq

PATH, JOBS = sys.argv[1], int(sys.argv[2])
_L = None

def lint_group(i):
    global _L
    from tidymark.batch import BatchLinter, lint_table
    if _L is None:
        _L = BatchLinter()
    t = pq.ParquetFile(PATH).read_row_group(i)
    out = lint_table(_L, t, "id", "bytes")
    return sum(len(x) for x in out.column("diagnostics").to_pylist())

if __name__ == "__main__":
    import multiprocessing
    n = pq.ParquetFile(PATH).num_row_groups
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(JOBS, mp_context=ctx) as pool:
        total = sum(pool.map(lint_group, range(n)))
    print(total)
"""


def commands(row: str, files_dir: Path, parquet: Path, out: Path, jobs: int, script: Path) -> list[str]:
    tm = [sys.executable, "-m", "tidymark"]
    j = ["-j", str(jobs)]
    if row == "local":
        return tm + ["check", "--no-cache", "-q", "--exit-zero", *j, str(files_dir)]
    if row in ("ray", "dask"):
        return tm + ["check", "--engine", row, "-q", "--exit-zero", "--no-progress", *j, str(files_dir)]
    if row == "pool":
        return [sys.executable, str(script), str(parquet), str(jobs)]
    engine = row.split("-")[0]
    return tm + ["check", "--engine", engine, "-q", "--exit-zero", "--no-progress", *j, str(parquet),
                 "--text-column", "bytes", "--id-column", "id", "--output-dir", str(out / row)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--docs", type=int, default=50_000)
    ap.add_argument("--jobs", type=int, default=0, help="workers per engine (default: every core)")
    ap.add_argument("--runs", default=",".join(ROWS), help=f"rows to run, of: {', '.join(ROWS)}")
    ap.add_argument("--workdir", type=Path, help="keep the replicated corpus here (reused when present)")
    ap.add_argument("--json", type=Path, help="write the raw numbers here")
    args = ap.parse_args(argv)
    rows = [r.strip() for r in args.runs.split(",") if r.strip()]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        ap.error(f"unknown rows: {bad}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    jobs = args.jobs or cores
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tidymark-bench-engines-"))
    work.mkdir(parents=True, exist_ok=True)
    files_dir, parquet = build_corpus(args.corpus, args.docs, work)
    script = work / "pool.py"
    script.write_text(POOL_SCRIPT, encoding="utf-8")
    out = work / "out"
    results = {}
    # Ray runs its workers at nice 15 unless told otherwise; every row runs at normal priority
    env = dict(os.environ, RAY_DATA_DISABLE_PROGRESS_BARS="1", RAY_worker_niceness="0")
    for row in rows:
        shutil.rmtree(out / row, ignore_errors=True)
        cmd = commands(row, files_dir, parquet, out, jobs, script)
        log(f"{row}: {' '.join(cmd)}")
        res = measure(cmd, work, env)
        if res["rc"] not in (0, 1):
            log(f"{row} FAILED (exit {res['rc']}):\n{res['stderr_tail']}")
        log(f"{row}: {res['wall']:.1f} s wall, {res['cpu']:.1f} CPU s")
        results[row] = res
    report = render(results, args.docs, jobs, cores, args.corpus)
    sys.stdout.write(report)
    if args.json:
        args.json.write_text(json.dumps({"docs": args.docs, "jobs": jobs, "cores": cores, "results": results},
                                        indent=2), encoding="utf-8")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["rc"] in (0, 1) for r in results.values()) else 1


def render(results: dict, docs: int, jobs: int, cores: int, corpus: Path) -> str:
    lines = [f"Documents: {docs:,} (replicated from {corpus.name}); workers per engine: {jobs}; "
             f"cores: {cores}; Python {platform.python_version()} on {platform.machine()}.", "",
             "| input | engine | wall s | CPU s | docs/s | docs/s per core | docs per CPU-s | overhead (wall) "
             "| overhead (CPU) |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row, r in results.items():
        base = results.get(BASELINE[row])
        ow = oc = "—"
        if base and row != BASELINE[row] and r["rc"] in (0, 1):
            ow = f"{r['wall'] / base['wall'] - 1:+.0%}"
            oc = f"{r['cpu'] / base['cpu'] - 1:+.0%}" if base["cpu"] else "—"
        rate = docs / r["wall"]
        status = "" if r["rc"] in (0, 1) else f" (FAILED, exit {r['rc']})"
        lines.append(f"| {'parquet' if row in ('pool', 'ray-parquet', 'dask-parquet') else 'files'} | {row}{status} "
                     f"| {r['wall']:.1f} | {r['cpu']:.1f} | {rate:.1f} | {rate / jobs:.1f} | "
                     f"{docs / r['cpu'] if r['cpu'] else 0:.1f} | {ow} | {oc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
