"""Checking and fixing text in memory, with the same rules and configuration as the CLI."""

from __future__ import annotations

from pathlib import Path

from tidymark.run.config import Settings
from tidymark.diagnostics import Applicability, Diagnostic
from tidymark.document import Document
from tidymark.core.engine import FixOutcome, check_document, fix_document
from tidymark.rule import Rule
from tidymark.run.rulebook import RuleBook
from tidymark.source import decode


def _rules(settings: Settings | None, rules: list[Rule] | None) -> list[Rule]:
    if rules is not None:
        return rules
    return RuleBook().rules_for(settings or Settings())


def _known(settings: Settings | None) -> tuple[tuple[str, str], ...]:
    return RuleBook().known_for(settings or Settings())


def document_from_bytes(data: bytes, path: str | Path | None = None) -> Document:
    """Decode bytes exactly as the CLI does (BOM remembered, strict UTF-8, newlines kept)."""
    dec = decode(data)
    return Document(dec.text, path, bom=dec.bom, newline=dec.newline)


def check_text(text: str, settings: Settings | None = None, *, rules: list[Rule] | None = None,
               path: str | Path | None = None) -> list[Diagnostic]:
    return check_document(Document(text, path), _rules(settings, rules), known=_known(settings))


def fix_text(text: str, settings: Settings | None = None, *, rules: list[Rule] | None = None,
             unsafe: bool | None = None, path: str | Path | None = None) -> FixOutcome:
    s = settings or Settings()
    use_unsafe = s.unsafe_fixes if unsafe is None else unsafe
    threshold = Applicability.UNSAFE if use_unsafe else Applicability.SAFE
    return fix_document(Document(text, path), _rules(settings, rules), threshold, known=_known(settings))
