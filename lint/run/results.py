"""The results of a run as one stream, in path order, cross-document diagnostics included.

Per-file results arrive from the pipeline one file at a time; cross-document rules
(:mod:`tidymark.project`, e.g. DM006 duplicate-article) can only report once every file's
facts are in.  :class:`RunResults` keeps the per-file results until then and hands out each
file's result with its cross-document diagnostics merged in, in the order the files were
walked.  Everything that counts or reports problems (the reporters of every output format,
the summary line, ``--statistics``, the baseline and the HTML report) consumes this one
stream, so they all see the same problems, in the same order.
"""

from __future__ import annotations

from typing import Iterator

from tidymark.diagnostics import Diagnostic


def _position(d: Diagnostic) -> tuple[int, int]:
    return (d.line, d.column)


class RunResults:
    """The per-file results of a run, kept in arrival (walk) order until the run's end."""

    def __init__(self) -> None:
        self._results: list = []
        self.facts: dict[str, dict] = {}  # display path -> the file's cross-document facts
        self.paths: dict = {}  # display path -> the file's path, for the files with facts

    def add(self, result) -> None:
        self._results.append(result)
        if result.facts:
            self.facts[result.display] = result.facts
            self.paths[result.display] = result.path

    def originals(self) -> dict:
        """The original bytes (compressed) of the files a fix run changed, by display path;
        handed over once (see :mod:`tidymark.run.vault`, which fixes them again)."""
        out = {}
        for result in self._results:
            if result.changed and getattr(result, "before", None) is not None:
                out[result.display], result.before = result.before, None
        return out

    def __len__(self) -> int:
        return len(self._results)

    @property
    def changed(self) -> int:
        return sum(1 for r in self._results if r.changed)

    def relearned(self, learned: dict) -> None:
        """Files checked (fixed) again with what the vault taught (:mod:`tidymark.run.vault`):
        each keeps one result, with what the second pass applied and left."""
        for result in self._results:
            got = learned.get(result.display)
            if got is None:
                continue
            result.text = got.text
            if got.own is not None:
                result.diagnostics = list(got.own)
            if got.changed:
                result.applied, result.bytes_removed, result.changed = got.applied, got.bytes_removed, True

    def merged(self, found: dict[str, list[Diagnostic]]) -> Iterator:
        """Each file's result, in walk order, with the cross-document diagnostics ``found``
        for it (by display path) merged into its own, ordered by position (a file's own
        diagnostics keep their order; one at the same position comes first)."""
        left = dict(found)
        for result in self._results:
            extra = left.pop(result.display, None)
            if extra:
                result.diagnostics = sorted([*result.diagnostics, *extra], key=_position)
            yield result
        if left:  # cannot happen (facts come from these results), but a finding is never dropped
            from pathlib import Path

            from tidymark.run.rulebook import FileResult

            for display, diags in sorted(left.items()):
                yield FileResult(Path(display), display, sorted(diags, key=_position))
        self._results = []


def record_position(record: dict) -> tuple[int, int]:
    return (record["line"], record["column"])


def merge_records(groups, extra: dict, key=lambda rid: rid) -> list[dict]:
    """Diagnostic records in document order with the cross-document ones in place.

    ``groups`` is ``(document id, its records)`` in document order; ``extra`` the
    cross-document records by ``key(document id)``.  Each document's records are ordered
    by position (its own keep their order; one at the same position comes first); records of
    a key no document has follow, by key.
    """
    left = dict(extra)
    out: list[dict] = []
    for rid, own in groups:
        more = left.pop(key(rid), None)
        out.extend(sorted([*own, *more], key=record_position) if more else own)
    for k in sorted(left, key=str):
        out.extend(sorted(left[k], key=record_position))
    return out
