"""The rule book (:class:`RuleBook`: rules per resolved settings, and the settings' policy,
:func:`apply_settings`) and a file's input and output: read, decode, write back atomically.

:mod:`tidymark.run.pipeline` uses them per file (``Worker.process``); the CLI maps that over
the discovered files.  A file is written only when its bytes change, through a temporary file
in the same folder that replaces the original atomically, keeping the file's mode, BOM,
newline style and final newline.  Before replacing, the file is read again: if it changed
since it was checked, it is left alone and reported.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path


from tidymark.core import selectors
from tidymark.plugins import registry
from tidymark.run.config import ConfigError, Settings
from tidymark.diagnostics import Diagnostic, Severity
from tidymark.document import Document
from tidymark.core.engine import IO_ERROR, engine_diagnostic
from tidymark.rule import OptionsError, Rule
from tidymark.source import DecodeError, decode
from tidymark.run.fsio import replace_via_temp


@dataclass
class FileResult:
    path: Path
    display: str
    diagnostics: list[Diagnostic] = field(default_factory=list)
    applied: list[Diagnostic] = field(default_factory=list)
    changed: bool = False          # written (fix) or would be written (diff)
    diff: str = ""
    original: str | None = None
    fixed: str | None = None
    error: str | None = None       # the file could not be processed at all
    text: str | None = None        # the text the diagnostics' positions refer to
    bytes_removed: int = 0         # bytes the fixes took out of the file
    removals: list = field(default_factory=list)  # removed blocks with context (HTML report)
    facts: dict = field(default_factory=dict)     # per-file facts of cross-document rules, by code
    indexed: tuple | None = None   # what the run's FileIndex records for the file (see pipeline)
    before: bytes | None = None    # fix: the bytes read, zlib-compressed, of a changed file (see tidymark.run.vault)


class RuleBook:
    """Rule instances per resolved Settings (built once, shared by all files under them)."""

    def __init__(self, extra: tuple = ()):
        self.extra = extra
        self._table = None
        self._by_settings: dict[int, tuple[Settings, list[Rule]]] = {}
        self._pfi: dict[int, list] = {}

    @property
    def table(self) -> dict[str, registry.RuleInfo]:
        if self._table is None:
            self._table = registry.all_rules(self.extra)
        return self._table

    def table_for(self, settings: Settings) -> dict[str, registry.RuleInfo]:
        """Every rule known under ``settings``: built-ins, plugins, its rule packs and local rules."""
        if not settings.rule_packs and not settings.local_rules:
            return self.table
        key = (settings.rule_packs, settings.local_rules)
        cache = self.__dict__.setdefault("_tables", {})
        if key not in cache:
            from tidymark.plugins import local_rules
            from tidymark.plugins import packs

            extra = list(self.extra)
            try:
                for p in settings.rule_packs:
                    extra.extend(registry.RuleInfo(c, f"pack:{p}") for c in packs.load_pack(p))
                for p in settings.local_rules:
                    extra.extend(registry.RuleInfo(c, f"local:{p}") for c in local_rules.load(p))
                cache[key] = registry.all_rules(tuple(extra))
            except (packs.PackError, local_rules.LocalRuleError, registry.RegistryError) as exc:
                raise ConfigError(f"{settings.describe()}: {exc}") from None
        return cache[key]

    def _check_selectors(self, settings: Settings) -> None:
        table = self.table_for(settings)
        for key in ("select", "ignore", "extend_select", "unfixable"):
            for sel in getattr(settings, key) or ():
                if not registry.validate_selector(sel, table):
                    from tidymark.run.config import did_you_mean

                    hint = did_you_mean(sel, [*table, *(i.cls.name for i in table.values())])
                    raise ConfigError(f"{settings.describe()}: `{key.replace('_', '-')}` names unknown rule "
                                      f"or prefix {sel!r}{hint}")
        for sel in settings.severity:
            if sel.upper() != "ALL" and not registry.validate_selector(sel, table):
                raise ConfigError(f"{settings.describe()}: `severity` names unknown rule or prefix {sel!r}")
        for pattern, codes in settings.per_file_ignores:
            for sel in codes:
                if not registry.validate_selector(sel, table):
                    raise ConfigError(f"{settings.describe()}: `per-file-ignores` pattern {pattern!r} names "
                                      f"unknown rule or prefix {sel!r}")

    def rules_for(self, settings: Settings) -> list[Rule]:
        hit = self._by_settings.get(id(settings))
        if hit is not None:
            return hit[1]
        self._check_selectors(settings)
        # the same selection and options (folders without a config file of their own): same rules
        key = (settings.select, settings.ignore, settings.extend_select, repr(sorted(settings.rules.items())),
               settings.rule_packs, settings.local_rules)
        same = self.__dict__.setdefault("_by_value", {}).get(key)
        if same is not None:
            self._by_settings[id(settings)] = (settings, same)
            return same
        table = self.table_for(settings)
        chosen = registry.select(table, list(settings.select) if settings.select is not None else None,
                                 list(settings.ignore), list(settings.extend_select))
        by_name = {i.cls.name: i for i in table.values()}
        options: dict[str, dict] = {}
        for key, opts in settings.rules.items():
            info = table.get(key.upper()) or by_name.get(key)
            if info is None:
                raise ConfigError(f"{settings.describe()}: `rules.{key}` names no known rule")
            options[info.cls.code] = opts
        rules = []
        for info in chosen:
            try:
                parsed = info.cls.parse_options(options.get(info.cls.code), f"{settings.describe()}: ")
            except OptionsError as exc:
                raise ConfigError(str(exc)) from None
            rules.append(info.cls(parsed))
        self._by_settings[id(settings)] = (settings, rules)
        self._by_value[key] = rules
        return rules

    def rules_for_file(self, settings: Settings, path: Path) -> list[Rule]:
        rules = self.rules_for(settings)
        if not settings.per_file_ignores:
            return rules
        specs = self._pfi.get(id(settings))
        if specs is None:
            import pathspec

            specs = self._pfi[id(settings)] = [
                (pathspec.GitIgnoreSpec.from_lines([pat]), codes) for pat, codes in settings.per_file_ignores]
        try:
            rel = path.resolve().relative_to(settings.root.resolve()).as_posix()
        except ValueError:
            rel = path.as_posix()
        drop: list[str] = []
        for spec, codes in specs:
            if spec.match_file(rel):
                drop.extend(codes)
        if not drop:
            return rules
        return [r for r in rules if not any(selectors.matches(s, r.code, r.name) for s in drop)]

    def known_for(self, settings: Settings) -> tuple[tuple[str, str], ...]:
        """(code, name) of every rule known under ``settings``, selected or not (what a
        suppression comment may name)."""
        return tuple((code, info.cls.name) for code, info in self.table_for(settings).items())


def unfixable_codes(rules: list[Rule], settings: Settings) -> frozenset[str]:
    """Codes of ``rules`` whose fixes the ``unfixable`` setting holds back."""
    return frozenset(r.code for r in rules if any(selectors.matches(s, r.code, r.name) for s in settings.unfixable))


def with_severity(d: Diagnostic, overrides: dict) -> Diagnostic:
    """The ``severity`` setting applied to one diagnostic (the most specific selector wins)."""
    sel = selectors.most_specific(overrides, d.code, d.name)
    return replace(d, severity=Severity.parse(overrides[sel])) if sel is not None else d


def apply_settings(diags: list[Diagnostic], settings: Settings) -> list[Diagnostic]:
    """What ``settings`` change in reported diagnostics: ``severity`` overrides, and no fix
    offered for a rule listed in ``unfixable`` (it is neither applied nor counted fixable)."""
    if settings.severity:
        diags = [with_severity(d, settings.severity) for d in diags]
    if settings.unfixable:
        diags = [replace(d, fix=None) if d.fix is not None and any(
            selectors.matches(s, d.code, d.name) for s in settings.unfixable) else d for d in diags]
    return diags


def read_document(path: Path, settings: Settings) -> Document:
    """Read and decode a file; raises OSError or DecodeError with a user-facing message.

    The document carries the bytes read (``raw``) and the file's stat from just before
    they were read (``stat``)."""
    data, st = read_bytes_and_stat(path, settings)
    dec = decode(data)
    doc = Document(dec.text, path, bom=dec.bom, newline=dec.newline)
    doc.raw = data  # type: ignore[attr-defined]
    doc.stat = st  # type: ignore[attr-defined]
    return doc


def read_bytes_and_stat(path: Path, settings: Settings) -> tuple[bytes, os.stat_result]:
    """A regular file's bytes, within the size limit, and its stat taken just before reading
    them; raises OSError or DecodeError."""
    # stat first: opening a FIFO (or a device) for reading would block before fstat could refuse it
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise DecodeError("not a regular file")
    with open(path, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise DecodeError("not a regular file")
        check_size(st.st_size, settings)
        return fh.read(), st


def check_size(size: int, settings: Settings) -> None:
    """Raise DecodeError for a file over the ``max-file-size`` limit."""
    if size > settings.max_file_size:
        raise DecodeError(f"file is {size:,} bytes, over the {settings.max_file_size:,}-byte limit "
                          f"(`max-file-size`); skipped")


def _same_content(path: Path, expected: bytes) -> None:
    """Raise OSError unless ``path`` still holds exactly ``expected``."""
    try:
        with open(path, "rb") as fh:
            current = fh.read(len(expected) + 1)
    except FileNotFoundError:
        raise OSError(errno.ENOENT, "the file was deleted while tidymark was working on it; not written") from None
    if current != expected:
        raise OSError(errno.EBUSY, "the file changed on disk while tidymark was working on it; not overwritten")


def write_atomic(path: Path, data: bytes, expected_original: bytes) -> None:
    """Replace ``path`` with ``data`` atomically unless it changed since it was read.

    The new content goes to a temporary file in the same folder (fsync'd, with the file's
    mode, owner, group and extended attributes, ACLs included); the file is compared with
    ``expected_original`` once more right before the rename, so a newer version written
    meanwhile (or a deletion) is never overwritten.  A file that a rename could not replace
    faithfully is refused (OSError, reported as ``TM001``) and left as it is: see
    :func:`_refuse_replacing`.  On any failure the temporary file is removed and the
    original is untouched.
    """
    # replace the file a symlink points to, never the link itself
    path = Path(os.path.realpath(path))
    _same_content(path, expected_original)
    st = os.stat(path)
    _refuse_replacing(path, st)
    xattrs = _xattrs(path)

    def before_replace(tmp: str) -> None:
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        tst = os.stat(tmp)
        if (tst.st_uid, tst.st_gid) != (st.st_uid, st.st_gid):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:  # the new file would change hands: not what editing in place means
                raise OSError(errno.EPERM, f"the file belongs to user {st.st_uid}, group {st.st_gid}, which the "
                                           f"rewritten file cannot be given (it would become yours); not changed"
                              ) from None
            os.chmod(tmp, stat.S_IMODE(st.st_mode))  # chown clears set-user/group-id bits
        for name, value in xattrs:
            try:
                if os.getxattr(tmp, name) == value:  # e.g. a security label given on creation
                    continue
            except OSError:
                pass
            try:
                os.setxattr(tmp, name, value)
            except OSError as exc:
                raise OSError(errno.ENOTSUP, f"its extended attribute {name} cannot be kept on the rewritten "
                                             f"file ({exc.strerror or exc}); not changed") from None
        _same_content(path, expected_original)

    replace_via_temp(path, data, ".tidymark-tmp", before_replace)


def _refuse_replacing(path: Path, st: os.stat_result) -> None:
    """Raise OSError for a file that tidymark does not replace, as a careful user editing in
    place would not: a write-protected file (its owner's write bit is off: also for root,
    who could override it), a file the runner may not write, and a file with several hard
    links (a rename would leave the other names with the old text)."""
    mode = stat.S_IMODE(st.st_mode)
    if not mode & stat.S_IWUSR:
        raise OSError(errno.EACCES, f"the file is write-protected (mode {mode:04o}); changing it is not permitted "
                                    f"(make it writable to fix it)")
    if not os.access(path, os.W_OK):
        raise OSError(errno.EACCES, f"writing is not permitted: mode {mode:04o}, owned by user {st.st_uid}; "
                                    f"not changed")
    if st.st_nlink > 1:
        raise OSError(errno.EMLINK, f"the file has {st.st_nlink} hard links; replacing it would leave the other "
                                    f"names with the old text, so it is not changed")


def _xattrs(path: Path) -> list[tuple[str, bytes]]:
    """The extended attributes of ``path`` (ACLs and security labels included), to be
    copied to its replacement; raises OSError for one that cannot be read."""
    if not hasattr(os, "listxattr"):
        return []
    try:
        names = os.listxattr(path)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENOSYS):
            return []
        raise
    out = []
    for name in names:
        try:
            out.append((name, os.getxattr(path, name)))
        except OSError as exc:
            raise OSError(errno.ENOTSUP, f"its extended attribute {name} cannot be read to be kept "
                                         f"({exc.strerror or exc}); not changed") from None
    return out


def unified_diff(display: str, old: str, new: str) -> str:
    import difflib

    out = []
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     fromfile=f"a/{display}", tofile=f"b/{display}"):
        out.append(line)
        if not line.endswith(("\n", "\r")):
            out.append("\n\\ No newline at end of file\n")
    return "".join(out)


def _io_error(message: str) -> Diagnostic:
    """A file-level TM001 diagnostic, positioned at 1:1 (positions are 1-based everywhere)."""
    return replace(engine_diagnostic(IO_ERROR, message), line=1, column=1, end_line=1, end_column=1)

