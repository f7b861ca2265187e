"""Moving facts about a note from its body into its front matter.

* **Facts** — author, publisher (account, publication), published date, source URL, title,
  description, tags: what clippers write as body lines (bylines, tag lines, source lines).
* **Dates** — the formats bylines use (ISO, Chinese/Japanese ``年月日``, English month names),
  normalised to ISO 8601; a time is kept, with the platform's zone when the platform has one
  (WeChat shows Beijing time).
* **URLs** — a lifted URL loses the session and tracking parameters that change nothing the
  link opens; placeholders are never lifted.
* **Writing** — :func:`front_matter_edits` turns facts into lossless edits: new keys are
  inserted as lines at the end of the front matter, an empty key is filled in place, new tags
  join an existing ``tags`` list in its own style (block or flow, quoted or not).  YAML and
  TOML front matter are edited; a note without front matter gets a minimal ``---`` block.
  Nothing is re-dumped.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urlsplit, urlunsplit

from tidymark.rules._clipper import SOURCE_URL_KEYS, is_placeholder_url, norm, norm_url
from tidymark.diagnostics import Edit
from tidymark.frontmatter import scalar_text

# The facts a line can hold, and the keys that may already hold each (the first is the
# default key written, Obsidian Web Clipper's name where it has one).
FACT_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title", "full_title"),
    "source": ("source",) + tuple(k for k in SOURCE_URL_KEYS if k != "source") + ("upstream_url",),
    "author": ("author", "authors", "creator", "by"),
    "author_url": ("author_url", "author_link"),
    "publisher": ("publisher", "site", "site_name", "siteName", "account", "publication"),
    "original_publisher": ("original_publisher", "origin_account"),
    "published": ("published", "date_published", "publish_date", "publishDate", "pubDate", "pubdate",
                  "date_posted"),
    "location": ("location", "place"),
    "description": ("description", "summary", "excerpt"),
}
# Keys whose same value also counts as "already there" (never written, never a conflict).
SAME_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    "published": ("date",),
}

# --- URLs -------------------------------------------------------------------------------

_TRACKING = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|igshid|_hsenc|_hsmi|mkt_tok|yclid|"
    r"spm|ref_src|share_source|share_medium|pass_ticket|sessionid|exportkey|chksm)$")
# WeChat article links: only these parameters name the article (`scene`, `sharer_*`,
# `clicktime` … are session and sharing state)
_WECHAT_KEEP = ("__biz", "mid", "idx", "sn")


def clean_url(url: str) -> str:
    """``url`` without session and tracking parameters (``utm_*``, ``fbclid``, WeChat's
    ``pass_ticket``, ``sessionid``, ``exportkey``, ``chksm``, ``scene`` …).

    A WeChat article link (``mp.weixin.qq.com/s?…``) keeps only ``__biz``, ``mid``, ``idx`` and
    ``sn``, which name the article, and loses its fragment (``#rd``, ``#wechat_redirect``).
    Other URLs keep every parameter that is not a known tracker, in their order and spelling.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url
    if not parts.query and not parts.fragment:
        return url.strip()
    host = (parts.hostname or "").lower()
    wechat = host == "mp.weixin.qq.com"
    pieces = [q for q in parts.query.split("&") if q]
    names = [unquote_plus(q.split("=", 1)[0]) for q in pieces]
    if wechat:
        kept = [q for q, n in zip(pieces, names) if n in _WECHAT_KEEP]
    else:
        kept = [q for q, n in zip(pieces, names) if not _TRACKING.match(n)]
    if len(kept) == len(pieces) and not (wechat and parts.fragment):
        return url.strip()  # nothing dropped: keep the spelling exactly
    query = "&".join(kept)  # the kept parameters as written
    fragment = "" if wechat else parts.fragment
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def liftable_url(url: str) -> bool:
    """A URL worth keeping as a note's source: http(s), not a placeholder."""
    u = url.strip()
    return bool(re.match(r"https?://[^\s/]+\.[^\s/]", u, re.I)) and not is_placeholder_url(u)


# --- dates ------------------------------------------------------------------------------

_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_TIME = r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?P<tz>\s*(?:Z|[+-]\d{2}:?\d{2}))?)?"
DATE_PATTERNS: tuple[re.Pattern, ...] = (
    re.compile(r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})" + _TIME),
    re.compile(r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})" + _TIME),
    re.compile(r"(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})" + _TIME),
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日" + _TIME),
    re.compile(r"(?P<mon>[A-Za-z]{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _TIME),
    re.compile(r"(?P<d>\d{1,2})\s+(?P<mon>[A-Za-z]{3,9})\.?,?\s+(?P<y>\d{4})" + _TIME),
)


@dataclass(frozen=True)
class Date:
    day: _dt.date
    time: _dt.time | None = None
    zone: str | None = None      # "+08:00", "Z"

    def iso(self) -> str:
        if self.time is None:
            return self.day.isoformat()
        text = f"{self.day.isoformat()}T{self.time.strftime('%H:%M:%S')}"
        return text + (self.zone or "")


def parse_date(text: str, zone: str | None = None) -> Date | None:
    """The date a whole string spells (``2024-04-09 22:10``, ``2026年1月10日 13:42``,
    ``Mar 3, 2024``, ``3 March 2024``); ``zone`` is the platform's zone for a time without one."""
    text = text.strip()
    for pat in DATE_PATTERNS:
        m = pat.fullmatch(text)
        if m:
            return _date_of(m, zone)
    return None


def _date_of(m: re.Match, zone: str | None) -> Date | None:
    g = m.groupdict()
    if g.get("mon") is not None:
        month = _MONTHS.get(g["mon"][:3].lower())
        if month is None or (len(g["mon"]) > 3 and not _full_month(g["mon"])):
            return None
    else:
        month = int(g["m"])
    try:
        day = _dt.date(int(g["y"]), month, int(g["d"]))
    except ValueError:
        return None
    if not 1900 <= day.year <= 2200:
        return None
    if g.get("H") is None:
        return Date(day)
    try:
        t = _dt.time(int(g["H"]), int(g["M"]), int(g["S"] or 0))
    except ValueError:
        return None
    tz = (g.get("tz") or "").strip()
    if tz and tz != "Z" and ":" not in tz:
        tz = tz[:3] + ":" + tz[3:]
    return Date(day, t, tz or zone)


def _full_month(word: str) -> bool:
    names = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
             "october", "november", "december", "sept")
    return word.lower() in names


def same_day(value, date: Date) -> bool:
    """Does a front-matter value (a date, datetime or string) name the same calendar day?"""
    if isinstance(value, _dt.datetime):
        return value.date() == date.day
    if isinstance(value, _dt.date):
        return value == date.day
    if isinstance(value, str):
        for pat in DATE_PATTERNS:
            m = pat.match(value.strip())
            if m:
                other = _date_of(m, None)
                return other is not None and other.day == date.day
    return False


# --- facts ------------------------------------------------------------------------------

@dataclass
class Facts:
    """The facts of one body line (or block of lines)."""

    values: dict[str, object] = field(default_factory=dict)   # fact -> str or Date
    tags: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.values or self.tags)

    def merge(self, other: "Facts") -> None:
        for k, v in other.values.items():
            self.values.setdefault(k, v)
        for t in other.tags:
            if t not in self.tags:
                self.tags.append(t)


def _plain_name(value) -> str:
    """A name as compared: wikilink brackets, link syntax and quotes gone."""
    s = str(value).strip().strip("\"'")
    m = re.fullmatch(r"\[\[([^\]|]+)(?:\|[^\]]*)?\]\]", s)
    if m:
        s = m.group(1)
    m = re.fullmatch(r"\[([^\]]+)\]\([^)]*\)", s)
    if m:
        s = m.group(1)
    return norm(s)


def _holds(fact: str, held, value) -> bool:
    """Does a front-matter value ``held`` already hold ``value`` for ``fact``?"""
    if fact == "published":
        if isinstance(held, list):
            return any(same_day(h, value) for h in held)
        return same_day(held, value)
    if fact in ("source", "author_url"):
        return isinstance(held, str) and norm_url(clean_url(held)) == norm_url(value)
    items = held if isinstance(held, list) else [held]
    return any(_plain_name(h) == _plain_name(value) for h in items if h is not None)


def _empty(held) -> bool:
    return held is None or (isinstance(held, str) and not held.strip()) or held == []


@dataclass
class Plan:
    """What lifting some facts into a front matter takes."""

    add: dict[str, str] = field(default_factory=dict)     # key -> value text (new keys)
    fill: dict[str, str] = field(default_factory=dict)    # key -> value text (empty keys)
    tags: list[str] = field(default_factory=list)         # tags to add
    conflicts: list[str] = field(default_factory=list)    # "author: 'A' in the body, 'B' in the front matter"


def plan(facts: Facts, values: dict, keys: dict[str, str]) -> Plan:
    """Decide, for each fact, whether it is already held, conflicts, fills or adds a key.

    ``values`` are the front-matter values as readers see them; ``keys`` the key written for
    each fact (configured, or the one the note already uses)."""
    out = Plan()
    lower = {str(k).lower(): k for k in values}
    for fact, value in sorted(facts.values.items(), key=lambda kv: list(FACT_KEYS).index(kv[0])):
        aliases = [keys.get(fact, FACT_KEYS[fact][0])] + [a for a in FACT_KEYS[fact]]
        present = []
        for a in dict.fromkeys(aliases):
            k = lower.get(a.lower())
            if k is not None:
                present.append(k)
        same = [k for k in present if not _empty(values[k]) and _holds(fact, values[k], value)]
        same += [lower[a.lower()] for a in SAME_ONLY_KEYS.get(fact, ())
                 if a.lower() in lower and _holds(fact, values[lower[a.lower()]], value)]
        if same:
            continue
        if fact == "source":
            # only URL-valued keys compete for the source (`source: 微信公众号` names a publisher)
            present = [k for k in present if _empty(values[k]) or
                       (isinstance(values[k], str) and re.match(r"(?:https?:)?//", values[k].strip()))]
        full = [k for k in present if not _empty(values[k])]
        if full:
            k = full[0]
            out.conflicts.append(f"{fact} `{_shown(value)}` in the body, `{k}: {_shown(values[k])}` in the front matter")
            continue
        text = _value_text(value)
        empty = [k for k in present if _empty(values[k])]
        if empty:
            out.fill[str(empty[0])] = text
            continue
        key = keys.get(fact, FACT_KEYS[fact][0])
        if key.lower() in lower:
            # the chosen key holds something else (`source: 微信公众号`): the next free name
            key = next((a for a in FACT_KEYS[fact] if a.lower() not in lower), None)
            if key is None:
                out.conflicts.append(f"{fact} `{_shown(value)}`: every key for it holds something else")
                continue
        out.add[key] = text
    if facts.tags:
        held = values.get(keys.get("tags", "tags"))
        have = {norm(str(t)).lstrip("#") for t in (held if isinstance(held, list) else [held] if held else [])}
        out.tags = [t for t in facts.tags if norm(t) not in have]
    return out


def _shown(value) -> str:
    if isinstance(value, Date):
        return value.iso()
    if isinstance(value, _dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list):
        return ", ".join(str(v).strip() for v in value)
    return str(value).strip()


def _value_text(value) -> str:
    if isinstance(value, Date):
        return value.iso()  # an ISO date or timestamp: a plain YAML date readers parse
    return scalar_text(str(value))


# --- writing ----------------------------------------------------------------------------

class CannotWrite(Exception):
    """The front matter cannot take these facts without rewriting what is there."""


def front_matter_edits(doc, p: Plan, tags_key: str = "tags") -> list[Edit]:
    """Lossless edits that write plan ``p`` into ``doc``'s front matter (creating one when the
    note has none).  Raises :class:`CannotWrite` when that needs more than insertions."""
    fm = doc.front_matter
    nl = doc.newline
    if fm is None:
        lines = [f"{k}: {v}" for k, v in p.add.items()]
        if p.tags:
            lines.append(f"{tags_key}:")
            lines += [f"  - {scalar_text(t)}" for t in p.tags]
        if not lines:
            return []
        return [Edit.insert(0, "---" + nl + nl.join(lines) + nl + "---" + nl)]
    if not fm.closed or fm.error is not None or fm.kind == "json":
        raise CannotWrite("the front matter cannot be edited")
    if fm.kind == "toml":
        return _toml_edits(doc, fm, p, tags_key)
    if fm.node is None and fm.content.strip():
        raise CannotWrite("the front matter cannot be located")
    edits: list[Edit] = []
    for key, text in p.fill.items():
        entry = fm.get(key)
        if entry is None or not entry.is_scalar or entry.style not in (None, "'", '"'):
            raise CannotWrite(f"`{key}` cannot be filled in place")
        edits.append(_fill(doc, entry, text))
    append = [f"{k}: {v}" for k, v in p.add.items()]
    if p.tags:
        entry = fm.get(tags_key)
        if entry is None:
            append.append(f"{tags_key}:")
            append += [f"  - {scalar_text(t)}" for t in p.tags]
        else:
            edits.append(_yaml_tags_edit(doc, fm, entry, p.tags))
    if append:
        end = fm.content_span.end
        content = fm.content
        if content and not content.endswith(("\n", "\r")):
            edits.append(Edit.insert(end, nl + nl.join(append)))
        else:
            edits.append(Edit.insert(end, nl.join(append) + nl))
    edits.sort(key=lambda e: e.span.start)
    return edits


def _fill(doc, entry, value_text: str) -> Edit:
    """Write ``value_text`` as the value of an empty entry, keeping a comment after it."""
    if len(entry.value_span) and doc.text[entry.value_span.start:entry.value_span.end].strip():
        return Edit(entry.value_span, value_text)  # '' or "" or null or ~
    colon = doc.text.index(":", entry.key_span.end)
    return Edit.insert(colon + 1, " " + value_text)


def _quoted_like(sample_style, tag: str) -> str:
    if sample_style == '"':
        return json.dumps(tag, ensure_ascii=False)
    if sample_style == "'" and "'" not in tag:
        return f"'{tag}'"
    return scalar_text(tag)


def _yaml_tags_edit(doc, fm, entry, tags: list[str]) -> Edit:
    node = entry.value_node
    kind = type(node).__name__
    text = doc.text
    base = fm.content_span.start
    if kind == "ScalarNode":
        if _empty(fm.values.get(entry.key)) and entry.style in (None, "'", '"'):
            return _fill(doc, entry, "[" + ", ".join(scalar_text(t) for t in tags) + "]")
        raise CannotWrite(f"`{entry.key}` is a single value, not a list")
    if kind != "SequenceNode":
        raise CannotWrite(f"`{entry.key}` is not a list")
    items = node.value
    style = items[-1].style if items and type(items[-1]).__name__ == "ScalarNode" else None
    if node.flow_style:
        close = base + node.end_mark.index - 1  # the `]`
        if text[close] != "]":
            raise CannotWrite(f"`{entry.key}` flow list not located")
        joined = ", ".join(_quoted_like(style, t) for t in tags)
        return Edit.insert(close, (", " if items else "") + joined)
    if not items:
        raise CannotWrite(f"`{entry.key}` is an empty block list")
    last = items[-1]
    if type(last).__name__ != "ScalarNode":
        raise CannotWrite(f"`{entry.key}` holds more than plain values")
    lines = doc.lines
    first_item = base + items[0].start_mark.index
    line0 = lines.line_of(first_item)
    prefix = text[lines.line_start(line0):first_item]  # "  - "
    if not re.fullmatch(r"[ \t]*-[ \t]+", prefix):
        raise CannotWrite(f"`{entry.key}` items are not one per line")
    end_line = lines.line_of(base + last.end_mark.index - 1 if last.end_mark.index > last.start_mark.index
                             else base + last.start_mark.index)
    at = lines.line_end(end_line)  # after the last item's newline
    nl = doc.newline
    new = "".join(f"{prefix}{_quoted_like(style, t)}{nl}" for t in tags)
    if text[lines.line_start(end_line):at].endswith(("\n", "\r")):
        return Edit.insert(at, new)
    return Edit.insert(at, nl + new[:-len(nl)])


def _toml_edits(doc, fm, p: Plan, tags_key: str) -> list[Edit]:
    nl = doc.newline
    edits: list[Edit] = []
    if p.fill:
        raise CannotWrite("empty TOML keys are not filled")
    lines = [f"{k} = {_toml_value(v)}" for k, v in p.add.items()]
    if p.tags:
        m = re.search(rf"(?m)^{re.escape(tags_key)}[ \t]*=[ \t]*\[(?P<items>[^\]\n]*)\][ \t]*(?:#.*)?$", fm.content)
        if m is None:
            if tags_key in fm.values:
                raise CannotWrite(f"TOML `{tags_key}` is not a one-line array")
            lines.append(f"{tags_key} = [" + ", ".join(json.dumps(t, ensure_ascii=False) for t in p.tags) + "]")
        else:
            close = fm.content_span.start + m.end("items")
            joined = ", ".join(json.dumps(t, ensure_ascii=False) for t in p.tags)
            edits.append(Edit.insert(close, (", " if m.group("items").strip() else "") + joined))
    if lines:
        end = fm.content_span.end
        content = fm.content
        if content and not content.endswith(("\n", "\r")):
            edits.append(Edit.insert(end, nl + nl.join(lines)))
        else:
            edits.append(Edit.insert(end, nl.join(lines) + nl))
    edits.sort(key=lambda e: e.span.start)
    return edits


def _toml_value(yaml_text: str) -> str:
    """A TOML value for what :func:`plan` wrote as YAML: dates stay bare, strings quoted."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?)?", yaml_text):
        return yaml_text
    if yaml_text.startswith('"'):
        return yaml_text  # a JSON string is a TOML basic string
    return json.dumps(yaml_text, ensure_ascii=False)
