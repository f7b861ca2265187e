"""Finding rules: built-ins by scanning ``tidymark.rules``, plugins by entry point.

Built-in rules are discovered automatically (one ``Rule`` subclass per module of
``tidymark.rules``; no hand-kept list).  Third-party rules come from the entry-point group
``tidymark.rules``; the target may be a Rule subclass, a list of them or a module.  An
installed plugin's rules run only when selected explicitly (by prefix, code or name):
installing is not enabling.

Scanning the installed distributions for entry points costs a one-file run about a tenth of
its time (importing ``importlib.metadata`` and reading every distribution's metadata), so the
command line keeps the scan's result in its cache folder (:func:`cache_entry_points`).  The
kept result is used only while every folder of ``sys.path`` and every ``entry_points.txt``
in it are as they were (modification times and sizes): installing, removing, upgrading or
editing a distribution scans again.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import pkgutil
import stat
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tidymark.core import selectors
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


def _builtin_rule_modules(pkg) -> list[str]:
    """Rule modules of ``tidymark.rules``: one folder per family (``ad/``, ``dm/``...), one
    module per rule in it; names starting with ``_`` are the family's helpers."""
    names = []
    for family in pkgutil.iter_modules(pkg.__path__):
        if family.name.startswith("_") or not family.ispkg:
            continue
        sub = importlib.import_module(f"{pkg.__name__}.{family.name}")
        names += [f"{sub.__name__}.{m.name}" for m in pkgutil.iter_modules(sub.__path__)
                  if not m.name.startswith("_") and not m.ispkg]
    return sorted(names, key=lambda n: n.rsplit(".", 1)[-1])


@lru_cache(maxsize=1)
def builtin_rules() -> tuple[RuleInfo, ...]:
    import tidymark.rules as pkg

    out: list[RuleInfo] = []
    for name in _builtin_rule_modules(pkg):
        module = importlib.import_module(name)
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


_EP_CACHE_DIR: Path | None = None
_EP_STORE = None  # tidymark.run.cache, handed over by the run (see cache_entry_points)


def cache_entry_points(directory: Path | None, store=None) -> None:
    """Keep the entry-point scan in ``directory`` (None: scan the distributions every run).

    ``store`` reads and writes one sealed JSON entry of that folder (``read_entry(path)``,
    ``write_entry(directory, path, data)``): the run hands over :mod:`tidymark.run.cache`, so
    discovery needs no knowledge of the cache's format.  Without a store nothing is kept."""
    global _EP_CACHE_DIR, _EP_STORE
    directory = directory if store is not None else None
    if directory != _EP_CACHE_DIR or store is not _EP_STORE:
        _EP_CACHE_DIR, _EP_STORE = directory, store
        plugin_rules.cache_clear()


def _installed_state() -> list:
    """What the entry points of the installed distributions depend on.

    For every ``sys.path`` entry: a file's (a zip or egg) modification time and size; for a
    folder, the names of the distributions' metadata folders in it with the modification
    time and size of each one's ``entry_points.txt``.
    """
    state: list = []
    for entry in sys.path:
        where = entry or "."
        try:
            st = os.stat(where)
        except OSError:
            state.append([entry])
            continue
        if not stat.S_ISDIR(st.st_mode):
            state.append([entry, st.st_mtime_ns, st.st_size])
            continue
        dists = []
        for name in _metadata_folders(where):
            try:
                ep = os.stat(os.path.join(where, name, "entry_points.txt"))
                dists.append([name, ep.st_mtime_ns, ep.st_size])
            except OSError:
                dists.append([name])
        state.append([entry, dists])
    return state


def _metadata_folders(folder: str) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it
                          if e.name.endswith((".dist-info", ".egg-info", ".egg")) or e.name == "EGG-INFO")
    except OSError:
        return []


def _scan_entry_points() -> list[list]:
    from importlib.metadata import entry_points

    return [[ep.name, ep.value, getattr(getattr(ep, "dist", None), "name", None)]
            for ep in entry_points(group=ENTRY_POINT_GROUP)]


def _entry_points() -> list[list]:
    """[name, value, distribution] of each entry point of the group, from the kept scan if current."""
    if _EP_CACHE_DIR is None:
        return _scan_entry_points()
    where = hashlib.sha256(f"{sys.executable}|{sys.version}|{sys.path!r}".encode()).hexdigest()[:16]
    path = _EP_CACHE_DIR / f"entry-points-{where}.json"
    state = _installed_state()
    try:
        kept = _EP_STORE.read_entry(path)  # None when damaged (sealed with a checksum)
        if kept["state"] == state and kept["group"] == ENTRY_POINT_GROUP:
            return kept["entry_points"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = _scan_entry_points()

    _EP_STORE.write_entry(_EP_CACHE_DIR, path, {"group": ENTRY_POINT_GROUP, "state": state, "entry_points": found})
    return found


def _load_entry_point(value: str):
    """The object an entry point's ``module:attribute`` value names (extras ignored)."""
    return pkgutil.resolve_name(value.split("[", 1)[0].strip())


@lru_cache(maxsize=1)
def plugin_rules() -> tuple[RuleInfo, ...]:
    out: list[RuleInfo] = []
    for name, value, dist in _entry_points():
        dist = dist or value
        try:
            classes = _collect(_load_entry_point(value))
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"failed to load tidymark plugin {name!r} from {dist}: "
                                f"{type(exc).__name__}: {exc}") from None
        for cls in classes:
            if not cls.code.startswith(name):
                raise RegistryError(f"plugin {dist}: rule {cls.code} does not start with its "
                                    f"entry-point name {name!r}")
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


_PREFIX = selectors.PREFIX


def matches(selector: str, info: RuleInfo) -> bool:
    """Does a selector (ALL, a prefix such as FM or FM0, a code, or a rule name) pick this rule?

    ``ALL`` means every built-in rule; plugin rules are picked by their prefix, code or name.
    """
    if selectors.is_all(selector):
        return info.builtin
    return selectors.matches(selector, info.cls.code, info.cls.name)


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
