"""Dask adapter: tidymark over Dask bags, dataframes and delayed chunks of files.

    import dask.bag as db
    from tidymark.adapters.dask_adapter import lint_bag, lint_dataframe, read_markdown

    docs = lint_bag(read_markdown("s3://bucket/notes/"), config="tidymark.yaml")  # bag of dicts
    ddf = lint_dataframe(dd.read_parquet("s3://bucket/pages/"), data_column="text")

Each worker process builds one :class:`~tidymark.batch.BatchLinter` per configuration and
keeps it (:func:`linter_for`), so rules are built once per worker, not per partition.  Whole
files are read with fsspec (local folders and object-store URIs alike), never split into
lines.  Install with ``pip install "tidymark[dask]"``.
"""

from __future__ import annotations

import pickle
from typing import Any, Iterable, Sequence

from tidymark.batch import BatchLinter, explode_diagnostics, lint_table

MARKDOWN_SUFFIXES = (".md", ".markdown")

_LINTERS: dict[bytes, BatchLinter] = {}


def linter_for(**linter_kwargs) -> BatchLinter:
    """The worker's BatchLinter for these arguments, built on first use."""
    key = pickle.dumps(sorted(linter_kwargs.items(), key=lambda kv: kv[0]))
    linter = _LINTERS.get(key)
    if linter is None:
        linter = _LINTERS[key] = BatchLinter(**linter_kwargs)
    return linter


# --------------------------------------------------------------------------- reading


def list_markdown(source: str, suffixes: Sequence[str] = MARKDOWN_SUFFIXES) -> list[str]:
    """Every Markdown file under a folder or object-store prefix (fsspec URL), sorted."""
    import fsspec

    fs, _, roots = fsspec.get_fs_token_paths(source)
    proto = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
    out = []
    for root in roots:
        found = [root] if fs.isfile(root) else fs.find(root)
        for p in found:
            if p.lower().endswith(tuple(suffixes)):
                out.append(p if proto in ("file", "local") else f"{proto}://{p}")
    return sorted(out)


def read_files(paths: Sequence[str], open_file=None):
    """``path`` and ``bytes`` of whole files (local paths or fsspec URLs) as a pyarrow.Table.

    ``open_file(path)``, when given, opens a path for binary reading instead (the Ray engine
    passes a pyarrow filesystem's ``open_input_stream``).  A file that cannot be read gets null
    bytes and its error in ``read_error``.
    """
    import pyarrow as pa

    datas, errors = [], []
    for p in paths:
        try:
            if open_file is not None:
                opened = open_file(p)
            elif "://" in p:
                import fsspec

                opened = fsspec.open(p, "rb")
            else:
                opened = open(p, "rb")
            with opened as fh:
                datas.append(fh.read())
            errors.append(None)
        except OSError as exc:
            datas.append(None)
            errors.append(f"cannot read file: {exc.strerror or exc}")
    return pa.table({"path": pa.array(list(paths), pa.string()), "bytes": pa.array(datas, pa.binary()),
                     "read_error": pa.array(errors, pa.string())})


def read_markdown(source: str, npartitions: int | None = None, files_per_partition: int = 256):
    """A bag of ``(path, bytes)`` records: whole Markdown files under a folder or prefix."""
    import dask.bag as db

    paths = list_markdown(source)
    n = npartitions or max(1, -(-len(paths) // files_per_partition))
    return db.from_sequence(paths, npartitions=n).map_partitions(_read_partition)


def _read_partition(paths: Iterable[str]) -> list[tuple[str, bytes]]:
    t = read_files(list(paths))
    return list(zip(t.column("path").to_pylist(), t.column("bytes").to_pylist()))


# --------------------------------------------------------------------------- linting


def lint_partition(records: Iterable[tuple[Any, Any]], **linter_kwargs) -> list[dict]:
    """Bag partition of ``(id, text or bytes)`` -> document dicts (``id``, ``diagnostics``
    as a list of records, ``fixed`` or None, ``changed``, ``fixes_applied``, ``bytes_removed``,
    ``error``, ``sha256``)."""
    linter = linter_for(**linter_kwargs)
    out = []
    for rid, data in records:
        diags, fixed, doc = linter.lint_one(rid, data)
        out.append({**doc, "diagnostics": diags, "fixed": fixed})
    return out


def lint_bag(bag, **linter_kwargs):
    """A bag of ``(id, text or bytes)`` -> a bag of document dicts (:func:`lint_partition`)."""
    BatchLinter(**linter_kwargs)  # validate the configuration on the client
    return bag.map_partitions(lint_partition, **linter_kwargs)


def lint_arrow(table, *, id_column: str | None = None, data_column: str | None = None,
               keep: Sequence[str] = (), **linter_kwargs):
    """A pyarrow.Table of records -> document rows (:func:`tidymark.batch.lint_table`)."""
    names = table.column_names
    id_col = id_column or ("path" if "path" in names else "id")
    data_col = data_column or ("bytes" if "bytes" in names else "text")
    return lint_table(linter_for(**linter_kwargs), table, id_col, data_col, keep)


def lint_frame(df, *, id_column: str | None = None, data_column: str | None = None, **linter_kwargs):
    """A pandas partition -> a pandas frame of document rows (``diagnostics`` as lists of dicts)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    return lint_arrow(table, id_column=id_column, data_column=data_column, **linter_kwargs).to_pandas()


def lint_dataframe(ddf, *, id_column: str | None = None, data_column: str | None = None, **linter_kwargs):
    """``ddf.map_partitions(lint_frame)``: a Dask dataframe of document rows."""
    import pandas as pd

    BatchLinter(**linter_kwargs)
    meta = pd.DataFrame({"id": pd.Series(dtype=object), "diagnostics": pd.Series(dtype=object),
                         "changed": pd.Series(dtype=bool), "fixes_applied": pd.Series(dtype=object),
                         "bytes_removed": pd.Series(dtype="int64"), "error": pd.Series(dtype=object),
                         "sha256": pd.Series(dtype=object), "facts": pd.Series(dtype=object),
                         "fixed": pd.Series(dtype=object)})
    return ddf.map_partitions(lint_frame, id_column=id_column, data_column=data_column, meta=meta,
                              **linter_kwargs)


# --------------------------------------------------------------------------- one task of the CLI


def run_chunk(kind: str, payload, part: int, output_dir: str | None, linter_kwargs: dict,
              id_column: str | None = None, data_column: str | None = None, keep_fixed: bool = False):
    """Lint one chunk (``kind`` "files": a list of paths; "frame": a pandas partition).

    With ``output_dir``, writes ``diagnostics/part-NNNNN.parquet`` (and, when fixing,
    ``fixed/part-NNNNN.parquet``) from the worker.  Returns the document rows without the
    ``fixed`` column unless ``keep_fixed``.
    """
    import pyarrow as pa

    if kind == "files":
        docs = lint_table(linter_for(**linter_kwargs), read_files(payload), "path", "bytes",
                          error_column="read_error")
    else:
        table = pa.Table.from_pandas(payload, preserve_index=False)
        docs = lint_arrow(table, id_column=id_column, data_column=data_column, **linter_kwargs)
    if output_dir is not None:
        _write_part(docs, output_dir, part, bool(linter_kwargs.get("fix")))
    return docs if keep_fixed else docs.drop_columns(["fixed"])


def _write_part(docs, output_dir: str, part: "int | str", fixed: bool) -> None:
    """``diagnostics/part-NNNNN.parquet`` (and ``fixed/…``) of one chunk; also used by ``--engine ray``."""
    import fsspec
    import pyarrow.parquet as pq

    base = output_dir.rstrip("/")
    name_of_part = f"part-{part:05d}" if isinstance(part, int) else f"part-{part}"
    outs = [("diagnostics", explode_diagnostics(docs))]
    if fixed:
        outs.append(("fixed", docs.filter(docs.column("changed")).select(["id", "sha256", "fixed"])))
    for name, table in outs:
        fs, path = fsspec.core.url_to_fs(f"{base}/{name}")
        fs.makedirs(path, exist_ok=True)
        with fs.open(f"{path}/{name_of_part}.parquet", "wb") as fh:
            pq.write_table(table, fh)
