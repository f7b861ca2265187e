"""``tidymark check|fix --engine ray|dask``: the command line on a distributed engine.

Inputs (one kind per run):

- local files and folders: walked exactly as ``--engine local`` walks them (``.gitignore``,
  ``exclude``, hidden folders), each file's configuration discovered as the CLI does;
- an object-store prefix or URL folder of Markdown files (``s3://bucket/notes/``): whole
  files, the configuration of the current folder (or ``--config``);
- Parquet or JSON Lines with a text column (``--text-column``, ``--id-column``).

Without ``--output-dir`` the diagnostics are printed like ``--engine local`` prints them
(``text`` or ``json``, same order, same summary) and ``fix`` rewrites local files in place
(only files whose bytes are still those that were checked).  With ``--output-dir DIR`` (a
folder or URI), the engine writes Parquet: ``DIR/diagnostics/`` (one row per diagnostic, see
:mod:`tidymark.batch`), for ``fix`` ``DIR/fixed/`` (``id``, ``sha256`` of the original,
``fixed`` text; sources are never touched), and ``DIR/summary.json``; only the summary is
printed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ENGINES = ("local", "ray", "dask")
TABLE_SUFFIXES = (".parquet", ".pq", ".jsonl", ".ndjson", ".json", ".jsonl.gz", ".json.gz")
FILES_PER_TASK = 128


class UsageError(Exception):
    pass


@dataclass
class Job:
    """What to lint, as the driver sees it."""

    kind: str                                  # files | markdown-uri | table
    mode: str                                  # check | fix
    linter: dict                               # BatchLinter keyword arguments
    files: list[str] = field(default_factory=list)        # kind=files: absolute paths to read
    display: dict[str, str] = field(default_factory=dict)  # id -> path as shown
    order: dict[str, int] = field(default_factory=dict)   # id -> position in the CLI's order
    pre: list[dict] = field(default_factory=list)         # document rows made on the driver (TM001)
    source: str = ""                           # kind=markdown-uri | table
    id_column: str | None = None
    text_column: str | None = None
    output_dir: str | None = None
    jobs: int = 0
    progress: bool = False
    keep_fixed: bool = False                   # fixed text comes back to the driver (in-place fix)


def _is_uri(p: str) -> bool:
    return "://" in p


_MANGLED = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")


def _restore_uri(p: str) -> str:
    """The command line's paths are ``Path`` objects, which fold ``s3://b/k`` into ``s3:/b/k``."""
    m = _MANGLED.match(p)
    if m is None or "://" in p:
        return p
    scheme, rest = m.groups()
    return f"file:///{rest}" if scheme.lower() in ("file", "local") else f"{scheme}://{rest}"


def _is_table(p: str) -> bool:
    return p.lower().rstrip("/").endswith(TABLE_SUFFIXES)


def build_job(args, mode: str, resolver, top, cli: dict) -> Job:
    from tidymark.run.config import ConfigResolver
    from tidymark.run.files import Walker

    raw = [_restore_uri(str(p)) for p in (args.paths or [Path(".")])]
    text_column = getattr(args, "text_column", None)
    id_column = getattr(args, "id_column", None)
    overrides = {"select": cli["select"], "ignore": cli["ignore"], "extend_select": cli["extend_select"],
                 "unsafe": cli["unsafe_fixes"]}
    output_dir = getattr(args, "output_dir", None) or None
    if output_dir is not None and not _is_uri(output_dir):
        output_dir = str(Path(output_dir).absolute())  # workers may run in another folder
    jobs = args.jobs or 0
    wanted = args.progress if args.progress is not None else sys.stderr.isatty()
    is_table = text_column is not None or any(_is_table(p) for p in raw)
    remote = any(_is_uri(p) for p in raw)
    if (is_table or remote) and len(raw) != 1:
        raise UsageError("give one object-store prefix or one table (Parquet / JSON Lines) per run")
    if is_table or remote:
        if mode == "fix" and output_dir is None:
            raise UsageError("`fix` on an object store or a table needs --output-dir (sources are never rewritten)")
        base = ConfigResolver(args.config).for_dir(Path("."))  # this folder's configuration, no overrides
        linter = dict(settings=base, fix=mode == "fix", **overrides)
        src = raw[0]
        if not _is_uri(src):
            src = str(Path(src).resolve())
        return Job("table" if is_table else "markdown-uri", mode, linter, source=src, id_column=id_column,
                   text_column=text_column or "text", output_dir=output_dir, jobs=jobs, progress=wanted)
    import stat as _stat

    config = str(Path(args.config).absolute()) if args.config else None  # workers may run elsewhere
    linter = dict(config=config, discover=config is None, fix=mode == "fix", **overrides)
    job = Job("files", mode, linter, output_dir=output_dir, jobs=jobs, progress=wanted,
              keep_fixed=mode == "fix" and output_dir is None)
    cwd = Path.cwd()
    for i, (path, problem) in enumerate(Walker(resolver.for_dir).walk([Path(p) for p in raw])):
        try:
            display = os.path.relpath(path, cwd) if path.is_absolute() else str(path)
        except ValueError:
            display = str(path)
        key = str(path.absolute())
        job.display[key] = display
        job.order[key] = i
        if problem is None:
            try:
                if not _stat.S_ISREG(os.stat(path).st_mode):
                    problem = "not a regular file"
            except OSError as exc:
                problem = f"cannot read file: {exc.strerror or exc}"
        if problem is not None:
            job.pre.append(_error_row(key, problem))
        else:
            job.files.append(key)
    return job


def _error_row(rid: str, message: str) -> dict:
    from dataclasses import replace

    from tidymark.batch import _records
    from tidymark.core.engine import IO_ERROR, engine_diagnostic

    d = replace(engine_diagnostic(IO_ERROR, message), line=1, column=1, end_line=1, end_column=1)
    return {"id": rid, "diagnostics": _records(rid, [d], "", False), "changed": False, "fixes_applied": [],
            "bytes_removed": 0, "error": message, "sha256": None, "fixed": None}


# --------------------------------------------------------------------------- engines


def _rows(table) -> Iterator[dict]:
    yield from table.to_pylist()


def run_ray(job: Job) -> Iterator[dict]:
    """Ray core tasks, one per unit (:func:`tidymark.adapters.ray_adapter.plan_units`), at most one per
    CPU at a time; rows come back in input order."""
    import logging

    import ray

    from tidymark.adapters import ray_adapter

    started = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):  # a running cluster: its own resources
            ray.init(logging_level=logging.WARNING, log_to_driver=False)
        else:
            # Ray lowers its workers' priority (nice 15) by default; a local run should get the
            # machine as `--engine local` does
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(num_cpus=job.jobs or None, include_dashboard=False, logging_level=logging.WARNING,
                     log_to_driver=False)
        started = True
    try:
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        width = max(1, min(job.jobs or cpus, cpus))
        # tasks in flight: with the whole cluster, one queued behind each running one (Ray starts it in
        # the same worker as soon as that is free); with -j N below the cluster's CPUs, exactly N
        ahead = 2 * width if width == cpus else width
        if job.kind == "files" and not job.files:
            return
        units = ray_adapter.plan_units(job.kind, files=job.files, source=job.source, cpus=width)
        task = ray.remote(num_cpus=1)(ray_adapter.lint_unit)
        kwargs = dict(id_column=job.id_column, data_column=job.text_column if job.kind == "table" else None,
                      keep_fixed=job.keep_fixed)
        progress = _Progress(len(units)) if job.progress else None
        ordered = job.output_dir is None  # printed results follow the input; --output-dir needs no order
        pending: dict = {}   # ref -> unit index
        done: dict = {}      # unit index -> rows, finished but not yet handed over
        nxt = emitted = 0
        while emitted < len(units):
            while nxt < len(units) and len(pending) < ahead and len(done) < 8 * ahead:
                pending[task.remote(units[nxt], nxt, job.output_dir, job.linter, **kwargs)] = nxt
                nxt += 1
            key = emitted if ordered else next(iter(done), None)
            if key not in done:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    done[pending.pop(ref)] = ray.get(ref)
                    if progress:
                        progress.step()
                continue  # submit the next tasks before handing rows over
            table = done.pop(key)
            emitted += 1
            if table is not None:
                yield from _rows(table)
        if progress:
            progress.close()
    finally:
        if started:
            ray.shutdown()


class _Progress:
    def __init__(self, total: int):
        self.total, self.n = total, 0
        self.step(0)

    def step(self, k: int = 1) -> None:
        self.n += k
        sys.stderr.write(f"\rtidymark --engine ray: {self.n}/{self.total} tasks")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def run_dask(job: Job) -> Iterator[dict]:
    import dask

    from tidymark.adapters import dask_adapter

    if job.kind == "markdown-uri":
        job.files = dask_adapter.list_markdown(job.source)
    if job.kind in ("files", "markdown-uri"):
        chunks = [job.files[i:i + FILES_PER_TASK] for i in range(0, len(job.files), FILES_PER_TASK)]
        tasks = [dask.delayed(dask_adapter.run_chunk)("files", c, i, job.output_dir, job.linter,
                                                       keep_fixed=job.keep_fixed)
                 for i, c in enumerate(chunks)]
    else:
        import dask.dataframe as dd

        if dask_adapter_format(job.source) == "parquet":
            # one partition per row group: dask's default ("infer", by size) gives a few large
            # partitions, too few to keep every worker busy (3 for 50,000 documents in 194 MB)
            ddf = dd.read_parquet(job.source, split_row_groups=True)
        else:
            ddf = dd.read_json(job.source, lines=True)
        tasks = [dask.delayed(dask_adapter.run_chunk)("frame", part, i, job.output_dir, job.linter,
                                                       id_column=job.id_column, data_column=job.text_column,
                                                       keep_fixed=job.keep_fixed)
                 for i, part in enumerate(ddf.to_delayed())]
    if not tasks:
        return
    import contextlib

    cm = contextlib.nullcontext()
    if job.progress:
        from dask.diagnostics import ProgressBar

        cm = ProgressBar(out=sys.stderr)
    with cm:
        results = dask.compute(*tasks, **_dask_scheduler(job))
    for table in results:
        yield from _rows(table)


def dask_adapter_format(source: str) -> str:
    from tidymark.adapters.ray_adapter import table_format

    return table_format(source)


def _dask_scheduler(job: Job) -> dict:
    """A distributed client when DASK_SCHEDULER_ADDRESS names one, else local worker processes."""
    address = os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        from dask.distributed import Client

        return {"scheduler": Client(address)}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return {"scheduler": "processes", "num_workers": job.jobs or cores}


# --------------------------------------------------------------------------- the command


def run(args, engine: str) -> int:
    """``tidymark check|fix --engine ray|dask``; returns the exit code."""
    from tidymark.commands.common import EXIT_ERROR, EXIT_OK, EXIT_PROBLEMS, cli_overrides
    from tidymark.commands.common import err as _err
    from tidymark.outputs import summary as _summary
    from tidymark.outputs.summary import closing as _closing
    from tidymark.run.config import ConfigError, ConfigResolver
    from tidymark.diagnostics import Applicability, Severity
    from tidymark.outputs.text import TextReporter
    from tidymark.plugins.registry import RegistryError
    from tidymark.run.rulebook import RuleBook

    started = time.perf_counter()
    mode = "check" if args.command == "check" else "fix"
    unsupported = [opt for opt, on in (("--diff", getattr(args, "diff", False)),
                                       ("--show-fixes", getattr(args, "show_fixes", False)),
                                       ("--baseline", args.baseline), ("--write-baseline", args.write_baseline),
                                       ("--report", args.report)) if on]
    if unsupported:
        _err(f"{', '.join(unsupported)} cannot be used with --engine {engine}; use --engine local")
        return EXIT_ERROR
    cli = cli_overrides(args)
    try:
        resolver = ConfigResolver(args.config, cli)
        top = resolver.for_dir(Path("."))
        RuleBook().rules_for(top)
        fmt = args.output_format or top.output_format or "text"
        if fmt not in ("text", "json"):
            raise UsageError(f"--output-format {fmt} cannot be used with --engine {engine}; use text or json")
        job = build_job(args, mode, resolver, top, cli)
    except (ConfigError, RegistryError, UsageError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    try:
        if engine == "ray":
            import ray  # noqa: F401
        else:
            import dask  # noqa: F401
    except ImportError:
        _err(f"--engine {engine} needs the `{engine}` extra: pip install \"tidymark[{engine}]\"")
        return EXIT_ERROR
    fail_on = Severity.parse(args.fail_on or top.fail_on)
    threshold = Applicability.UNSAFE if top.unsafe_fixes else Applicability.SAFE
    summary = _summary.new(mode)
    engine_rows = run_ray(job) if engine == "ray" else run_dask(job)
    collect = job.output_dir is None
    docs: list[dict] = []
    facts: dict[str, dict] = {}
    project: list[dict] = []
    try:
        for row in _chain(job.pre, engine_rows):
            if job.keep_fixed and row.get("fixed") is not None:
                row = _write_back(row)
            _tally(summary, row, threshold, fail_on)
            if row.get("facts"):
                facts[job.display.get(row["id"], row["id"])] = json.loads(row["facts"])
            if collect:
                row.pop("fixed", None)
                row.pop("facts", None)
                docs.append(row)
        if facts:  # cross-document rules, once over every document's facts (as the CLI runs them)
            from tidymark.batch import BatchLinter

            project = BatchLinter(**job.linter).project_records(facts)
            for key in sorted({r["id"] for r in project}):
                _tally(summary, {"changed": False, "diagnostics": [r for r in project if r["id"] == key]},
                       threshold, fail_on)
                summary["files"] -= 1  # already counted
    except (ConfigError, RegistryError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err(f"interrupted after {summary['files']} documents")
        return 130
    summary["seconds"] = time.perf_counter() - started
    out = sys.stdout
    if collect:
        if job.kind == "files":
            docs.sort(key=lambda r: job.order.get(r["id"], 1 << 62))
        # every document's diagnostics with its cross-document ones in place (as the local engine)
        from tidymark.run.results import merge_records

        extra: dict = {}
        for d in project:
            extra.setdefault(d["id"], []).append({**d, "shown": d["id"]})
        merged = merge_records(((r["id"], [{**d, "id": r["id"], "shown": job.display.get(r["id"], r["id"])}
                                            for d in r["diagnostics"]]) for r in docs),
                               extra, key=lambda rid: job.display.get(rid, rid))
        if fmt == "json":
            from tidymark.batch import to_cli_json

            json.dump([to_cli_json(d, d["shown"]) for d in merged], out, ensure_ascii=False, indent=2)
            out.write("\n")
        elif not args.statistics:  # with --statistics, the table is the text output
            for d in merged:
                app = d.get("applicability")
                mark = " [*]" if app is not None and _APP[app] >= threshold else ""
                out.write(f"{d['shown']}:{d['line']}:{d['column']}: {d['code']}{mark} {d['message']}\n")
    else:
        if project:
            _write_project(job.output_dir, project)
        _write_summary(job.output_dir, summary, engine)
    if fmt == "text" and not args.quiet and not args.statistics:
        TextReporter(out, threshold).finish(summary)
        if mode == "fix" and summary["changed_files"]:
            out.write(_closing(summary))
        if job.output_dir is not None:
            out.write(f"Results written to {job.output_dir} (diagnostics/"
                      f"{', fixed/' if mode == 'fix' else ''}, summary.json).\n")
    elif fmt == "json" and not collect:
        json.dump(_plain(summary), out, ensure_ascii=False, indent=2)
        out.write("\n")
    if args.statistics:
        (out if fmt == "text" else sys.stderr).write(_summary.statistics(summary))
    if summary["internal_errors"]:
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_OK
    if args.exit_non_zero_on_fix and mode == "fix" and summary["changed_files"]:
        return EXIT_PROBLEMS
    return EXIT_PROBLEMS if summary["failing"] else EXIT_OK


def _chain(first, second):
    yield from first
    yield from second


def _app_table():
    from tidymark.diagnostics import Applicability

    return {"safe": Applicability.SAFE, "unsafe": Applicability.UNSAFE, "display-only": Applicability.DISPLAY_ONLY}


_APP = _app_table()


def _write_back(row: dict) -> dict:
    """Write a fixed local file in place, unless it changed since it was read."""
    import hashlib

    from tidymark.run.rulebook import write_atomic

    path = Path(row["id"])
    try:
        current = path.read_bytes()
        if hashlib.sha256(current).hexdigest() != row["sha256"]:
            raise OSError("file changed on disk while tidymark was working on it; not overwritten")
        write_atomic(path, row["fixed"], current)
    except OSError as exc:
        msg = f"cannot write fixes: {exc.strerror or exc}"
        err = _error_row(row["id"], msg)
        row = dict(row, diagnostics=err["diagnostics"] + row["diagnostics"], changed=False, fixes_applied=[],
                   bytes_removed=0, error=msg)
    return row


def _tally(summary: dict, row: dict, threshold, fail_on) -> None:
    from tidymark.diagnostics import Severity
    from tidymark.outputs import summary as _summary

    _summary.count(summary, changed=row["changed"], applied=list(row.get("fixes_applied") or ()),
                   bytes_removed=row.get("bytes_removed", 0), threshold=threshold, fail_on=fail_on,
                   diagnostics=((d["code"], d["name"], Severity.parse(d["severity"]),
                                 _APP[d["applicability"]] if d.get("applicability") is not None else None)
                                for d in row["diagnostics"]))


def _plain(summary: dict) -> dict:
    out = {}
    for k, v in summary.items():
        if k == "remaining_per_rule":
            out[k] = {f"{c} ({n})": m for (c, n), m in sorted(v.items())}
        elif isinstance(v, Counter):
            out[k] = dict(sorted(v.items()))
        else:
            out[k] = v
    return out


def _write_project(output_dir: str, records: list[dict]) -> None:
    """Cross-document diagnostics, beside the engine's part files in ``diagnostics/``."""
    import pyarrow.parquet as pq

    from tidymark.batch import diagnostics_table

    table = diagnostics_table(records)
    if not _is_uri(output_dir):
        folder = Path(output_dir) / "diagnostics"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "project.parquet")
        return
    import fsspec

    fs, path = fsspec.core.url_to_fs(output_dir.rstrip("/") + "/diagnostics")
    fs.makedirs(path, exist_ok=True)
    with fs.open(f"{path}/project.parquet", "wb") as fh:
        pq.write_table(table, fh)


def _write_summary(output_dir: str, summary: dict, engine: str) -> None:
    text = json.dumps({"engine": engine, **_plain(summary)}, ensure_ascii=False, indent=2) + "\n"
    if not _is_uri(output_dir):
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "summary.json").write_text(text, encoding="utf-8")
        return
    import fsspec

    fs, path = fsspec.core.url_to_fs(output_dir.rstrip("/"))
    fs.makedirs(path, exist_ok=True)
    with fs.open(f"{path}/summary.json", "w") as fh:
        fh.write(text)
