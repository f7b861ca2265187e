"""Platform templates: the page furniture each publishing platform puts around an article.

A clipped page from a known platform carries that platform's own chrome: the WeChat page
footer (``预览时标签不可点``, the reward box, the "看一看" dialog), Substack's
"reader-supported publication" appeal and share dialog, juejin's column box and
recommendations, Medium's footer links…  These are not phrases of a language but fixed
shapes of one platform, so they are kept as data — ``rules/data/platforms.yaml``
(``tidymark/rules/data/`` once installed) — like the image-proxy table, and applied by the
``platform-template`` rule.  The same file lists the pages a clipper saves when the article
itself failed to load (error pages, login walls), read by the ``failed-clip`` rule.

The table
=========

``version: 1``, a list ``platforms`` and a list ``failed-clips``.  A platform row::

    - id: wechat                       # unique: lower case letters, digits, "_" and "-"
      name: WeChat official-account page
      hosts: [mp.weixin.qq.com]        # the note's own URL (front matter url/source/…);
                                       # a host matches itself and its sub-domains
      markers: [res.wx.qq.com/mmbizwap]  # substrings of the body that recognise the
                                       # platform when the note has no URL (optional)
      templates:
        - id: page-footer              # unique within the row
          kind: tail                   # line | between | tail | html-block
          start: '预览时标签不可点'      # regular expression, matched against a whole line
          applicability: safe          # safe | unsafe
          examples:                    # notes (front matter included) and what the
            - input: |                 # rule's fixes make of them (unsafe fixes applied)
                …
              output: |
                …
          keep: [ … ]                  # look-alike notes that must give no finding

A row applies to a note only when the platform is *recognised*: the host of its own URL is
one of ``hosts`` or one of ``markers`` occurs in its body.  Lines are compared in their
*plain* form: surrounding white space, block-quote and list markers, heading hashes and
``**``/``__`` emphasis runs removed, HTML entities decoded, inner white space collapsed; links and images stay as
written, so a pattern can require a link's target.  Patterns match a whole plain line
(``re.fullmatch``).

Template kinds:

``line``
    every line whose plain form matches ``pattern``.  ``zone`` (``any``, ``head``, ``tail``,
    ``edges``) limits it to the first / last ``zone-lines`` (default 25) non-blank body lines.
    ``context: true`` makes the line removable only inside chrome: a run of such lines goes
    only when the lines just before and after the run are removed by the table (or are the
    start / end of the body) — a lone "Email" or "Notes" in an article stays.
``between``
    from a line matching ``start`` to the next line matching ``end`` (within ``max-lines``,
    default 30), both included; or, with ``until`` instead of ``end``, up to the line
    before the one matching ``until`` (a section of the page that the article follows).
``tail``
    from the first line matching ``start`` that has at most ``max-lines`` (default 150)
    non-blank lines after it, to the end of the note.
``html-block``
    a top-level raw HTML block made of tags only (no text between them) in which
    ``pattern`` is found (``re.search``): the markup residue of a scraped widget.

Heading lines never match ``line`` patterns unless ``headings: true``.  A ``between`` or
``tail`` block that holds a line wider than ``max-width`` visible characters (default 100,
 a CJK character counting two)
is not removed: a sentence of prose inside means the block is not the platform's chrome.

Removals take their orphans: the decoration lines next to them (``____``, ``* * *``, a
thematic break after a blank line, ``▼``, ``****``) and, with ``orphans: images``, the
image-only line directly below (the QR code under a removed "扫码关注").  Nothing
inside code or an HTML comment is ever removed.

A failed-clip row::

    - id: github-pages-missing
      name: GitHub Pages "site not found" page
      patterns: ["There isn't a GitHub Pages site here\\\\."]   # whole plain lines
      companions: [ … ]            # other lines of the same error page (not article)
      examples: [ … notes that must be reported … ]
      keep: [ … look-alike notes that must not … ]

``load_table(path=None, extra=None)`` loads and validates the table once (a mistake raises
``ValueError`` naming the row and field); ``extra`` rows (same shape as ``platforms`` rows)
replace the row with the same id or are added.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

TABLE_FILE = "platforms.yaml"
KINDS = ("line", "between", "tail", "html-block")
ZONES = ("any", "head", "tail", "edges")
APPLICABILITIES = ("safe", "unsafe")
ORPHANS = ("decoration", "images")

_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\Z")
_ROW_KEYS = {"id", "name", "hosts", "markers", "templates", "note"}
_TEMPLATE_KEYS = {"id", "kind", "pattern", "start", "end", "until", "zone", "zone-lines", "context", "headings",
                  "max-lines", "max-width", "orphans", "applicability", "examples", "keep", "note"}
_FAILED_KEYS = {"id", "name", "patterns", "companions", "examples", "keep", "note"}
_TOP_KEYS = {"version", "platforms", "failed-clips"}


def _fail(what: str, where: str, key: str, problem: str) -> ValueError:
    return ValueError(f"{what} {where}: field {key!r}: {problem}")


def _compile(what: str, where: str, key: str, value: Any) -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise _fail(what, where, key, "must be a non-empty string (a regular expression)")
    try:
        return re.compile(value)
    except re.error as exc:
        raise _fail(what, where, key, f"bad regular expression: {exc}") from None


def _str_list(what: str, where: str, row: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = row.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(what, where, key, f"must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _int(what: str, where: str, row: Mapping[str, Any], key: str, default: int) -> int:
    value = row.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _fail(what, where, key, f"must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True)
class Example:
    input: str
    output: str | None      # None: a failed-clip example (reported, not fixed)


def _examples(what: str, where: str, row: Mapping[str, Any], with_output: bool) -> tuple[Example, ...]:
    raw = row.get("examples") or []
    if not isinstance(raw, list):
        raise _fail(what, where, "examples", "must be a list")
    out = []
    for n, item in enumerate(raw, 1):
        if with_output:
            if not isinstance(item, Mapping) or set(item) != {"input", "output"} \
                    or not all(isinstance(item[k], str) for k in ("input", "output")):
                raise _fail(what, where, "examples", f"example {n} must have exactly the string keys input and output")
            out.append(Example(item["input"], item["output"]))
        else:
            if not isinstance(item, str) or not item:
                raise _fail(what, where, "examples", f"example {n} must be a note (a string)")
            out.append(Example(item, None))
    return tuple(out)


def _keep(what: str, where: str, row: Mapping[str, Any]) -> tuple[str, ...]:
    raw = row.get("keep") or []
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise _fail(what, where, "keep", "must be a list of notes (strings)")
    return tuple(raw)


@dataclass(frozen=True)
class Template:
    id: str
    kind: str
    pattern: re.Pattern[str] | None
    start: re.Pattern[str] | None
    end: re.Pattern[str] | None
    end_included: bool
    zone: str
    zone_lines: int
    context: bool
    headings: bool
    max_lines: int
    max_width: int
    orphans: tuple[str, ...]
    applicability: str
    examples: tuple[Example, ...] = ()
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    hosts: tuple[str, ...]
    markers: tuple[str, ...]
    templates: tuple[Template, ...]


@dataclass(frozen=True)
class FailedClip:
    id: str
    name: str
    patterns: tuple[re.Pattern[str], ...]
    companions: tuple[re.Pattern[str], ...] = ()
    examples: tuple[Example, ...] = ()
    keep: tuple[str, ...] = ()


def _parse_template(raw: Any, row_where: str, position: int) -> Template:
    what = "platform template"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what} #{position} of {row_where}: a template must be a mapping")
    tid = raw.get("id")
    where = f"{row_where}/{tid}" if isinstance(tid, str) and tid else f"#{position} of {row_where}"
    unknown = sorted(set(raw) - _TEMPLATE_KEYS, key=str)
    if unknown:
        raise _fail(what, where, str(unknown[0]), f"unknown key (allowed: {', '.join(sorted(_TEMPLATE_KEYS))})")
    if not isinstance(tid, str) or not _ID_RE.match(tid):
        raise _fail(what, where, "id", "missing, or not lower case letters, digits, '_' or '-'")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _fail(what, where, "kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    needs = {"line": ("pattern",), "html-block": ("pattern",), "between": ("start", "end"), "tail": ("start",)}[kind]
    if kind == "between" and "until" in raw:
        if "end" in raw:
            raise _fail(what, where, "until", "a 'between' template takes 'end' or 'until', not both")
        needs = ("start", "until")
    for key in ("pattern", "start", "end", "until"):
        if key in raw and key not in needs:
            raise _fail(what, where, key, f"not used by a {kind!r} template")
    pats = {key: _compile(what, where, key, raw.get(key)) for key in needs}
    zone = raw.get("zone", "any")
    if zone not in ZONES:
        raise _fail(what, where, "zone", f"must be one of {', '.join(ZONES)}, got {zone!r}")
    if kind != "line" and ("zone" in raw or "context" in raw or "headings" in raw):
        raise _fail(what, where, "zone" if "zone" in raw else ("context" if "context" in raw else "headings"),
                    "only a 'line' template takes it")
    for key in ("context", "headings"):
        if not isinstance(raw.get(key, False), bool):
            raise _fail(what, where, key, "must be true or false")
    orphans = _str_list(what, where, raw, "orphans") or ("decoration",)
    for o in orphans:
        if o not in ORPHANS:
            raise _fail(what, where, "orphans", f"must be among {', '.join(ORPHANS)}, got {o!r}")
    applicability = raw.get("applicability")
    if applicability not in APPLICABILITIES:
        raise _fail(what, where, "applicability", f"must be safe or unsafe, got {applicability!r}")
    return Template(id=tid, kind=kind, pattern=pats.get("pattern"), start=pats.get("start"),
                    end=pats.get("end") or pats.get("until"), end_included="until" not in pats,
                    zone=zone, zone_lines=_int(what, where, raw, "zone-lines", 25),
                    context=bool(raw.get("context", False)), headings=bool(raw.get("headings", False)),
                    max_lines=_int(what, where, raw, "max-lines", 150 if kind == "tail" else 30),
                    max_width=_int(what, where, raw, "max-width", 100), orphans=orphans,
                    applicability=applicability, examples=_examples(what, where, raw, True),
                    keep=_keep(what, where, raw))


def _row_head(what: str, raw: Any, position: str, allowed: set[str]) -> tuple[str, str, str]:
    """A row's ``id``, the name errors give it, and its ``name``, after the checks every row kind
    shares: a mapping, only ``allowed`` keys, an id of lower-case letters, digits, ``_``, ``-``."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{what} {position}: a row must be a mapping, got {raw!r}")
    rid = raw.get("id")
    where = repr(rid) if isinstance(rid, str) and rid else position
    unknown = sorted(set(raw) - allowed, key=str)
    if unknown:
        raise _fail(what, where, str(unknown[0]), f"unknown key (allowed: {', '.join(sorted(allowed))})")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise _fail(what, where, "id", "missing, or not lower case letters, digits, '_' or '-'")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise _fail(what, where, "name", "missing")
    return rid, where, name


def parse_platform(raw: Any, position: str) -> Platform:
    what = "platform"
    pid, where, name = _row_head(what, raw, position, _ROW_KEYS)
    hosts = tuple(h.lower() for h in _str_list(what, where, raw, "hosts"))
    for h in hosts:
        if not _HOST_RE.match(h):
            raise _fail(what, where, "hosts", f"{h!r} is not a host name")
    markers = _str_list(what, where, raw, "markers")
    if not hosts and not markers:
        raise _fail(what, where, "hosts", "a row needs hosts or markers (or both) to recognise the platform")
    templates_raw = raw.get("templates")
    if not isinstance(templates_raw, list) or not templates_raw:
        raise _fail(what, where, "templates", "must be a non-empty list")
    templates = tuple(_parse_template(t, where, i) for i, t in enumerate(templates_raw, 1))
    ids = [t.id for t in templates]
    for t in ids:
        if ids.count(t) > 1:
            raise _fail(what, where, "templates", f"template id {t!r} is used twice")
    return Platform(id=pid, name=name, hosts=hosts, markers=markers, templates=templates)


def parse_failed_clip(raw: Any, position: str) -> FailedClip:
    what = "failed-clip row"
    fid, where, name = _row_head(what, raw, position, _FAILED_KEYS)
    pats = _str_list(what, where, raw, "patterns")
    if not pats:
        raise _fail(what, where, "patterns", "missing")
    companions = tuple(_compile(what, where, "companions", p) for p in _str_list(what, where, raw, "companions"))
    return FailedClip(id=fid, name=name, patterns=tuple(_compile(what, where, "patterns", p) for p in pats),
                      companions=companions,
                      examples=_examples(what, where, raw, False), keep=_keep(what, where, raw))


@dataclass(frozen=True)
class Table:
    platforms: tuple[Platform, ...]
    failed_clips: tuple[FailedClip, ...] = ()
    _marker_re: Any = field(default=None, compare=False, repr=False)

    def marker_re(self) -> re.Pattern[str] | None:
        """One alternation of every row's body markers (a single scan recognises them all)."""
        if self._marker_re is None:
            markers = sorted({m for p in self.platforms for m in p.markers}, key=len, reverse=True)
            object.__setattr__(self, "_marker_re", re.compile("|".join(map(re.escape, markers))) if markers else False)
        return self._marker_re or None

    def by_id(self, pid: str) -> Platform:
        for p in self.platforms:
            if p.id == pid:
                return p
        raise KeyError(pid)


def parse_table(data: Any, source: str = "table") -> Table:
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: the platform table must be a mapping with a 'platforms' list")
    unknown = sorted(set(data) - _TOP_KEYS, key=str)
    if unknown:
        raise ValueError(f"{source}: unknown top-level key {unknown[0]!r}")
    if data.get("version", 1) != 1:
        raise ValueError(f"{source}: unsupported table version {data.get('version')!r}")
    rows = data.get("platforms")
    if not isinstance(rows, list):
        raise ValueError(f"{source}: 'platforms' must be a list")
    platforms = tuple(parse_platform(r, f"#{i} in {source}") for i, r in enumerate(rows, 1))
    failed_raw = data.get("failed-clips") or []
    if not isinstance(failed_raw, list):
        raise ValueError(f"{source}: 'failed-clips' must be a list")
    failed = tuple(parse_failed_clip(r, f"#{i} in {source}") for i, r in enumerate(failed_raw, 1))
    for what, ids in (("platform", [p.id for p in platforms]), ("failed-clip row", [f.id for f in failed])):
        for i in ids:
            if ids.count(i) > 1:
                raise ValueError(f"{source}: {what} id {i!r} is used twice")
    return Table(platforms, failed)


def default_table_path() -> Path:
    """``<tidymark.rules>/data/platforms.yaml`` (installed or in the source tree)."""
    return Path(__file__).resolve().parent / "data" / TABLE_FILE


@lru_cache(maxsize=8)
def _load_file(path: str) -> Table:
    import yaml

    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return parse_table(data, source=path)


def load_table(path: str | Path | None = None, extra: Sequence[Mapping[str, Any]] | None = None) -> Table:
    """The platform table (built-in, or the YAML file at ``path``) plus ``extra`` platform rows:
    a row whose id is in the table replaces it, the others are added first."""
    table = _load_file(str(path if path is not None else default_table_path()))
    if not extra:
        return table
    return _with_extra(table, tuple(_freeze(r) for r in extra))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("__list__", tuple(_freeze(v) for v in value))
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple) and value and value[0] == "__list__":
        return [_thaw(v) for v in value[1]]
    if isinstance(value, tuple):
        return {k: _thaw(v) for k, v in value}
    return value


@lru_cache(maxsize=16)
def _with_extra(table: Table, extra: tuple) -> Table:
    added = [parse_platform(_thaw(r), f"#{i} in extra") for i, r in enumerate(extra, 1)]
    replacing = {p.id: p for p in added}
    existing = {p.id for p in table.platforms}
    new = [p for p in added if p.id not in existing]
    return Table((*new, *(replacing.get(p.id, p) for p in table.platforms)), table.failed_clips)


# ---------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------

_LEAD = re.compile(r"^\s*(?:>\s?)*\s*(?:[-+*]\s+|\d{1,3}[.)]\s+)?(?:#{1,6}\s+)?")
_EMPH_RUN = re.compile(r"\*{2,}|_{2,}")
_SPACES = re.compile(r"\s+")
_HEADING = re.compile(r"^\s{0,3}(?:>\s?)*#{1,6}(?:\s|$)")
_DECORATION = re.compile(r"[\s*_\-=~·•.。,，:：|▼▲▽△↓↑⬇︎—–…/\\]*")
_IMAGE_ONLY = re.compile(r"\s*(?:>\s*)*(?:\[\s*)?!\[[^\]\n]{0,200}\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"
                         r"(?:\]\([^)\s]*\))?\s*")
# Thematic breaks of dashes or stars (also setext underlines).  Runs of underscores, though
# valid breaks, are left over from emphasis markup in clipped pages: plain decoration here.
_SETEXT_OR_HR = re.compile(r"\s{0,3}(?:-{3,}|\*{3,}|(?:[-*]\s+){2,}[-*])\s*")
MAX_PLAIN = 1500


def plain(line: str) -> str:
    """The form a table pattern is matched against (see the module docstring)."""
    text = _LEAD.sub("", line, count=1)
    if "&" in text:
        text = html.unescape(text)
    if "**" in text or "__" in text:
        text = _EMPH_RUN.sub("", text)
    return _SPACES.sub(" ", text).strip()


def is_heading(line: str) -> bool:
    """An ATX heading line (``# …``), also inside a block quote."""
    return _HEADING.match(line) is not None


def is_decoration(line: str) -> bool:
    """A line of no words: rules of underscores or stars, arrows, dots."""
    s = line.strip()
    return bool(s) and _DECORATION.fullmatch(s) is not None


def is_image_only(line: str) -> bool:
    return _IMAGE_ONLY.fullmatch(line) is not None


def recognised(doc, table: Table) -> tuple[Platform, ...]:
    """The rows of ``table`` whose platform the note comes from."""
    from tidymark.phrases.boilerplate import host_matches, own_hosts

    body = doc.text[doc.body_start:]
    found = set()
    rx = table.marker_re()
    if rx is not None:
        found = {m.group(0) for m in rx.finditer(body)}
    hosts = None
    out = []
    for p in table.platforms:
        if found and any(m in found for m in p.markers):
            out.append(p)
            continue
        if p.hosts:
            if hosts is None:
                hosts = own_hosts(doc)
            if any(host_matches(h, p.hosts) for h in hosts):
                out.append(p)
    return tuple(out)


@dataclass
class Removal:
    platform: Platform
    template: Template
    first0: int          # 0-based first line
    last0: int           # exclusive
    safe: bool
    label: str


class _Lines:
    """The body lines of a document, plain forms memoised."""

    def __init__(self, doc):
        self.doc = doc
        lines = doc.lines
        self.count = lines.line_count
        self.start = lines.line_of(doc.body_start) if doc.body_start < len(doc.text) else self.count
        self.raw = [lines.line_text(i) for i in range(self.start, self.count)]
        self._plain: dict[int, str] = {}
        self.nonblank = [i for i in range(self.start, self.count) if self.raw[i - self.start].strip()]
        from tidymark.phrases.boilerplate import fenced_code_spans

        fences = fenced_code_spans(doc)
        self.fenced: set[int] = set()
        for sp in fences:
            a, b = lines.line_of(sp.start), lines.line_of(max(sp.start, sp.end - 1))
            self.fenced.update(range(a, b + 1))

    def text(self, i: int) -> str:
        return self.raw[i - self.start]

    def plain(self, i: int) -> str:
        v = self._plain.get(i)
        if v is None:
            raw = self.raw[i - self.start]
            v = self._plain[i] = plain(raw) if len(raw) <= MAX_PLAIN * 2 else ""
        return v

    def blank(self, i: int) -> bool:
        return not self.raw[i - self.start].strip()


def _in_zone(t: Template, rank: int, total: int) -> bool:
    if t.zone == "any":
        return True
    head = rank < t.zone_lines
    tail = total - rank <= t.zone_lines
    return head if t.zone == "head" else tail if t.zone == "tail" else head or tail


# the end of a link whose text spans several lines: ``](https://… "title")``, a URL, no prose
_LINK_TAIL = re.compile(r"\s*\]\([^()\s]*(?:\s+\"[^\"]*\")?\)\s*")


def _too_wide(lines: _Lines, a: int, b: int, limit: int) -> bool:
    from tidymark.phrases.boilerplate import visible_width

    return any(visible_width(lines.text(i)) > limit for i in range(a, b)
               if not lines.blank(i) and not is_image_only(lines.text(i))
               and not _LINK_TAIL.fullmatch(lines.text(i)))


def _match(rx: re.Pattern[str] | None, lines: _Lines, i: int) -> bool:
    if rx is None or i in lines.fenced:
        return False
    p = lines.plain(i)
    return bool(p) and len(p) <= MAX_PLAIN and rx.fullmatch(p) is not None


def find_removals(doc, table: Table, platforms: Iterable[Platform] | None = None) -> list[Removal]:
    """What the table removes from ``doc``, as merged line ranges (see the module docstring)."""
    rows = tuple(platforms) if platforms is not None else recognised(doc, table)
    if not rows:
        return []
    lines = _Lines(doc)
    if not lines.nonblank:
        return []
    rank = {i: k for k, i in enumerate(lines.nonblank)}
    total = len(lines.nonblank)
    found: list[Removal] = []
    for p in rows:
        context: list[tuple[Template, int]] = []
        for t in p.templates:
            safe = t.applicability == "safe"
            if t.kind == "line":
                for i in lines.nonblank:
                    if not _in_zone(t, rank[i], total) or (not t.headings and _HEADING.match(lines.text(i))):
                        continue
                    if _match(t.pattern, lines, i):
                        if t.context:
                            context.append((t, i))
                        else:
                            found.append(Removal(p, t, i, i + 1, safe, lines.plain(i)))
            elif t.kind == "between":
                k = 0
                nb = lines.nonblank
                while k < len(nb):
                    i = nb[k]
                    if _match(t.start, lines, i):
                        for m in range(k + 1, min(len(nb), k + 1 + t.max_lines)):
                            if _match(t.end, lines, nb[m]):
                                j = nb[m] + 1 if t.end_included else nb[m]
                                if not _too_wide(lines, i, j, t.max_width):
                                    found.append(Removal(p, t, i, j, safe, lines.plain(i)))
                                k = m
                                break
                    k += 1
            elif t.kind == "tail":
                for k, i in enumerate(lines.nonblank):
                    if total - k - 1 > t.max_lines:
                        continue
                    if _match(t.start, lines, i):
                        if not _too_wide(lines, i, lines.count, t.max_width):
                            found.append(Removal(p, t, i, lines.count, safe, lines.plain(i)))
                        break
            elif t.kind == "html-block" and "<" in doc.text:
                found.extend(_html_blocks(doc, lines, p, t, safe))
        if context:
            found.extend(_context_runs(lines, context, found))
    return _finish(doc, lines, found)


_TAGS_ONLY = re.compile(r"(?:\s*</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>)+\s*")


_CLOSING_ONLY = re.compile(r"(?:\s*</[A-Za-z][A-Za-z0-9-]*\s*>)+\s*")


def _html_blocks(doc, lines: _Lines, p: Platform, t: Template, safe: bool) -> list[Removal]:
    """Tag-only HTML blocks holding the pattern, and then the blocks of closing tags only
    (``</div>``) that close such widgets."""
    found: list[Removal] = []
    closing: list[Removal] = []
    for b in doc.blocks:
        if b.kind != "html_block" or b.line0 < lines.start:
            continue
        raw = doc.text[b.span.start:b.span.end]
        if not _TAGS_ONLY.fullmatch(raw):
            continue
        r = Removal(p, t, b.line0, b.line1, safe, plain(lines.text(b.line0))[:60])
        if t.pattern.search(raw):
            found.append(r)
        elif _CLOSING_ONLY.fullmatch(raw):
            closing.append(r)
    return found + closing if found else []


def _context_runs(lines: _Lines, context: list[tuple[Template, int]], found: list[Removal]) -> list[Removal]:
    removed: set[int] = set()
    for r in found:
        removed.update(range(r.first0, r.last0))
    cand = {i: t for t, i in context}
    nb = lines.nonblank
    out = []
    k = 0
    while k < len(nb):
        if nb[k] not in cand or nb[k] in removed:
            k += 1
            continue
        m = k
        while m + 1 < len(nb) and nb[m + 1] in cand and nb[m + 1] not in removed:
            m += 1
        before_ok = k == 0 or nb[k - 1] in removed
        after_ok = m == len(nb) - 1 or nb[m + 1] in removed
        if before_ok and after_ok and (k > 0 or m < len(nb) - 1):
            for x in range(k, m + 1):
                t = cand[nb[x]]
                out.append(_removal_for(t, nb[x], lines, found))
        k = m + 1
    return out


def _removal_for(t: Template, i: int, lines: _Lines, found: list[Removal]) -> Removal:
    owner = next(r.platform for r in found)
    return Removal(owner, t, i, i + 1, t.applicability == "safe", lines.plain(i))


def _is_rule(text: str) -> bool:
    return _SETEXT_OR_HR.fullmatch(text) is not None


def _extend_orphans(doc, lines: _Lines, r: Removal) -> None:
    """Widen ``r`` over the decoration lines next to it (not thematic breaks, see
    :func:`_take_rules`) and, when its template says so, the one image right under it."""
    images = "images" in r.template.orphans

    took_image = False

    def orphan(i: int, below: bool) -> bool:
        nonlocal took_image
        if i in lines.fenced:
            return False
        text = lines.text(i)
        if is_decoration(text):
            return not _is_rule(text)
        if images and below and not took_image and is_image_only(text):
            took_image = True  # one image (the QR code under its caption), not a gallery
            return True
        return False

    i = r.first0 - 1
    while i >= lines.start:
        if lines.blank(i):
            i -= 1
            continue
        if not orphan(i, False):
            break
        r.first0 = i
        i -= 1
    i = r.last0
    while i < lines.count:
        if lines.blank(i):
            i += 1
            continue
        if not orphan(i, True):
            break
        r.last0 = i + 1
        i += 1


def _take_rules(lines: _Lines, kept: list[Removal]) -> list[Removal]:
    """Thematic breaks that only framed removed lines: one whose nearest lines on both sides
    are removed (or the start / end of the body) with no kept text beyond them on one side,
    one right above a removal that reaches the
    end of the note, and the two rules right around a removal
    (an appeal set between two rules).  A rule between a removal and article text stays:
    it may separate two parts of the article."""
    removed: dict[int, Removal] = {}
    for r in kept:
        for x in range(r.first0, r.last0):
            removed[x] = r
    nb = lines.nonblank
    pos = {i: k for k, i in enumerate(nb)}
    out: list[Removal] = []

    def neighbour(k: int, step: int) -> int | None:
        k += step
        return nb[k] if 0 <= k < len(nb) else None

    for k, i in enumerate(nb):
        if i in removed or i in lines.fenced or not _is_rule(lines.text(i)):
            continue
        up, down = neighbour(k, -1), neighbour(k, 1)
        owner = removed.get(up) if up is not None else None
        owner = owner or (removed.get(down) if down is not None else None)
        if owner is None:
            continue
        framed = (up is None or up in removed) and (down is None or down in removed)
        if framed and up is not None and down is not None and removed[up].first0 > nb[0] \
                and removed[down].last0 <= nb[-1]:
            framed = False  # kept text beyond the removals on both sides: it may separate them
        ends = down is not None and down in removed and removed[down].last0 > nb[-1]
        if framed or ends:
            out.append(Removal(owner.platform, owner.template, i, i + 1, owner.safe, owner.label))
    for r in kept:
        first, last = r.first0, r.last0 - 1
        while first in pos and lines.blank(first):
            first += 1
        up = neighbour(pos[first], -1) if first in pos else None
        down = neighbour(pos[last], 1) if last in pos else None
        if up is not None and down is not None and up not in removed and down not in removed \
                and _is_rule(lines.text(up)) and _is_rule(lines.text(down)) \
                and up not in lines.fenced and down not in lines.fenced \
                and (up == lines.start or lines.blank(up - 1)):
            out.append(Removal(r.platform, r.template, up, up + 1, r.safe, r.label))
            out.append(Removal(r.platform, r.template, down, down + 1, r.safe, r.label))
    return out


def _union(rs: list[Removal], lines: _Lines) -> list[Removal]:
    """Merge ranges of one applicability that overlap or have only blank lines between them."""
    out: list[Removal] = []
    for r in sorted(rs, key=lambda r: (r.first0, -r.last0)):
        if out:
            m = out[-1]
            if r.first0 <= m.last0 or all(lines.blank(x) for x in range(m.last0, r.first0)):
                m.last0 = max(m.last0, r.last0)
                continue
        out.append(Removal(r.platform, r.template, r.first0, r.last0, r.safe, r.label))
    return out


def _finish(doc, lines: _Lines, found: list[Removal]) -> list[Removal]:
    if not found:
        return []
    safe = _union([r for r in found if r.safe], lines)
    taken: set[int] = set()
    for r in safe:
        taken.update(range(r.first0, r.last0))
    # an unsafe range overlapping a safe one waits for the next pass
    unsafe = _union([r for r in found if not r.safe and not (set(range(r.first0, r.last0)) & taken)], lines)
    kept = sorted(safe + unsafe, key=lambda r: r.first0)
    for r in kept:
        _extend_orphans(doc, lines, r)
    kept = sorted(kept + _take_rules(lines, kept), key=lambda r: r.first0)
    merged: list[Removal] = []
    for r in kept:
        if merged:
            m = merged[-1]
            gap = all(lines.blank(x) for x in range(m.last0, r.first0))
            if r.first0 < m.last0 or (gap and m.safe == r.safe):
                if m.safe == r.safe:
                    m.last0 = max(m.last0, r.last0)
                    continue
                r.first0 = m.last0
        merged.append(r)
    out = []
    for r in merged:
        while r.last0 > r.first0 and lines.blank(r.last0 - 1):
            r.last0 -= 1
        while r.first0 < r.last0 and lines.blank(r.first0):
            r.first0 += 1
        if r.first0 >= r.last0:
            continue
        span = doc.lines.lines_span(r.first0, r.last0)
        if doc.is_protected(span) or _joins_lists(doc, r):
            continue
        out.append(r)
    return out


_LISTS = ("bullet_list", "ordered_list")


def _joins_lists(doc, r: Removal) -> bool:
    """Would removing the range join the blocks on either side of it into one (two lists, two
    indented code blocks)?"""
    import bisect

    blocks = doc.blocks
    starts = [b.line0 for b in blocks]
    i = bisect.bisect_left(starts, r.first0) - 1      # the block before the range
    j = bisect.bisect_left(starts, r.last0)           # the block after it
    if i < 0 or j >= len(blocks) or blocks[i].line1 > r.first0:
        return False
    if blocks[i].kind in _LISTS and blocks[j].kind in _LISTS:
        return True
    from tidymark.markdown import parser

    # the last line before and the first line after, once only a blank line separates them
    pair = f"{doc.lines.line_text(blocks[i].line1 - 1)}\n\n{doc.lines.line_text(blocks[j].line0)}\n"
    return sum(1 for t in parser(True).parse(pair) if t.level == 0 and t.nesting >= 0) == 1
