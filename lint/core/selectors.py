"""The selector grammar, in one place.

A selector picks rules by ``ALL``, a prefix (``FM``, ``FM0``), a full code (``FM001``) or a
rule name (``duplicate-key``).  The same grammar serves ``select``/``ignore``/
``extend-select``, ``severity``, ``unfixable``, ``per-file-ignores`` and the codes of
suppression comments.

``ALL`` picks every rule it is asked about; :func:`tidymark.plugins.registry.select` alone
narrows it to built-in rules (installing a plugin is not enabling it).
"""

from __future__ import annotations

import re

PREFIX = re.compile(r"[A-Za-z]{1,4}[0-9]{0,3}")


def is_all(selector: str) -> bool:
    return selector.strip().upper() == "ALL"


def matches(selector: str, code: str, name: str) -> bool:
    """Does ``selector`` pick the rule with this code and name?"""
    sel = selector.strip()
    if sel.upper() == "ALL":
        return True
    if sel == name:
        return True
    return bool(PREFIX.fullmatch(sel)) and code.startswith(sel.upper())


def specificity(selector: str, name: str) -> int:
    """How specific a matching selector is: ALL < a prefix < a longer prefix or code < a name."""
    sel = selector.strip()
    if sel.upper() == "ALL":
        return 0
    return 100 if sel == name else len(sel)


def most_specific(selectors, code: str, name: str):
    """The most specific of ``selectors`` (an iterable or a mapping's keys) that picks the rule
    (the first one among equals), or None."""
    best = None
    for sel in selectors:
        if matches(sel, code, name):
            spec = specificity(sel, name)
            if best is None or spec > best[0]:
                best = (spec, sel)
    return None if best is None else best[1]
