"""Finding rules: built-ins by scanning ``tidymark.rules``, plugins by entry point.

Built-in rules are discovered automatically (one ``Rule`` subclass per module of
``tidymark.rules``; no hand-kept list).  Third-party rules come from the entry-point group
``tidymark.rules``; the target may be a Rule subclass, a list of them or a module.  An
installed plugin's rules run only when selected explicitly (by prefix, code or name):
installing is not enabling.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from functools import lru_cache

from tidymark.rule import Rule

ENTRY_POINT_GROUP = "tidymark.rules"


class RegistryError(Exception):
    pass


@dataclass(frozen=True)
class RuleInfo:
    cls: type[Rule]
    origin: str        # "builtin", "plugin:<dist>", "local:<path>", "pack:<path>"

    @property
    def builtin(self) -> bool:
        return self.origin == "builtin"


def rules_in_module(module) -> list[type[Rule]]:
    return [obj for obj in vars(module).values()
            if inspect.isclass(obj) and issubclass(obj, Rule) and obj is not Rule
            and obj.__module__ == module.__name__ and "code" in obj.__dict__]


@lru_cache(maxsize=1)
def builtin_rules() -> tuple[RuleInfo, ...]:
    import tidymark.rules as pkg

    out: list[RuleInfo] = []
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name.startswith("_") or mod.ispkg:
            continue
        module = importlib.import_module(f"{pkg.__name__}.{mod.name}")
        found = rules_in_module(module)
        if len(found) > 1:
            raise RegistryError(f"module {module.__name__} defines {len(found)} rules; one rule per module")
        out.extend(RuleInfo(c, "builtin") for c in found)
    return tuple(out)


def _collect(target) -> list[type[Rule]]:
    if inspect.isclass(target) and issubclass(target, Rule):
        return [target]
    if inspect.ismodule(target):
        return rules_in_module(target)
    if isinstance(target, (list, tuple)):
        out = []
        for t in target:
            out.extend(_collect(t))
        return out
    raise RegistryError(f"entry point target {target!r} is not a Rule class, a list of them or a module")


@lru_cache(maxsize=1)
def plugin_rules() -> tuple[RuleInfo, ...]:
    from importlib.metadata import entry_points

    out: list[RuleInfo] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(getattr(ep, "dist", None), "name", None) or ep.value
        try:
            classes = _collect(ep.load())
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"failed to load tidymark plugin {ep.name!r} from {dist}: "
                                f"{type(exc).__name__}: {exc}") from None
        for cls in classes:
            if not cls.code.startswith(ep.name):
                raise RegistryError(f"plugin {dist}: rule {cls.code} does not start with its "
                                    f"entry-point name {ep.name!r}")
            out.append(RuleInfo(cls, f"plugin:{dist}"))
    return tuple(out)


def all_rules(extra: tuple[RuleInfo, ...] = ()) -> dict[str, RuleInfo]:
    """Every known rule by code; a code defined twice is an error naming both origins."""
    table: dict[str, RuleInfo] = {}
    names: dict[str, RuleInfo] = {}
    for info in (*builtin_rules(), *plugin_rules(), *extra):
        code, name = info.cls.code, info.cls.name
        if code in table and table[code].cls is not info.cls:
            raise RegistryError(f"rule code {code} is defined twice: {table[code].origin} and {info.origin}")
        if name in names and names[name].cls is not info.cls:
            raise RegistryError(f"rule name {name} is defined twice: {names[name].origin} and {info.origin}")
        table[code] = info
        names[name] = info
    return dict(sorted(table.items()))


_PREFIX = re.compile(r"[A-Za-z]{1,4}[0-9]{0,3}")


def matches(selector: str, info: RuleInfo) -> bool:
    """Does a selector (ALL, a prefix such as FM or FM0, a code, or a rule name) pick this rule?

    ``ALL`` means every built-in rule; plugin rules are picked by their prefix, code or name.
    """
    sel = selector.strip()
    if sel.upper() == "ALL":
        return info.builtin
    if sel == info.cls.name:
        return True
    return bool(_PREFIX.fullmatch(sel)) and info.cls.code.startswith(sel.upper())


def select(rules: dict[str, RuleInfo], selectors: list[str], ignore: list[str],
           extend: list[str]) -> list[RuleInfo]:
    """Resolve select / extend-select / ignore to the rules that run, in code order.

    ``select`` defaults to the built-in rules that are enabled by default.  More specific
    selectors win (ruff's rule): ``select = ["AD"]`` with ``ignore = ["AD002"]`` runs every
    AD rule but AD002; ``ignore = ["AD"]`` with ``extend-select = ["AD002"]`` runs AD002.
    """
    def spec(sel: str) -> int:
        return 1000 if sel.upper() == "ALL" else (2000 if "-" in sel or sel.islower() else len(sel))

    chosen: dict[str, RuleInfo] = {}
    for code, info in rules.items():
        best = None  # (specificity, selected?)
        base = selectors if selectors is not None else None
        if base is None:
            if info.builtin and info.cls.enabled_by_default:
                best = (0, True)
        else:
            for s in base:
                if matches(s, info):
                    best = max(best or (-1, False), (spec(s), True))
        for s in extend:
            if matches(s, info):
                cand = (spec(s), True)
                best = cand if best is None or cand[0] >= best[0] else best
        for s in ignore:
            if matches(s, info) or s.upper() == "ALL":
                cand = (spec(s), False)
                if best is None or cand[0] >= best[0]:
                    best = cand
        if best and best[1]:
            chosen[code] = info
    return list(chosen.values())


def validate_selector(sel: str, rules: dict[str, RuleInfo]) -> bool:
    return sel.upper() == "ALL" or any(matches(sel, i) for i in rules.values())
