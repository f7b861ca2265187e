"""Shared knowledge about what clippers write: value normalisation and label tables.

Used by the duplicated-metadata (DM) rules to decide whether a body line repeats a
front-matter field, and whether a heading repeats the title.
"""

from __future__ import annotations

import datetime as _dt
import html
import re
import unicodedata

# Front-matter keys that hold the article's source URL, in order of preference.
SOURCE_URL_KEYS = ("url", "source", "original_url", "source_url", "link", "canonical", "canonical_url",
                   "origin", "omnivore_url_original", "href")

# Body labels (lower-cased, without trailing colon) -> the front-matter keys they repeat.
LABELS: dict[str, tuple[str, ...]] = {
    "author": ("author", "authors", "by"),
    "authors": ("author", "authors"),
    "by": ("author", "authors"),
    "作者": ("author", "authors"),
    "title": ("title",),
    "full title": ("title",),
    "标题": ("title",),
    "site": ("site", "site_name", "source", "publisher"),
    "site name": ("site", "site_name", "source", "publisher"),
    "source": ("source", "url", "site", "site_name", "original_url"),
    "来源": ("source", "url", "site", "site_name", "original_url", "publisher"),
    "url": SOURCE_URL_KEYS,
    "link": SOURCE_URL_KEYS,
    "链接": SOURCE_URL_KEYS,
    "原文链接": SOURCE_URL_KEYS,
    "原文地址": SOURCE_URL_KEYS,
    "original": SOURCE_URL_KEYS,
    "original url": SOURCE_URL_KEYS,
    "date": ("date", "date_published", "published", "created"),
    "published": ("date_published", "published", "date", "pubdate"),
    "date published": ("date_published", "published", "date", "pubdate"),
    "publish date": ("date_published", "published", "date"),
    "发布时间": ("date_published", "published", "date", "pubdate"),
    "发布日期": ("date_published", "published", "date", "pubdate"),
    "发表时间": ("date_published", "published", "date"),
    "saved": ("date_saved", "created", "saved"),
    "date saved": ("date_saved", "created", "saved"),
    "抓取日期": ("date_saved", "created", "date", "captured"),
    "抓取时间": ("date_saved", "created", "date", "captured"),
    "保存时间": ("date_saved", "created"),
    "created": ("created", "date_saved"),
    "tags": ("tags",),
    "标签": ("tags",),
    "category": ("category", "categories"),
    "description": ("description", "summary", "excerpt"),
    "summary": ("summary", "description"),
}

_SUFFIX_SEPARATORS = re.compile(r"\s+(?:\||-|–|—|·|_|::)\s+")
_WS = re.compile(r"\s+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)")
_WIKILINK = re.compile(r"^\[\[([^\]|]+)(?:\|([^\]]+))?\]\]$")
_MDLINK = re.compile(r"^\[([^\]]*)\]\(<?([^)>\s]+)>?(?:\s+\"[^\"]*\")?\)$")


def norm(text: str) -> str:
    """Compare-ready text: NFKC, entities decoded, emphasis removed, whitespace collapsed, casefolded."""
    text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = _EMPHASIS.sub("", text)
    return _WS.sub(" ", text).strip().casefold()


def norm_url(url: str) -> str:
    u = html.unescape(url.strip()).strip("<>")
    u = re.sub(r"^https?://(www\.)?", "", u, flags=re.I)
    return u.rstrip("/").casefold()


def value_forms(value) -> set[str]:
    """Normalised spellings a front-matter value may take in the body."""
    out: set[str] = set()
    if value is None or isinstance(value, bool):
        return out
    if isinstance(value, (list, tuple)):
        for v in value:
            out |= value_forms(v)
        if all(isinstance(v, str) for v in value) and value:
            out.add(norm(", ".join(value)))
            out.add(norm(" ".join(f"#{v}" for v in value)))
        return out
    if isinstance(value, _dt.datetime):
        out.add(norm(value.isoformat(sep=" ")))
        out.add(norm(value.strftime("%Y-%m-%d %H:%M:%S")))
        out.add(norm(value.strftime("%Y-%m-%d %H:%M")))
        return out
    if isinstance(value, _dt.date):
        out.add(norm(value.isoformat()))
        return out
    s = str(value).strip()
    if not s:
        return out
    out.add(norm(s))
    if re.match(r"^(https?:)?//", s):
        out.add(norm_url(s))
    return out


def body_value_forms(raw: str) -> set[str]:
    """Normalised spellings of a value written in the body (links and wikilinks unwrapped)."""
    raw = raw.strip()
    out = {norm(raw)}
    m = _WIKILINK.match(raw)
    if m:
        out.add(norm(m.group(1)))
        if m.group(2):
            out.add(norm(m.group(2)))
    m = _MDLINK.match(raw)
    if m:
        out.add(norm(m.group(1)))
        out.add(norm_url(m.group(2)))
    if re.match(r"^(https?:)?//", raw) or raw.startswith("<http"):
        out.add(norm_url(raw))
    return out


def title_forms(title: str) -> set[str]:
    """The title with and without a trailing site-name suffix (`X | Site`, `X - Site`)."""
    forms = {norm(title)}
    seps = list(_SUFFIX_SEPARATORS.finditer(title.strip()))
    if seps:
        forms.add(norm(title.strip()[:seps[-1].start()]))
    forms.discard("")
    return forms


def same_title(title: str, heading: str) -> bool:
    """Does ``heading`` repeat ``title`` (ignoring whitespace, emphasis, entities, a site suffix)?"""
    h = norm(heading)
    t = norm(title)
    if not h or not t:
        return False
    return h == t or h in title_forms(title) or t in title_forms(heading)


# Placeholders a clipper writes when the page had no address of its own: Omnivore's
# newsletter `https://omnivore.app/no_url?q=<id>`, a local preview server, about:blank.
_PLACEHOLDER_URL = re.compile(
    r"(?:https?://(?:www\.)?omnivore\.app/no_url\b"
    r"|https?://(?:[^/?#@\s]*@)?(?:localhost|[\w.-]+\.localhost|127(?:\.\d{1,3}){3}|0\.0\.0\.0|\[::1?\])(?::\d+)?(?:[/?#]|$)"
    r"|about:)", re.I)


def is_placeholder_url(url: str) -> bool:
    """A clipper's stand-in for a page without an address of its own, not an article's URL."""
    return _PLACEHOLDER_URL.match(url.strip()) is not None
