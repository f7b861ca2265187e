"""Ray Data adapter: tidymark as a callable class for ``Dataset.map_batches``.

    import ray
    from tidymark.adapters.ray_adapter import TidymarkLinter, read_markdown

    ds = read_markdown("s3://bucket/notes/")              # whole files: path + bytes columns
    docs = ds.map_batches(TidymarkLinter, fn_constructor_kwargs={"config": "tidymark.yaml"},
                          batch_format="pyarrow", num_cpus=0.5, compute=ray.data.ActorPoolStrategy(size=8))
    # or: docs = lint_dataset(ds, config="tidymark.yaml")   (one actor per CPU of the cluster)
    docs.write_parquet("s3://bucket/tidymark/documents/")

Each actor builds its :class:`~tidymark.batch.BatchLinter` (and so its rules) once, in
``__init__``; a batch is any table with an id column (``path`` or ``id``) and a data column
(``bytes`` or ``text``), and comes back as one row per document: the columns of
:func:`tidymark.batch.lint_table` (``diagnostics`` as a list of structs, ``fixed`` text where
``fix=True`` changed it).  :func:`explode_diagnostics` turns those rows into one row per
diagnostic.  Install with ``pip install "tidymark[ray]"``.

``tidymark check|fix --engine ray`` does not use Ray Data: it runs :func:`lint_unit` as plain Ray
tasks over the units of :func:`plan_units` (see the section at the end of this module).
"""

from __future__ import annotations

from typing import Any, Sequence

from tidymark.batch import BatchLinter, explode_diagnostics, lint_table

MARKDOWN_EXTENSIONS = ("md", "markdown")
# One linter actor per CPU, each reserving half a logical CPU: a pool reserving every CPU would
# leave none for the read tasks, and the run would wait for ever (Ray does not pin actors to
# cores, so each actor still uses a whole core while the short reads fit in between).
ACTOR_CPUS = 0.5

__all__ = ["TidymarkLinter", "read_markdown", "read_table", "lint_dataset", "explode", "write_results"]


def _as_table(batch: Any):
    import pyarrow as pa

    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, dict):
        return pa.table({k: (list(v) if not isinstance(v, (pa.Array, pa.ChunkedArray)) else v)
                         for k, v in batch.items()})
    return pa.Table.from_pandas(batch, preserve_index=False)  # a pandas DataFrame


def _pick(names: Sequence[str], wanted: str | None, choices: Sequence[str], what: str) -> str:
    if wanted is not None:
        if wanted not in names:
            raise KeyError(f"no {what} column {wanted!r} in the batch (columns: {', '.join(names)})")
        return wanted
    for c in choices:
        if c in names:
            return c
    raise KeyError(f"no {what} column in the batch: expected one of {', '.join(choices)} "
                   f"(columns: {', '.join(names)})")


class TidymarkLinter:
    """A callable class for ``map_batches``: lints (or fixes) one batch of documents.

    Keyword arguments are those of :class:`~tidymark.batch.BatchLinter` (``settings``,
    ``config``, ``select``, ``ignore``, ``extend_select``, ``unsafe``, ``fix``, ``discover``)
    plus ``id_column`` / ``data_column`` (default: ``path`` or ``id``; ``bytes`` or ``text``)
    and ``keep`` (input columns copied to the output, e.g. an index).
    """

    def __init__(self, *, id_column: str | None = None, data_column: str | None = None,
                 keep: Sequence[str] = (), **linter_kwargs):
        self.linter = BatchLinter(**linter_kwargs)
        self.id_column = id_column
        self.data_column = data_column
        self.keep = tuple(keep)

    def __call__(self, batch):
        table = _as_table(batch)
        names = table.column_names
        id_col = _pick(names, self.id_column, ("path", "id"), "id")
        data_col = _pick(names, self.data_column, ("bytes", "text"), "data")
        return lint_table(self.linter, table, id_col, data_col, self.keep)


def explode(batch):
    """``map_batches`` function: document rows -> one row per diagnostic."""
    return explode_diagnostics(_as_table(batch))


def read_markdown(source, *, file_extensions: Sequence[str] | None = MARKDOWN_EXTENSIONS, **read_args):
    """Whole Markdown files as a Dataset with ``path`` and ``bytes`` columns.

    ``source``: a folder, an object-store prefix (``s3://``, ``gs://``, ``abfs://``, …) or a
    list of files; never split into lines.  With a list of files, ``file_extensions=None``
    reads exactly those files.
    """
    import ray.data

    return ray.data.read_binary_files(source, include_paths=True, file_extensions=
                                      list(file_extensions) if file_extensions else None, **read_args)


def read_table(source, fmt: str | None = None, **read_args):
    """Parquet or JSON Lines with a text column, as a Dataset."""
    import ray.data

    fmt = fmt or table_format(source)
    if fmt == "parquet":
        return ray.data.read_parquet(source, **read_args)
    return ray.data.read_json(source, lines=True, **read_args)


def table_format(source) -> str:
    s = str(source[0] if isinstance(source, (list, tuple)) else source).lower().rstrip("/")
    return "json" if s.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz", ".ndjson")) else "parquet"


def lint_dataset(ds, *, concurrency: int | None = None, batch_size: int | None = 64,
                 id_column: str | None = None, data_column: str | None = None, keep: Sequence[str] = (),
                 num_cpus: float = ACTOR_CPUS, **linter_kwargs):
    """``ds.map_batches(TidymarkLinter, ...)``: one row per document (see :class:`TidymarkLinter`).

    The configuration is validated here, on the driver, before any actor starts.
    """
    import ray
    import ray.data

    BatchLinter(**linter_kwargs)  # raises ConfigError now rather than in every actor
    kwargs = dict(linter_kwargs, id_column=id_column, data_column=data_column, keep=tuple(keep))
    size = concurrency or int(ray.cluster_resources().get("CPU", 1))
    # a fixed pool: one actor per CPU from the start (see ACTOR_CPUS)
    return ds.map_batches(TidymarkLinter, fn_constructor_kwargs=kwargs, batch_format="pyarrow",
                          batch_size=batch_size, num_cpus=num_cpus,
                          compute=ray.data.ActorPoolStrategy(size=max(1, size)))


def write_results(documents, output_dir: str, *, fixed: bool = False) -> None:
    """Write ``diagnostics/`` (one row per diagnostic) and, with ``fixed``, ``fixed/`` (id and
    fixed text of the changed documents) as Parquet under ``output_dir`` (a folder or URI)."""
    base = str(output_dir).rstrip("/")
    if "://" not in base:
        import os

        base = os.path.abspath(base)  # relative to the driver, not to a worker's folder
    documents.map_batches(explode, batch_format="pyarrow").write_parquet(f"{base}/diagnostics")
    if fixed:
        documents.map_batches(changed_only, batch_format="pyarrow").write_parquet(f"{base}/fixed")


def changed_only(batch):
    """``map_batches`` function: ``id``, ``sha256`` and ``fixed`` of the documents fixing changed."""
    t = _as_table(batch)
    return t.filter(t.column("changed")).select(["id", "sha256", "fixed"])


# --------------------------------------------------------------------------- `--engine ray` (Ray core tasks)
#
# `tidymark check|fix --engine ray` does not go through Ray Data: measured on 2 cores, Ray Data's own
# machinery (its stats, autoscaling and actor-location actors, the Parquet footer readers, read tasks
# in workers of their own, `import ray.data` in every one of those processes and its streaming
# executor on the driver) cost 10-15 CPU-seconds more per run than plain tasks: as much as the process
# pool's whole run on 3,000 documents.  The CLI's engine is a list of *units* planned on
# the driver (a chunk of files, some row groups of a Parquet file, a byte range of a JSON Lines file),
# each run by one Ray task that reads its own input, lints it with the worker's cached BatchLinter,
# writes its part of ``--output-dir`` itself and returns the document rows (Arrow, no fixed text unless
# asked).  Only the driver's list of units and the rows cross the object store, never the documents.

#: Files per unit (at most; fewer when there are few files, so every CPU gets several units).
FILES_PER_UNIT = 128
#: Parquet rows per unit (at most; row groups are never split).
ROWS_PER_UNIT = 2048
#: JSON Lines files are split into byte ranges of at least this size (uncompressed files only).
JSONL_SPLIT_BYTES = 64 * 1024 * 1024
#: Rows and files are dealt into about this many units per CPU, so that no CPU idles at the end.
UNITS_PER_CPU = 4
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4", ".br")


def filesystem(uri: str):
    """``(pyarrow FileSystem, path)`` for a local path or a URI, as Ray Data resolves them:
    pyarrow's own filesystems (local, ``s3://``, ``gs://``, ``hdfs://``), else fsspec's."""
    import pyarrow as pa
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        import fsspec

        fs, path = fsspec.core.url_to_fs(uri)
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


_FILESYSTEMS: dict = {}


def _cached_filesystem(uri: str):
    if uri not in _FILESYSTEMS:
        _FILESYSTEMS[uri] = filesystem(uri)[0]
    return _FILESYSTEMS[uri]


def _listing(fs, root: str, suffixes: Sequence[str]) -> list[str]:
    """``root`` if it is a file, else the files under it with one of ``suffixes`` (any case), sorted;
    like Ray Data's listing, paths whose part below ``root`` starts with ``.`` or ``_`` are left out."""
    import pyarrow.fs as pafs

    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"no such file or folder: {root}")
    if info.type == pafs.FileType.File:
        return [root]
    base = root.rstrip("/")
    found = []
    for f in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
        rel = f.path[len(base):].lstrip("/")
        if f.is_file and f.path.startswith(base) and not rel.startswith((".", "_")) \
                and rel.lower().endswith(tuple(suffixes)):
            found.append(f.path)
    return sorted(found)


def _deal(items: list, per: int) -> list[list]:
    return [items[i:i + per] for i in range(0, len(items), per)]


def plan_units(kind: str, *, files: Sequence[str] = (), source: str = "", fmt: str | None = None,
               cpus: int = 1) -> list[tuple]:
    """The units of one run (see above): ``kind`` is ``files`` (local ``files``), ``markdown-uri``
    or ``table`` (``source``: a folder, a file or a URI)."""
    target = max(1, cpus * UNITS_PER_CPU)
    if kind == "files":
        per = max(1, min(FILES_PER_UNIT, -(-len(files) // target)))
        return [("files", chunk) for chunk in _deal(list(files), per)]
    fs, root = filesystem(source)
    if kind == "markdown-uri":
        paths = _listing(fs, root, tuple(f".{e}" for e in MARKDOWN_EXTENSIONS))
        per = max(1, min(FILES_PER_UNIT, -(-len(paths) // target)))
        return [("uri-files", source, chunk) for chunk in _deal(paths, per)]
    if (fmt or table_format(source)) == "json":
        units = []
        for path in _listing(fs, root, (".json", ".jsonl", ".ndjson") + tuple(
                f".{e}{c}" for e in ("json", "jsonl") for c in _COMPRESSED)):
            size = fs.get_file_info(path).size or 0
            if path.lower().endswith(_COMPRESSED) or size <= JSONL_SPLIT_BYTES:
                units.append(("jsonl", source, path, 0, None))
                continue
            step = max(JSONL_SPLIT_BYTES, -(-size // target))
            units += [("jsonl", source, path, s, min(size, s + step)) for s in range(0, size, step)]
        return units
    paths = _listing(fs, root, (".parquet",))
    if len(paths) >= target:  # enough files to go round: one unit per file, its row groups read one by one
        return [("parquet", source, p, None) for p in paths]
    import pyarrow.parquet as pq

    rows = []  # (path, row group, rows), footers read here: few files
    for p in paths:
        with fs.open_input_file(p) as fh:
            meta = pq.ParquetFile(fh).metadata
        rows += [(p, i, meta.row_group(i).num_rows) for i in range(meta.num_row_groups)]
    per = max(1, min(ROWS_PER_UNIT, -(-sum(n for _, _, n in rows) // target)))
    units, cur, cur_rows = [], None, 0
    for p, i, n in rows:
        if cur is not None and cur[2] == p and cur_rows + n <= per:
            cur[3].append(i)
            cur_rows += n
            continue
        cur = ["parquet", source, p, [i]]
        cur_rows = n
        units.append(cur)
    return [tuple(u) for u in units]


def lint_unit(unit: tuple, part: int, output_dir: str | None, linter_kwargs: dict, *,
              id_column: str | None = None, data_column: str | None = None, keep_fixed: bool = False):
    """Run one unit of :func:`plan_units` (in a Ray task): read, lint, write ``--output-dir``'s part
    files, return the document rows (:func:`tidymark.batch.lint_table`) without ``fixed`` unless
    ``keep_fixed``; None for a byte range of a JSON Lines file in which no line starts."""
    import pyarrow as pa

    from tidymark.adapters.dask_adapter import linter_for, read_files

    linter = linter_for(**linter_kwargs)
    kind = unit[0]

    def run(name, table, id_col, data_col, err_col=None):
        docs = lint_table(linter, table, id_col, data_col, error_column=err_col)
        if output_dir is not None:
            from tidymark.adapters.dask_adapter import _write_part

            _write_part(docs, output_dir, name, bool(linter_kwargs.get("fix")))
        return docs if keep_fixed else docs.drop_columns(["fixed"])

    if kind == "files":
        return run(part, read_files(unit[1]), "path", "bytes", "read_error")
    if kind == "uri-files":
        opener = _cached_filesystem(unit[1]).open_input_stream
        return run(part, read_files(unit[2], opener), "path", "bytes", "read_error")
    if kind == "jsonl":
        table = _read_jsonl(_cached_filesystem(unit[1]), *unit[2:])
        if table is None:
            return None
        names = table.column_names
        return run(part, table, _pick(names, id_column, ("path", "id"), "id"),
                   _pick(names, data_column, ("bytes", "text"), "data"))
    import pyarrow.parquet as pq

    _, source, path, groups = unit
    with _cached_filesystem(source).open_input_file(path) as fh:
        pf = pq.ParquetFile(fh)
        names = pf.schema_arrow.names
        id_col = _pick(names, id_column, ("path", "id"), "id")
        data_col = _pick(names, data_column, ("bytes", "text"), "data")
        columns = list(dict.fromkeys([id_col, data_col]))  # only what is linted
        if groups is not None:
            return run(part, pf.read_row_groups(groups, columns=columns), id_col, data_col)
        # a whole file (one of many): its row groups one by one, each its own part file
        docs = [run(f"{part:05d}-{i:05d}", pf.read_row_group(i, columns=columns), id_col, data_col)
                for i in range(pf.num_row_groups)]
    return pa.concat_tables(docs) if docs else None


def _read_jsonl(fs, path: str, start: int, end: int | None):
    """The lines of a JSON Lines file that start in ``[start, end)`` (all of it when ``end`` is
    None), read with pandas as Ray Data's ``read_json(lines=True)`` reads them."""
    import io

    import pandas as pd
    import pyarrow as pa

    if end is None:
        with fs.open_input_stream(path, compression="detect") as fh:
            data = fh.read()
    else:
        with fs.open_input_file(path) as fh:
            size = fh.size()
            begin = start
            if start > 0:  # the line that starts at or after `start`
                fh.seek(start - 1)
                begin = _next_line(fh, start - 1, size)
            stop = _next_line(fh, end - 1, size) if end < size else size
            fh.seek(begin)
            data = fh.read(max(0, stop - begin))
    if not data.strip():
        return None
    df = pd.read_json(io.BytesIO(data), lines=True)
    return pa.Table.from_pandas(df, preserve_index=False)


def _next_line(fh, pos: int, size: int) -> int:
    """The offset just after the first newline at or after ``pos`` (``size`` if none)."""
    fh.seek(pos)
    while pos < size:
        chunk = fh.read(1 << 16)
        if not chunk:
            break
        k = chunk.find(b"\n")
        if k >= 0:
            return pos + k + 1
        pos += len(chunk)
    return size
