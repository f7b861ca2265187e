"""The one atomic writer: every file tidymark writes (fixed notes, the journal, the baseline,
cache entries, files the commands create) goes through :func:`replace_via_temp`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_via_temp(path: Path, data: bytes, suffix: str, before_replace=None, *, durable: bool = True,
                     prefix: str | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it (unless not ``durable``:
    a cache entry needs to be whole, not to survive a power cut), call
    ``before_replace(tmp)`` (which may raise to give up), then rename it over ``path``.  On
    any failure the temporary file is removed and ``path`` is untouched."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}." if prefix is None else prefix, suffix=suffix,
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if before_replace is not None:
            before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
