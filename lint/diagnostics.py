"""Diagnostics, edits and fixes: what rules report.

An :class:`Edit` replaces a span of the *original* text; a :class:`Fix` is a group of edits
applied together or not at all, with an :class:`Applicability` saying whether it may be
applied without ``--unsafe-fixes``.  Applicability is ordered, so "apply everything at or
above a threshold" is one comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

from tidymark.source import Span


class Applicability(IntEnum):
    DISPLAY_ONLY = 0  # shown in --diff and JSON, never applied
    UNSAFE = 1        # applied with --unsafe-fixes
    SAFE = 2          # applied by default

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r} (expected error, warning or info)") from None


class FixKind(str, Enum):
    """What a fix does to the note, for reports and the content-loss guard."""

    REWRITE = "rewrite"                      # a URL, scalar or escape is rewritten in place
    REMOVE_SCAFFOLDING = "remove-scaffolding"  # clipper chrome / duplicated metadata removed
    REMOVE_CONTENT = "remove-content-block"  # a block of body text (ads, boilerplate) removed
    FRONT_MATTER = "front-matter"            # a front-matter key is added, changed or removed


@dataclass(frozen=True, order=True, slots=True)
class Edit:
    """Replace ``span`` of the original text with ``text`` ("" deletes, an empty span inserts)."""

    span: Span
    text: str = ""

    @classmethod
    def delete(cls, start: int, end: int) -> "Edit":
        return cls(Span(start, end), "")

    @classmethod
    def replace(cls, start: int, end: int, text: str) -> "Edit":
        return cls(Span(start, end), text)

    @classmethod
    def insert(cls, at: int, text: str) -> "Edit":
        return cls(Span(at, at), text)


def _edit_order(e: Edit) -> tuple:
    return (e.span.start, e.span.end, e.text)


@dataclass(frozen=True, slots=True)
class Fix:
    edits: tuple[Edit, ...]
    applicability: Applicability
    title: str
    kind: FixKind = FixKind.REWRITE

    def __post_init__(self) -> None:
        # the order of Edit (span, then text), with C-level tuple comparisons: a fix may hold
        # hundreds of thousands of edits (an escaped body), and cached ones are rebuilt often
        edits = tuple(sorted(self.edits, key=_edit_order))
        object.__setattr__(self, "edits", edits)

    @classmethod
    def safe(cls, title: str, *edits: Edit, kind: FixKind = FixKind.REWRITE) -> "Fix":
        return cls(tuple(edits), Applicability.SAFE, title, kind)

    @classmethod
    def unsafe(cls, title: str, *edits: Edit, kind: FixKind = FixKind.REWRITE) -> "Fix":
        return cls(tuple(edits), Applicability.UNSAFE, title, kind)

    @property
    def span(self) -> Span:
        return Span(min(e.span.start for e in self.edits), max(e.span.end for e in self.edits))


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in one document."""

    code: str
    name: str
    message: str
    span: Span
    severity: Severity = Severity.ERROR
    fix: Fix | None = None
    line: int = 0          # filled from span by the engine (1-based)
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def fixable(self) -> bool:
        return self.fix is not None and self.fix.applicability >= Applicability.UNSAFE

    def sort_key(self) -> tuple:
        return (self.span.start, self.span.end, self.code, self.message)
