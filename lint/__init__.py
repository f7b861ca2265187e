"""tidymark: a content-quality linter and lossless cleanup tool for Markdown notes.

Public API (stable, see docs/writing-rules.md)::

    from tidymark import Rule, Document, Diagnostic, Edit, Fix, Applicability, Severity
    from tidymark import check_text, fix_text
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Rule": ("tidymark.rule", "Rule"),
    "FixAvailability": ("tidymark.rule", "FixAvailability"),
    "RULE_API_VERSION": ("tidymark.rule", "RULE_API_VERSION"),
    "Document": ("tidymark.document", "Document"),
    "Diagnostic": ("tidymark.diagnostics", "Diagnostic"),
    "Edit": ("tidymark.diagnostics", "Edit"),
    "Fix": ("tidymark.diagnostics", "Fix"),
    "FixKind": ("tidymark.diagnostics", "FixKind"),
    "Applicability": ("tidymark.diagnostics", "Applicability"),
    "Severity": ("tidymark.diagnostics", "Severity"),
    "Span": ("tidymark.source", "Span"),
    "check_text": ("tidymark.api", "check_text"),
    "fix_text": ("tidymark.api", "fix_text"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    # Lazy so that `tidymark --version` and one-file runs start fast.
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'tidymark' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
