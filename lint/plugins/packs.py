"""Declarative rule packs: rules written in YAML, no Python.

A pack is a YAML file with a list of rules; each rule has a ``kind``::

    rules:
      - code: XX001                 # the pack's own prefix + three digits
        name: company-banner        # kebab-case
        kind: phrase                # phrase | block | front-matter | link | substitution | schema
        message: Internal banner left in a published note
        patterns: ["INTERNAL USE ONLY"]
        fix: remove
        applicability: safe         # safe | unsafe (default unsafe)
        severity: error             # error | warning | info (default error)

Kinds and their fields (``patterns`` are literal strings; write ``{regex: '…'}`` for a
regular expression, and ``ignore-case: true`` to compare case-insensitively):

``phrase``
    A paragraph (``unit: paragraph``, the default) or a line (``unit: line``) that
    matches a pattern is reported: with ``match: whole`` (default) the unit, stripped of
    surrounding emphasis and whitespace, must be exactly the pattern (or fully match the
    regex); with ``match: contains`` the pattern may occur anywhere in it.
    ``fix: remove`` removes the unit.
``block``
    ``patterns`` match a heading or a whole line that starts a block; ``until`` says
    where it ends: ``heading`` (default: the next heading of the same or a higher level,
    or the end), ``links`` (the run of link-only blocks after it, like a recommendation
    list) or ``end`` (the end of the document).  ``fix: remove`` removes it.
``front-matter``
    ``key`` plus one of ``required: true`` (fix ``add`` with ``default``),
    ``forbidden: true`` (fix ``remove``), ``pattern`` (the value as text must fully match)
    or ``type`` (string, list, bool, number, date, mapping).
``link``
    Links and/or images (``targets: links | images | both``, default both) whose URL
    matches ``url-pattern`` (a regex) are reported; ``fix: rewrite`` substitutes
    ``replacement`` (``\\1`` … refer to groups), ``fix: remove`` removes the element.
``substitution``
    Text matching ``pattern`` (regex) outside code is replaced by ``replacement``
    (``fix: replace``; the rule reports each match).
``schema``
    ``map`` (old key: new key, or ``preset: web-clipper`` to start from Obsidian Web
    Clipper's keys) renames top-level front-matter keys in place (``fix: rename``): only
    the key's text changes.  A key whose new name is taken is reported, not renamed.

Packs are loaded from the ``rule-packs`` configuration key (paths relative to the
configuration file).  Errors name the file, line and field.  Pack rules run only when
selected (``extend-select = ["XX"]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tidymark.diagnostics import Applicability, Edit, Fix, FixKind, Severity
from tidymark.edits import remove_lines
from tidymark.rule import CODE_RE, NAME_RE, FixAvailability, Rule
from tidymark.source import Span

KINDS = ("phrase", "block", "front-matter", "link", "substitution", "schema")
COMMON = {"code", "name", "kind", "message", "summary", "description", "severity", "applicability", "fix"}
FIELDS = {
    "phrase": {"patterns", "unit", "match", "ignore-case"},
    "block": {"patterns", "until", "ignore-case"},
    "front-matter": {"key", "required", "forbidden", "pattern", "type", "default"},
    "link": {"url-pattern", "targets", "replacement"},
    "substitution": {"pattern", "replacement", "ignore-case"},
    "schema": {"map", "preset"},
}
FIXES = {"phrase": ("remove", "none"), "block": ("remove", "none"), "front-matter": ("add", "remove", "none"),
         "link": ("rewrite", "remove", "none"), "substitution": ("replace", "none"),
         "schema": ("rename", "none")}


class PackError(Exception):
    """A rule pack is invalid; the message names the file, line and field."""


def _where(path: Path, node: Any, key: str | None = None) -> str:
    try:
        if key is not None and hasattr(node, "lc"):
            line = node.lc.key(key)[0] + 1
        elif hasattr(node, "lc"):
            line = node.lc.line + 1
        else:
            line = None
    except (KeyError, TypeError, AttributeError):
        line = getattr(getattr(node, "lc", None), "line", None)
        line = line + 1 if line is not None else None
    return f"{path}:{line}" if line else str(path)


@dataclass(frozen=True)
class Pattern:
    regex: re.Pattern
    text: str


def _patterns(path: Path, raw: Any, node: Any, field: str, ignore_case: bool) -> tuple[Pattern, ...]:
    if isinstance(raw, (str, dict)):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise PackError(f"{_where(path, node, field)}: `{field}` must be a non-empty list of strings or {{regex: …}}")
    out = []
    flags = re.IGNORECASE if ignore_case else 0
    for item in raw:
        if isinstance(item, str):
            out.append(Pattern(re.compile(re.escape(item.strip()), flags), item))
        elif isinstance(item, dict) and set(item) == {"regex"} and isinstance(item["regex"], str):
            try:
                out.append(Pattern(re.compile(item["regex"], flags), item["regex"]))
            except re.error as exc:
                raise PackError(f"{_where(path, node, field)}: `{field}` has an invalid regex "
                                f"{item['regex']!r}: {exc}") from None
        else:
            raise PackError(f"{_where(path, node, field)}: `{field}` entries must be strings or {{regex: …}}, "
                            f"got {item!r}")
    return tuple(out)


_STRIP = re.compile(r"^[\s*_>#-]+|[\s*_]+$")


def _unit_text(text: str) -> str:
    return _STRIP.sub("", text.strip())


def _matches(patterns, text: str, whole: bool) -> Pattern | None:
    for p in patterns:
        if (p.regex.fullmatch(text) if whole else p.regex.search(text)):
            return p
    return None


class PackRule(Rule):
    """Base of rules declared in a YAML rule pack."""

    __abstract__ = True
    spec: dict = {}
    pack: str = ""
    kind: str = ""

    @classmethod
    def documentation(cls) -> str:
        return cls.__doc__ or ""

    def _fix(self, title: str, *edits: Edit, kind: FixKind) -> Fix | None:
        if self.spec.get("fix", "none") == "none":
            return None
        app = Applicability.SAFE if self.spec.get("applicability") == "safe" else Applicability.UNSAFE
        return Fix(tuple(edits), app, title, kind)

    def _report(self, span: Span, detail: str, fix: Fix | None):
        msg = self.spec.get("message") or self.summary
        return self.diagnostic(span, f"{msg}{f' ({detail})' if detail else ''}", fix=fix)

    def check(self, doc):
        yield from getattr(self, "_check_" + self.kind.replace("-", "_"))(doc)

    # -- phrase ---------------------------------------------------------------------
    def _check_phrase(self, doc):
        s = self.spec
        whole = s.get("match", "whole") == "whole"
        for block in doc.blocks:
            if block.kind in ("fence", "code_block", "html_block", "hr"):
                continue
            if s.get("unit", "paragraph") == "paragraph" and block.kind in ("paragraph", "heading"):
                units = [(block.line0, block.line1)]
            else:
                units = [(i, i + 1) for i in range(block.line0, block.line1)]
            for a, b in units:
                span = doc.lines.lines_span(a, b)
                text = " ".join(_unit_text(doc.lines.line_text(i)) for i in range(a, b)).strip()
                if not text or doc.is_protected(span):
                    continue
                p = _matches(s["_patterns"], text, whole)
                if p is not None:
                    fix = self._fix(f"Remove the {'paragraph' if b - a > 1 else 'line'}", remove_lines(doc, a, b),
                                    kind=FixKind.REMOVE_CONTENT)
                    yield self._report(span, f"line {a + 1}", fix)

    # -- block ----------------------------------------------------------------------
    def _check_block(self, doc):
        from tidymark.phrases.boilerplate import is_link_only

        s = self.spec
        blocks = doc.blocks
        i = 0
        while i < len(blocks):
            block = blocks[i]
            if block.kind not in ("paragraph", "heading") or block.line1 - block.line0 > 2:
                i += 1
                continue
            text = _unit_text(" ".join(doc.lines.line_text(k) for k in range(block.line0, block.line1)))
            if not text or _matches(s["_patterns"], text, True) is None or doc.is_protected(block.span):
                i += 1
                continue
            until = s.get("until", "heading")
            j = i + 1
            if until == "end":
                j = len(blocks)
            elif until == "links":
                while j < len(blocks) and is_link_only(doc, blocks[j].span):
                    j += 1
                if j == i + 1:
                    i += 1
                    continue
            else:
                level = len(block.markup) if block.kind == "heading" and block.markup.startswith("#") else 7
                while j < len(blocks) and not (blocks[j].kind == "heading" and blocks[j].markup.startswith("#")
                                              and len(blocks[j].markup) <= level):
                    j += 1
            last = blocks[j - 1]
            span = Span(block.span.start, last.span.end)
            fix = self._fix("Remove the block", remove_lines(doc, block.line0, last.line1), kind=FixKind.REMOVE_CONTENT)
            yield self._report(span, f"lines {block.line0 + 1}-{last.line1}", fix)
            i = j

    # -- front matter ---------------------------------------------------------------
    def _check_front_matter(self, doc):
        s = self.spec
        fm = doc.front_matter
        key = s["key"]
        if fm is None:
            if s.get("required"):
                yield self._report(Span(0, 0), f"no front matter, `{key}` is required", None)
            return
        if fm.error is not None:
            return
        present = key in fm.values
        entry = fm.get(key) if fm.kind == "yaml" else None
        where = entry.key_span if entry is not None else Span(fm.span.start, fm.span.start + 3)
        if s.get("required") and not present:
            fix = None
            if "default" in s and fm.kind == "yaml":
                from tidymark.frontmatter import scalar_text

                value = s["default"]
                text = scalar_text(value) if isinstance(value, str) else _yaml_inline(value)
                fix = self._fix(f"Add `{key}`", fm.append_entry(key, text), kind=FixKind.FRONT_MATTER)
            yield self._report(where, f"`{key}` is missing", fix)
        elif s.get("forbidden") and present:
            fix = self._fix(f"Remove `{key}`", fm.delete_entry(entry), kind=FixKind.FRONT_MATTER) \
                if entry is not None and entry.key_starts_line else None
            yield self._report(where, f"`{key}` is not allowed", fix)
        elif present:
            value = fm.values[key]
            if "pattern" in s and not s["_pattern"].fullmatch(str(value)):
                yield self._report(where, f"`{key}` does not match {s['pattern']!r}", None)
            if "type" in s and not _type_ok(s["type"], value):
                yield self._report(where, f"`{key}` is not a {s['type']}", None)

    # -- schema ---------------------------------------------------------------------
    def _check_schema(self, doc):
        from tidymark.rules.fm._schema import schema_diagnostics

        for d in schema_diagnostics(self, doc, self.spec["_map"], safe=self.spec.get("applicability") == "safe"):
            if d.fix is not None and self.spec.get("fix", "none") == "none":
                d = self.diagnostic(Span(d.span.start, d.span.end), d.message)
            yield d

    # -- links ----------------------------------------------------------------------
    def _check_link(self, doc):
        s = self.spec
        targets = s.get("targets", "both")
        kinds = {"links": ("link",), "images": ("image", "html_image"),
                 "both": ("link", "image", "html_image", "definition")}[targets]
        for el in doc.inline:
            if el.kind not in kinds:
                continue
            m = s["_url"].search(el.url)
            if not m:
                continue
            fix = None
            if s.get("fix") == "rewrite":
                new = s["_url"].sub(s.get("replacement", ""), el.url)
                if new != el.url:
                    fix = self._fix("Rewrite the URL", Edit(el.url_span, new), kind=FixKind.REWRITE)
            elif s.get("fix") == "remove":
                fix = self._fix("Remove the element", Edit(el.span, ""), kind=FixKind.REMOVE_CONTENT)
            yield self._report(el.url_span, el.url[:80], fix)

    # -- substitution ---------------------------------------------------------------
    def _check_substitution(self, doc):
        s = self.spec
        for m in s["_regex"].finditer(doc.text, doc.body_start):
            span = Span(m.start(), m.end())
            if not len(span) or doc.is_protected(span):
                continue
            new = m.expand(s.get("replacement", ""))
            fix = self._fix(f"Replace with {new!r}", Edit(span, new), kind=FixKind.REWRITE) if new != m.group() else None
            yield self._report(span, repr(m.group()[:60]), fix)


def _yaml_inline(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


def _type_ok(tp: str, value) -> bool:
    import datetime

    return {"string": isinstance(value, str), "list": isinstance(value, list),
            "bool": isinstance(value, bool),
            "number": isinstance(value, (int, float)) and not isinstance(value, bool),
            "date": isinstance(value, (datetime.date, datetime.datetime)),
            "mapping": isinstance(value, dict)}[tp]


def _rule_class(path: Path, node: Any, prefix: str | None) -> type[PackRule]:
    where = lambda key=None: _where(path, node, key)  # noqa: E731
    if not isinstance(node, dict):
        raise PackError(f"{where()}: each rule must be a mapping")
    for req in ("code", "name", "kind", "message"):
        if req not in node:
            raise PackError(f"{where()}: rule needs `{req}`")
    code, name, kind = str(node["code"]), str(node["name"]), str(node["kind"])
    if not CODE_RE.match(code):
        raise PackError(f"{where('code')}: `code` {code!r} must be 1-4 capital letters and 3 digits (e.g. XX001)")
    if prefix and not code.startswith(prefix):
        raise PackError(f"{where('code')}: `code` {code!r} must start with the pack's prefix {prefix!r}")
    if not NAME_RE.match(name):
        raise PackError(f"{where('name')}: `name` {name!r} must be kebab-case")
    if kind not in KINDS:
        raise PackError(f"{where('kind')}: `kind` must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(node) - COMMON - FIELDS[kind]
    if unknown:
        k = sorted(unknown)[0]
        raise PackError(f"{where(k)}: unknown field `{k}` for a {kind} rule; expected one of "
                        f"{', '.join(sorted(COMMON | FIELDS[kind]))}")
    spec = dict(node)
    fix = spec.get("fix", "none")
    if fix not in FIXES[kind]:
        raise PackError(f"{where('fix')}: `fix` must be one of {', '.join(FIXES[kind])} for a {kind} rule, got {fix!r}")
    if spec.get("applicability", "unsafe") not in ("safe", "unsafe"):
        raise PackError(f"{where('applicability')}: `applicability` must be safe or unsafe")
    try:
        severity = Severity.parse(str(spec.get("severity", "error")))
    except ValueError as exc:
        raise PackError(f"{where('severity')}: {exc}") from None
    ic = bool(spec.get("ignore-case", False))
    if kind in ("phrase", "block"):
        if "patterns" not in spec:
            raise PackError(f"{where()}: a {kind} rule needs `patterns`")
        spec["_patterns"] = _patterns(path, spec["patterns"], node, "patterns", ic)
        for field, allowed in (("unit", ("paragraph", "line")), ("match", ("whole", "contains")),
                               ("until", ("heading", "links", "end"))):
            if field in spec and spec[field] not in allowed:
                raise PackError(f"{where(field)}: `{field}` must be one of {', '.join(allowed)}")
    elif kind == "front-matter":
        if not isinstance(spec.get("key"), str):
            raise PackError(f"{where('key')}: a front-matter rule needs `key` (a string)")
        if not any(k in spec for k in ("required", "forbidden", "pattern", "type")):
            raise PackError(f"{where()}: a front-matter rule needs one of required, forbidden, pattern, type")
        if "pattern" in spec:
            try:
                spec["_pattern"] = re.compile(str(spec["pattern"]))
            except re.error as exc:
                raise PackError(f"{where('pattern')}: invalid regex: {exc}") from None
        if "type" in spec and spec["type"] not in ("string", "list", "bool", "number", "date", "mapping"):
            raise PackError(f"{where('type')}: `type` must be string, list, bool, number, date or mapping")
        if fix == "add" and "default" not in spec:
            raise PackError(f"{where('fix')}: `fix: add` needs a `default` value")
    elif kind == "link":
        try:
            spec["_url"] = re.compile(str(spec["url-pattern"]))
        except KeyError:
            raise PackError(f"{where()}: a link rule needs `url-pattern`") from None
        except re.error as exc:
            raise PackError(f"{where('url-pattern')}: invalid regex: {exc}") from None
        if spec.get("targets", "both") not in ("links", "images", "both"):
            raise PackError(f"{where('targets')}: `targets` must be links, images or both")
        if fix == "rewrite" and "replacement" not in spec:
            raise PackError(f"{where('fix')}: `fix: rewrite` needs `replacement`")
    elif kind == "schema":
        from tidymark.rules.fm._schema import PRESETS

        mapping: dict[str, str] = {}
        if "preset" in spec:
            if spec["preset"] not in PRESETS:
                raise PackError(f"{where('preset')}: `preset` must be one of {', '.join(PRESETS)}")
            mapping.update(PRESETS[spec["preset"]])
        if "map" in spec:
            if not isinstance(spec["map"], dict) or not all(isinstance(k, str) and isinstance(v, str) and v
                                                           for k, v in spec["map"].items()):
                raise PackError(f"{where('map')}: `map` must map front-matter keys to new key names")
            mapping.update({str(k): str(v) for k, v in spec["map"].items()})
        if not mapping:
            raise PackError(f"{where()}: a schema rule needs `map` or `preset`")
        spec["_map"] = mapping
    elif kind == "substitution":
        if "pattern" not in spec:
            raise PackError(f"{where()}: a substitution rule needs `pattern`")
        try:
            spec["_regex"] = re.compile(str(spec["pattern"]), re.IGNORECASE if ic else 0)
        except re.error as exc:
            raise PackError(f"{where('pattern')}: invalid regex: {exc}") from None
    message = str(spec["message"])
    doc = (f"{spec.get('summary') or message}\n\n## What it does\n{spec.get('description') or message}"
           f"\n\nDeclared in the rule pack `{path}` (kind `{kind}`).\n\n## Fix safety\n"
           + (f"{spec.get('applicability', 'unsafe').capitalize()}: fix `{fix}`." if fix != "none"
              else "No fix.") + "\n")
    safety = spec.get("applicability", "unsafe") if fix != "none" else ""
    attrs = {"__doc__": doc, "code": code, "name": name, "summary": str(spec.get("summary") or message),
             "default_severity": severity, "spec": spec, "pack": str(path), "kind": kind,
             "fix_availability": FixAvailability.SOMETIMES if fix != "none" else FixAvailability.NONE,
             "fix_safety": safety, "__module__": f"tidymark_pack_{abs(hash(str(path))) % 10**8}"}
    return type(f"Pack_{code}", (PackRule,), attrs)


@lru_cache(maxsize=64)
def _load(path_str: str, mtime_ns: int) -> tuple[type[PackRule], ...]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from tidymark.run.config import read_input

    path = Path(path_str)
    try:
        text = read_input(path).decode("utf-8")
    except OSError as exc:
        raise PackError(f"{path}: cannot read rule pack: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PackError(f"{path}: cannot read rule pack: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                        f"at offset {exc.start}); save it as UTF-8") from None
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as exc:
        from tidymark.run.config import _yaml_problem

        raise PackError(f"{path}: {_yaml_problem(exc)}") from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise PackError(f"{path}: a rule pack needs a `rules:` list")
    unknown = set(data) - {"rules", "name", "prefix", "description"}
    if unknown:
        k = sorted(unknown)[0]
        raise PackError(f"{_where(path, data, k)}: unknown top-level field `{k}`")
    prefix = data.get("prefix")
    classes = [_rule_class(path, node, prefix) for node in data["rules"]]
    codes = [c.code for c in classes]
    dup = next((c for c in codes if codes.count(c) > 1), None)
    if dup:
        raise PackError(f"{path}: rule code {dup} is declared twice")
    return tuple(classes)


def load_pack(path: Path) -> tuple[type[PackRule], ...]:
    path = path.resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise PackError(f"{path}: cannot read rule pack: {exc.strerror or exc}") from None
    return _load(str(path), mtime)
