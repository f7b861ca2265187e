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
