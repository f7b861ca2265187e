"""Adapters that run the batch API (:mod:`tidymark.batch`) on distributed engines.

- :mod:`tidymark.adapters.ray_adapter`: Ray Data (``pip install "tidymark[ray]"``).
- :mod:`tidymark.adapters.dask_adapter`: Dask bags and dataframes (``pip install "tidymark[dask]"``).
- :mod:`tidymark.commands.engines`: ``tidymark check|fix --engine ray|dask``.

Each engine reads whole documents, builds one :class:`~tidymark.batch.BatchLinter` per
worker, and returns one row per document (see :func:`tidymark.batch.lint_table`).
"""
