"""The Rule API: one class per module in ``rules/``; its docstring is its documentation.

A rule is pure: it reads a :class:`~tidymark.document.Document` and yields
:class:`~tidymark.diagnostics.Diagnostic` objects, each with an optional fix.  There is no
separate fix mode: the engine applies the fixes a rule attached to its diagnostics.

Rule API version: ``RULE_API_VERSION`` (stable; changes are additive within a major version).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from enum import Enum
from typing import Any, ClassVar, Iterable, Literal, get_args, get_origin

from tidymark.diagnostics import Diagnostic, Fix, Severity
from tidymark.source import Span

RULE_API_VERSION = "1.0"

CODE_RE = re.compile(r"^[A-Z]{1,4}[0-9]{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


class FixAvailability(str, Enum):
    NONE = "none"
    SOMETIMES = "sometimes"
    ALWAYS = "always"


class OptionsError(ValueError):
    """A rule option has an unknown name or a value of the wrong type."""


class Rule:
    """Base class of every rule (built-in, plugin or local)."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    default_severity: ClassVar[Severity] = Severity.ERROR
    fix_availability: ClassVar[FixAvailability] = FixAvailability.NONE
    # which applicabilities this rule's fixes can have: "safe", "unsafe" or "safe/unsafe"
    fix_safety: ClassVar[str] = ""
    # a rule whose fixes legitimately edit HTML comments (suppression clean-up) sets this
    may_edit_protected: ClassVar[bool] = False
    # runs after the other rules' diagnostics were filtered by suppressions (unused-suppression)
    runs_last: ClassVar[bool] = False
    # its fixes are meant to change the block structure (e.g. unescaping restores code fences),
    # so the content-loss guard does not compare the structure of the passes that apply them
    changes_structure: ClassVar[bool] = False
    enabled_by_default: ClassVar[bool] = True
    Options: ClassVar[type | None] = None
    # cheap pre-filter: when set, the rule only runs on documents containing one of these substrings
    needs_any: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstract__", False) or "code" not in cls.__dict__:
            return
        if not CODE_RE.match(cls.code):
            raise TypeError(f"{cls.__qualname__}: rule code {cls.code!r} must look like AB123")
        if not NAME_RE.match(getattr(cls, "name", "")):
            raise TypeError(f"{cls.__qualname__}: rule name {getattr(cls, 'name', '')!r} must be kebab-case")
        if not (cls.__doc__ or "").strip():
            raise TypeError(f"{cls.__qualname__}: a rule's docstring is its documentation and cannot be empty")
        if not getattr(cls, "summary", ""):
            raise TypeError(f"{cls.__qualname__}: rule needs a one-line summary")
        if cls.fix_availability is not FixAvailability.NONE and cls.fix_safety not in ("safe", "unsafe", "safe/unsafe"):
            raise TypeError(f"{cls.__qualname__}: a fixable rule must set fix_safety to safe, unsafe or safe/unsafe")
        opts = cls.__dict__.get("Options")
        if opts is not None and not dataclasses.is_dataclass(opts):
            raise TypeError(f"{cls.__qualname__}.Options must be a dataclass")

    def __init__(self, options: Any = None):
        if options is None and self.Options is not None:
            options = self.Options()
        self.options = options

    # -- helpers for rule authors -------------------------------------------------
    def diagnostic(self, span: Span, message: str | None = None, *, fix: Fix | None = None,
                   severity: Severity | None = None, **extra) -> Diagnostic:
        return Diagnostic(self.code, self.name, message or self.summary, span,
                          severity if severity is not None else self.default_severity, fix, extra=extra)

    def check(self, doc) -> Iterable[Diagnostic]:  # pragma: no cover - interface
        raise NotImplementedError

    # -- metadata -----------------------------------------------------------------
    @classmethod
    def documentation(cls) -> str:
        import inspect

        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def parse_options(cls, raw: dict | None, where: str = "") -> Any:
        """Build the Options dataclass from a config table, validating names and types."""
        if cls.Options is None:
            if raw:
                raise OptionsError(f"{where}rule {cls.code} ({cls.name}) takes no options, got {sorted(raw)}")
            return None
        raw = dict(raw or {})
        fields = {f.name.replace("_", "-"): f for f in dataclasses.fields(cls.Options)}
        kwargs = {}
        hints = typing.get_type_hints(cls.Options)
        for key, value in raw.items():
            f = fields.get(key) or fields.get(key.replace("_", "-"))
            if f is None:
                raise OptionsError(
                    f"{where}unknown option {key!r} for rule {cls.code} ({cls.name})"
                    f"{did_you_mean(str(key).replace('_', '-'), fields)}; "
                    f"expected one of: {', '.join(sorted(fields)) or 'none'}")
            kwargs[f.name] = coerce(hints[f.name], value, f"{where}option {key!r} of rule {cls.code}")
        return cls.Options(**kwargs)


def coerce(tp: Any, value: Any, what: str) -> Any:
    """Check ``value`` against a simple type annotation; lists become tuples."""
    origin = get_origin(tp)
    args = get_args(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise OptionsError(f"{what} must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for a in args:
            if a is type(None) and value is None:
                return None
            try:
                return coerce(a, value, what)
            except OptionsError as exc:
                errors.append(str(exc))
        raise OptionsError(f"{what} has the wrong type: got {value!r}")
    if origin in (tuple, list, frozenset, set):
        if not isinstance(value, (list, tuple)):
            raise OptionsError(f"{what} must be a list, got {type(value).__name__} {value!r}")
        item = args[0] if args else Any
        items = [coerce(item, v, what) for v in value]
        return frozenset(items) if origin in (frozenset, set) else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise OptionsError(f"{what} must be a table, got {value!r}")
        kt, vt = args or (Any, Any)
        return {coerce(kt, k, what): coerce(vt, v, what) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise OptionsError(f"{what} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise OptionsError(f"{what} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OptionsError(f"{what} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise OptionsError(f"{what} must be a string, got {value!r}")
        return value
    return value


def did_you_mean(word: str, choices) -> str:
    """`` (did you mean `select`?)`` for the choice closest to a mistyped ``word``, or ""."""
    import difflib

    choices = list(choices)
    folded = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(str(word).lower(), list(folded), n=1)
    return f" (did you mean `{folded[close[0]]}`?)" if close else ""
