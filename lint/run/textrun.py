"""The per-file pipeline over text that is not read from a file: standard input, an editor's buffer.

:class:`TextWorker` is the pipeline's :class:`~tidymark.run.pipeline.Worker` with its input given
as bytes and its output kept instead of written: the settings, rules, fix loop, guard and
engine diagnostics are exactly those of ``tidymark check``/``fix`` on a file at ``path``
(``--stdin-filename``), so piping a note through gives what checking the file gives.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

from tidymark.document import Document
from tidymark.run.pipeline import RunOptions, Worker
from tidymark.run.rulebook import FileResult, check_size
from tidymark.source import decode


class TextWorker(Worker):
    """A :class:`Worker` whose file is given as bytes; a fix is kept in :attr:`output`, never written."""

    def __init__(self, opts: RunOptions):
        super().__init__(replace(opts, use_cache=False, journal=None))
        self._data = b""
        self.output: bytes | None = None
        self.document: Document | None = None  # the last document read (None: it could not be decoded)

    def read(self, path: Path, settings) -> Document:
        self.document = None
        check_size(len(self._data), settings)
        dec = decode(self._data)
        doc = Document(dec.text, path, bom=dec.bom, newline=dec.newline)
        doc.raw = self._data  # type: ignore[attr-defined]
        doc.stat = None  # type: ignore[attr-defined]
        self.document = doc
        return doc

    def _write(self, path: Path, display: str, new: bytes, raw: bytes) -> None:
        self.output = new

    def process_bytes(self, path: Path, display: str, data: bytes) -> FileResult:
        """Check (or fix, per the run's mode) ``data`` as the content of ``path``.

        After a fix run :attr:`output` holds the fixed bytes, or None when nothing changed
        (or the text could not be decoded)."""
        self._data, self.output = data, None
        return self.process(path, display)


def stdin_results(item: tuple[Path, str], opts: RunOptions, data: bytes, out) -> Iterator[FileResult]:
    """The result of one note given on standard input (``tidymark check|fix -``).

    In a fix run the note goes to ``out`` (a binary stream) fixed, or as it came when there
    is nothing to fix or it cannot be decoded (a pipe never loses the note)."""
    path, display = item
    worker = TextWorker(opts)
    res = worker.process_bytes(path, display, data)
    if opts.mode == "fix":
        out.write(worker.output if worker.output is not None else data)
        out.flush()
    yield res
