"""Cross-document rules: problems only visible across a folder.

A :class:`ProjectRule` works in two steps so that it fits the cache and the process pool:

1. ``facts(doc)`` runs per file (in a worker) and returns a small JSON-serialisable
   summary — hashes, a source URL, a few line numbers.  Facts are cached with the file's
   diagnostics, so an unchanged file is not parsed again.
2. ``check_project(facts)`` runs once in the main process over the facts of every file
   the rule applies to and returns diagnostics per file.

Cross-document rules report; they do not fix (the fix for a duplicate article or a site's
boilerplate is a decision, or a rule pack written by ``tidymark learn``).

The step over the folder is kept in the cache folder too
(:func:`tidymark.run.crossdoc.run_project_cached`): a run
whose files gave exactly the facts of the last run, under the same rules and code, reuses
its findings.
"""

from __future__ import annotations

from typing import Iterable

from tidymark.diagnostics import Diagnostic
from tidymark.rule import Rule
from tidymark.source import Span


class ProjectRule(Rule):
    """Base class of cross-document rules."""

    __abstract__ = True

    def check(self, doc):  # per-file: nothing (see check_project)
        return ()

    def facts(self, doc) -> dict | None:  # pragma: no cover - interface
        raise NotImplementedError

    def check_project(self, facts: dict[str, dict]) -> Iterable[tuple[str, Diagnostic]]:  # pragma: no cover
        raise NotImplementedError

    def at(self, line: int, message: str, end_line: int | None = None) -> Diagnostic:
        """A diagnostic at a 1-based line (cross-document diagnostics carry no offsets)."""
        return Diagnostic(self.code, self.name, message, Span(0, 0), self.default_severity, None,
                          line, 1, end_line or line, 1)


def collect_facts(doc, rules: list[ProjectRule]) -> dict:
    out = {}
    for r in rules:
        try:
            f = r.facts(doc)
        except Exception:  # noqa: BLE001 - a failing fact collector only loses that rule's view of the file
            f = None
        if f is not None:
            out[r.code] = f
    return out


def run_project(rules: list[ProjectRule], facts_by_file: dict[str, dict]) -> dict[str, list[Diagnostic]]:
    """Run every cross-document rule over the collected facts; diagnostics by file key."""
    out: dict[str, list[Diagnostic]] = {}
    for r in rules:
        mine = {k: f[r.code] for k, f in facts_by_file.items() if r.code in f}
        if len(mine) < 2:
            continue
        for key, d in r.check_project(mine):
            out.setdefault(key, []).append(d)
    for diags in out.values():
        diags.sort(key=lambda d: (d.line, d.code, d.message))
    return out


PROJECT_CACHE_NAME = "project.json"  # the pass kept in the cache folder (tidymark.run.crossdoc)
