"""Recognise image-proxy URLs and decode them back to the images they wrap.

Read-it-later services, feed readers and CDNs rewrite image URLs so that the image is served
through their proxy: ``https://proxy-prod.omnivore-image-cache.app/0x0,s<signature>/<original>``,
``https://i0.wp.com/<host>/<path>?ssl=1``, ``https://camo.githubusercontent.com/<hmac>/<hex>``…
When the service dies, every proxied image in a saved note breaks.  This module knows the
shapes of those URLs and undoes them, layer by layer (proxies nest: Omnivore → Substack → S3).

It is a library of pure functions with no dependency on the lint engine:

``unwrap(url)``
    Decode every proxy layer of one URL and return an :class:`Unwrapped` result (the original
    URL, the chain of layers, whether a dead service or an opaque layer was involved, whether
    the target is a junk placeholder).
``looks_proxied(text)``
    A very cheap test of a whole document: ``False`` means no URL in it can match any scheme.
``load_schemes(path=None, extra=None)``
    The scheme table, loaded once from ``rules/data/image_proxies.yaml`` and validated (the
    built-in table's patterns are compiled on first use; the test suite validates them all).

The scheme table
================

The table is data: ``rules/data/image_proxies.yaml`` (``tidymark/rules/data/`` once installed)
holds ``version: 1`` and a list ``schemes`` of rows such as::

    - id: omnivore                    # unique: lower case letters, digits, "_" and "-"
      name: Omnivore image proxy      # used in messages
      status: dead                    # dead | live | unknown | opaque
      hosts: [proxy-prod.omnivore-image-cache.app]   # exact hosts; "*.example.com" = sub-domains
      markers: []                     # URL substrings, for schemes that live on any host
      pattern: '^https?://proxy-prod\\.omnivore-image-cache\\.app/\\d+x\\d+,s[\\w-]{43}/(?P<rest>.+)$'
      decode: verbatim                # a key of DECODERS; left out for opaque rows
      params: {}                      # decoder parameters (see below)
      note: free text                 # optional
      examples:                       # optional here, required for the built-in table by its tests
        - url: https://proxy-prod.omnivore-image-cache.app/0x0,s…/https://example.com/a.png
          original: https://example.com/a.png        # null for opaque rows

``status`` says what a rule should do: *dead* services (Omnivore, Pocket) serve nothing any
more, so rewriting to the original is always an improvement; *live* proxies still work and
unwrapping them is a normalisation; *unknown* covers self-hosted and free services whose
state cannot be known; *opaque* rows recognise re-hosted copies and token URLs that cannot be
decoded (reported, never rewritten).

``hosts`` and ``markers`` only pre-select rows cheaply (a row needs at least one of them): a
row is tried when the URL's host is listed in ``hosts`` or one of its ``markers`` occurs in
the URL.  ``pattern`` then decides; it is matched from the start of the URL (``re.match``).
Rows are tried in table order and the first one whose pattern matches *and* whose decoder
yields a valid URL wins, so specific rows go before generic ones.

Decoders
--------

Each decoder reads named groups of the pattern and returns the wrapped URL:

============  ==========================================  ===============================
name          returns                                     groups / params
============  ==========================================  ===============================
verbatim      the group ``rest`` as it is                 ``rest``
query_param   a query parameter of the URL (form-decoded) params ``param`` (required)
hex           ``rest`` decoded from hexadecimal           ``rest``
base64url     ``rest`` decoded from base64 (URL or        ``rest``; params ``join_segments``
              standard alphabet, padding optional)        (drop "/" between pieces first)
photon        ``http(s)://<rest>`` with WordPress Photon  ``rest``, ``query``;
              resizing parameters removed                 params ``drop`` (parameter names)
amp           ``https://<rest>`` if group ``secure``      ``secure``, ``rest``
              matched, else ``http://<rest>``
discord       ``<scheme>://<rest>`` plus the decoded      ``scheme``, ``rest``, ``query``
              ``%3F…`` query segment
template      ``params.template`` filled with groups,     params ``template`` (required)
              e.g. ``https://miro.medium.com/v2/{id}``
============  ==========================================  ===============================

Every row may also set ``base: origin`` (resolve a site-relative result against the proxy
URL's origin, as Next.js and Cloudflare do) and ``default_scheme: http|https`` (prefix a
result that has no scheme; ``ssl:<host>/…`` then means https, as on wsrv.nl).

Whatever a decoder returns is then normalised the same way for every row:

1. percent-decoded when, and only when, it starts with ``http%3A``, ``https%3A`` or
   ``data%3A`` (any case), repeatedly for double encoding; a URL that is merely *inside*
   the result is left alone for the next layer;
2. made absolute (protocol-relative ``//host`` takes the proxy URL's scheme, then ``base``
   and ``default_scheme`` apply);
3. spaces become ``%20``;
4. checked: it must be an absolute ``http(s)://`` URL with a plausible host, or a
   ``data:`` URL.  If not, the row is treated as not matching.

Adding a scheme
===============

Adding a scheme is adding a row: give it an ``id``, ``name``, ``status``, ``hosts`` or
``markers``, a ``pattern`` with the groups its decoder needs, and an example.  Users can add
rows without editing the table: ``load_schemes(extra=[{...}, ...])`` takes rows of the same
shape (from configuration).  An extra row whose ``id`` equals a built-in one replaces it in
place; new rows are tried before the built-in ones.  Every row is validated when loaded: an
unknown key, a missing field, a bad regular expression, an unknown decoder or parameter is a
``ValueError`` that names the row and the field.

Patterns must stay fast on hostile input (a lint run decodes every image URL of thousands of
files): keep repetitions bounded or separated by a delimiter they cannot contain, as the
built-in rows do, so that a megabyte-long URL is still matched in linear time.
"""

from __future__ import annotations

import base64
import binascii
import html
import importlib.util
import re
import string
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import unquote, unquote_plus, urljoin

__all__ = [
    "DECODERS",
    "STATUSES",
    "Decoder",
    "Example",
    "Scheme",
    "SchemeTable",
    "Step",
    "Unwrapped",
    "default_table_path",
    "load_schemes",
    "looks_proxied",
    "misresolved_path",
    "parse_table",
    "rebase",
    "prefilter_needles",
    "unwrap",
]

#: The values of a row's ``status``.
STATUSES = ("dead", "live", "unknown", "opaque")

TABLE_FILE = "image_proxies.yaml"

# ---------------------------------------------------------------------------------------
# URL helpers
# ---------------------------------------------------------------------------------------

# The host part of an absolute URL (userinfo and port are removed by _host_of).
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}://([^/?#]*)")
_ORIGIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}://[^/?#]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HAS_SCHEME = re.compile(r"(?:https?|data):", re.IGNORECASE)
# An embedded URL that is itself percent-encoded, possibly more than once ("%253A").
_ENCODED_URL = re.compile(r"(?:https?|data)%(?:25)*3a", re.IGNORECASE)
_MAX_PERCENT_ROUNDS = 8

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_VALID_URL = re.compile(
    r"https?://"
    r"(?:[^\s/?#@\[\]]{1,256}@)?"                                   # userinfo
    rf"(?:\[[0-9A-Fa-f:.]{{2,45}}\]|{_LABEL}(?:\.{_LABEL}){{1,126}}\.?)"  # host: IPv6 or dotted
    r"(?::\d{1,5})?"                                                # port
    r"(?:[/?#][^\x00-\x20\x7f]*)?\Z",                               # path, query, fragment
    re.IGNORECASE,
)
_VALID_DATA = re.compile(r"data:[^,\x00-\x1f\x7f]{0,256},[^\x00-\x1f\x7f]*\Z", re.IGNORECASE)


# A ``;``-terminated character reference.  html.unescape alone would also decode legacy
# entities without ";" and so corrupt queries such as "?a=1&copy=2" into "?a=1©=2".
_CHAR_REF = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def _unescape(text: str) -> str:
    """Undo HTML escaping (``https:&#x2F;&#x2F;…``), touching only complete references."""
    if "&" not in text:
        return text
    return _CHAR_REF.sub(lambda m: html.unescape(m.group(0)), text)


def _host_of(url: str) -> str:
    """The lower-cased host of an absolute URL, or "" when there is none."""
    m = _AUTHORITY.match(url)
    if m is None:
        return ""
    host = m.group(1)
    if "@" in host:
        host = host.rpartition("@")[2]
    if host.startswith("["):
        return host.partition("]")[0].lower() + "]"
    if ":" in host:
        host = host.partition(":")[0]
    return host.lower()


def _origin_of(url: str) -> str | None:
    m = _ORIGIN.match(url)
    return m.group(0) if m else None


def _is_valid_target(url: str) -> bool:
    """An absolute http(s) URL with a plausible host, or a data: URL."""
    if url[:5].lower() == "data:":
        return _VALID_DATA.match(url) is not None
    return _VALID_URL.match(url) is not None


# A t.co short link: one path segment of letters and digits.
_TCO_SHORT = re.compile(r"https?://t\.co/[A-Za-z0-9]{1,32}/?(?:[?#].*)?\Z", re.IGNORECASE)
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}://[^/?#]*(/[^?#]*(?:\?[^#]*)?)")


def _is_placeholder(url: str) -> bool:
    """Junk that proxies wrap: lazy-load ``data:`` images and ``t.co`` short links."""
    return url[:5].lower() == "data:" or (_host_of(url) == "t.co" and misresolved_path(url) is None)


def misresolved_path(url: str) -> str | None:
    """The site path of an image that a clipper resolved against ``t.co`` instead of the
    article's site (``https://t.co/images/x.png`` → ``/images/x.png``); None for anything
    else, a t.co short link (``https://t.co/Ab12Cd34Ef``) included."""
    if _host_of(url) != "t.co" or _TCO_SHORT.match(url):
        return None
    m = _PATH.match(url)
    if m is None or len(m.group(1)) < 2:
        return None
    return m.group(1)


def rebase(path: str, source_url: str) -> str | None:
    """``path`` (from :func:`misresolved_path`) on the origin of ``source_url``, or None
    when the source is not an absolute http(s) URL."""
    origin = _origin_of(source_url.strip())
    if origin is None or not origin.lower().startswith(("http://", "https://")):
        return None
    out = origin + path
    return out if _is_valid_target(out) else None


def _percent_decode_embedded(value: str) -> str:
    rounds = 0
    while rounds < _MAX_PERCENT_ROUNDS and _ENCODED_URL.match(value):
        value = unquote(value)
        rounds += 1
    return value


def _query_value(url: str, name: str) -> str | None:
    """The first value of query parameter ``name`` (form-decoded: "+" is a space)."""
    query = url.partition("?")[2].partition("#")[0]
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if unquote_plus(key) == name:
            return unquote_plus(value)
    return None


def _finish(value: str | None, url: str, params: Mapping[str, Any]) -> str | None:
    """Normalise a decoder's result (see the module docstring) or return None if invalid."""
    if not value:
        return None
    value = _percent_decode_embedded(value.strip())
    if value.startswith("//"):
        value = url.partition(":")[0] + ":" + value
    elif not _HAS_SCHEME.match(value):
        default_scheme = params.get("default_scheme")
        if params.get("base") == "origin":
            origin = _origin_of(url)
            if origin is None:
                return None
            value = urljoin(origin + "/", value)
        elif default_scheme:
            if value[:4].lower() == "ssl:":
                value = "https://" + value[4:].lstrip("/")
            else:
                value = f"{default_scheme}://{value.lstrip('/')}"
    value = value.replace(" ", "%20")
    return value if _is_valid_target(value) else None


# ---------------------------------------------------------------------------------------
# Decoders
# ---------------------------------------------------------------------------------------

DecoderFunc = Callable[["re.Match[str]", str, Mapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class Decoder:
    """A named decoding step: ``decoder(match, url, params) -> wrapped URL or None``.

    ``groups`` are the named groups a row's pattern must define; ``params`` maps each
    decoder-specific parameter to its type, ``required`` lists the mandatory ones.
    """

    func: DecoderFunc
    groups: frozenset[str] = frozenset()
    params: Mapping[str, type] = field(default_factory=dict)
    required: frozenset[str] = frozenset()

    def __call__(self, match: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
        return self.func(match, url, params)


def _decode_verbatim(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    return m.group("rest")


def _decode_query_param(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    return _query_value(url, params["param"])


def _decode_hex(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    try:
        return bytes.fromhex(m.group("rest")).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def _decode_base64url(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    data = m.group("rest")
    if params.get("join_segments"):
        data = data.replace("/", "")
    data = data.rstrip("=").replace("-", "+").replace("_", "/")
    data += "=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


# Photon (Jetpack Image CDN) arguments that only resize or re-encode the image.
PHOTON_DROP = ("w", "h", "resize", "fit", "quality", "strip", "zoom", "ssl")


def _decode_photon(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    drop = set(params.get("drop", PHOTON_DROP))
    secure = False
    kept = []
    for pair in (m.group("query") or "").split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = unquote_plus(key)
        if key == "ssl":
            secure = unquote_plus(value) == "1"
        if key not in drop:
            kept.append(pair)
    target = ("https://" if secure else "http://") + m.group("rest")
    return target + ("?" + "&".join(kept) if kept else "")


def _decode_amp(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    return ("https://" if m.group("secure") else "http://") + m.group("rest")


def _decode_discord(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    query = m.group("query")
    return f"{m.group('scheme')}://{m.group('rest')}" + (unquote(query) if query else "")


def _decode_template(m: re.Match[str], url: str, params: Mapping[str, Any]) -> str | None:
    groups = {name: value or "" for name, value in m.groupdict().items()}
    return params["template"].format_map(groups)


#: Decoders by the name used in a row's ``decode`` field.
DECODERS: dict[str, Decoder] = {
    "verbatim": Decoder(_decode_verbatim, groups=frozenset({"rest"})),
    "query_param": Decoder(_decode_query_param, params=MappingProxyType({"param": str}),
                           required=frozenset({"param"})),
    "hex": Decoder(_decode_hex, groups=frozenset({"rest"})),
    "base64url": Decoder(_decode_base64url, groups=frozenset({"rest"}),
                         params=MappingProxyType({"join_segments": bool})),
    "photon": Decoder(_decode_photon, groups=frozenset({"rest", "query"}),
                      params=MappingProxyType({"drop": list})),
    "amp": Decoder(_decode_amp, groups=frozenset({"secure", "rest"})),
    "discord": Decoder(_decode_discord, groups=frozenset({"scheme", "rest", "query"})),
    "template": Decoder(_decode_template, params=MappingProxyType({"template": str}),
                        required=frozenset({"template"})),
}

# Parameters every row may set, whatever its decoder (applied by _finish).
_COMMON_PARAMS: dict[str, tuple[str, ...]] = {
    "base": ("origin",),
    "default_scheme": ("http", "https"),
}

# ---------------------------------------------------------------------------------------
# Schemes
# ---------------------------------------------------------------------------------------


class _NoMatch:
    """Sentinel: the row does not apply to the URL."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_MATCH"


_NO_MATCH = _NoMatch()


@dataclass(frozen=True)
class Example:
    """A test row of a scheme: ``url`` decodes (one layer) to ``original``."""

    url: str
    original: str | None


@dataclass(frozen=True, eq=False)
class Scheme:
    """One validated row of the scheme table."""

    id: str
    name: str
    status: str
    hosts: tuple[str, ...]
    markers: tuple[str, ...]
    source: str             # the regular expression of ``pattern``
    decode: str | None
    params: Mapping[str, Any]
    examples: tuple[Example, ...]
    note: str = ""

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The row's compiled expression (the built-in table's rows compile on first use)."""
        return re.compile(self.source)

    @property
    def opaque(self) -> bool:
        return self.status == "opaque"

    @property
    def dead(self) -> bool:
        return self.status == "dead"

    def _apply(self, url: str) -> str | None | _NoMatch:
        """Decode one layer: the wrapped URL, None for an opaque match, or _NO_MATCH."""
        m = self.pattern.match(url)
        if m is None:
            return _NO_MATCH
        if self.decode is None:
            return None
        out = _finish(DECODERS[self.decode](m, url, self.params), url, self.params)
        return _NO_MATCH if out is None else out

    def matches(self, url: str) -> bool:
        """Whether this row applies to ``url`` (an unescaped URL, one layer only)."""
        return self._apply(url) is not _NO_MATCH

    def decode_url(self, url: str) -> str | None:
        """The URL this row's layer wraps, or None (no match, or an opaque row)."""
        out = self._apply(url)
        return out if isinstance(out, str) else None


class SchemeTable(tuple):
    """An ordered tuple of :class:`Scheme` with a prebuilt host/marker index."""

    def __new__(cls, schemes: Iterable[Scheme] = ()) -> "SchemeTable":
        self = super().__new__(cls, schemes)
        seen: set[str] = set()
        for scheme in self:
            if not isinstance(scheme, Scheme):
                raise TypeError(f"expected Scheme, got {type(scheme).__name__}")
            if scheme.id in seen:
                raise ValueError(f"image proxy scheme {scheme.id!r}: field 'id': duplicate id")
            seen.add(scheme.id)
        self._build_index()
        return self

    def _build_index(self) -> None:
        exact: dict[str, list[int]] = {}
        suffixes: dict[str, list[int]] = {}
        markers: dict[str, list[int]] = {}
        for i, scheme in enumerate(self):
            for host in scheme.hosts:
                if host.startswith("*."):
                    suffixes.setdefault(host[1:], []).append(i)
                else:
                    exact.setdefault(host, []).append(i)
            for marker in scheme.markers:
                markers.setdefault(marker, []).append(i)
        self._exact = {h: tuple(ix) for h, ix in exact.items()}
        self._suffix_items = tuple((s, tuple(ix)) for s, ix in suffixes.items())
        self._suffixes = tuple(suffixes)
        self._marker_items = tuple((m, tuple(ix)) for m, ix in markers.items())
        # One search rejects most URLs; the markers are then checked one by one.
        self._marker_re = (re.compile("|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True)))
                           if markers else None)
        needles = set(self._exact) | set(self._suffixes)
        for marker in markers:
            needles.update(_escaped_variants(marker.lower()))
        # A needle that contains another needle adds nothing to a substring test.
        ordered = sorted(needles, key=len)
        self._needles = tuple(n for i, n in enumerate(ordered) if not any(m in n for m in ordered[:i]))
        # Needles grouped under a substring they share ("&" for the escaped forms, the last
        # two labels of a host name): a note without the key skips the whole group.
        groups: dict[str, list[str]] = {}
        for n in self._needles:
            groups.setdefault(_needle_key(n), []).append(n)
        self._needle_groups = tuple((k, tuple(ns)) for k, ns in groups.items())

    def by_id(self, scheme_id: str) -> Scheme:
        for scheme in self:
            if scheme.id == scheme_id:
                return scheme
        raise KeyError(scheme_id)

    def candidates(self, url: str) -> tuple[Scheme, ...]:
        """The rows worth trying on ``url``, in table order (a cheap pre-selection)."""
        host = _host_of(url)
        hits: tuple[int, ...] = self._exact.get(host, ()) if host else ()
        if host and self._suffixes and host.endswith(self._suffixes):
            hits += tuple(i for suffix, ix in self._suffix_items if host.endswith(suffix) for i in ix)
        if self._marker_re is not None and self._marker_re.search(url):
            hits += tuple(i for marker, ix in self._marker_items if marker in url for i in ix)
        if not hits:
            return ()
        return tuple(self[i] for i in sorted(set(hits)))

    def first_match(self, url: str) -> tuple[Scheme, str | None] | None:
        """The first row that applies to ``url`` and its result (None when opaque).

        A URL on the host of a dead service that no row of it decodes (an unexpected
        signature or path) still belongs to that service: it is an opaque layer of the
        first dead row listing the host, since a dead host serves nothing."""
        candidates = self.candidates(url)
        for scheme in candidates:
            out = scheme._apply(url)
            if out is not _NO_MATCH:
                return scheme, out  # type: ignore[return-value]
        if candidates:
            host = _host_of(url)
            for scheme in candidates:
                if scheme.dead and any(h == host or (h.startswith("*.") and host.endswith(h[1:]))
                                       for h in scheme.hosts):
                    return scheme, None
        return None

    @property
    def needles(self) -> tuple[str, ...]:
        return self._needles

    @property
    def needle_groups(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The needles as (key, needles holding the key) pairs."""
        return self._needle_groups


def _needle_key(needle: str) -> str:
    """A substring of ``needle`` that several needles share."""
    if "&" in needle:
        return "&"
    if "/" in needle or needle.strip(".").count(".") < 2:
        return needle
    return ".".join(needle.strip(".").split(".")[-2:])


def _escaped_variants(marker: str) -> set[str]:
    """``marker`` as it can appear in an HTML-entity-escaped document (lower case)."""
    variants = {marker}
    for slash in ("&#x2f;", "&#47;", "&sol;"):
        variants.add(marker.replace("/", slash))
    mustache = marker.replace("&", "&amp;").replace("/", "&#x2f;").replace("=", "&#x3d;")
    variants.add(mustache)
    return variants


# ---------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------

_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
_HOST_RE = re.compile(r"(?:\*\.)?[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\Z")
_ROW_KEYS = {"id", "name", "status", "hosts", "markers", "pattern", "decode", "params",
             "examples", "note"}
_REQUIRED_KEYS = ("id", "name", "status", "pattern")
_TOP_KEYS = {"version", "schemes"}


def _fail(where: str, key: str, problem: str) -> ValueError:
    return ValueError(f"image proxy scheme {where}: field {key!r}: {problem}")


def _str_list(row: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _fail(where, key, f"must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _parse_scheme(row: Any, position: str, compiled: bool = True) -> Scheme:
    """Validate one table row (a mapping) and build its :class:`Scheme`.

    ``compiled=False`` (the built-in table, whose rows the test suite validates whole) leaves
    the pattern to be compiled on first use, and with it the checks that need it (named
    groups of the decoder and template): a one-file run compiles only the rows it tries.
    """
    if not isinstance(row, Mapping):
        raise ValueError(f"image proxy scheme {position}: a row must be a mapping, got {row!r}")
    raw_id = row.get("id")
    where = repr(raw_id) if isinstance(raw_id, str) and raw_id else position
    unknown = sorted(set(row) - _ROW_KEYS, key=str)
    if unknown:
        raise _fail(where, str(unknown[0]), f"unknown key (allowed: {', '.join(sorted(_ROW_KEYS))})")
    for key in _REQUIRED_KEYS:
        if key not in row or row[key] in (None, ""):
            raise _fail(where, key, "missing")
    if not isinstance(raw_id, str) or not _ID_RE.match(raw_id):
        raise _fail(where, "id", "must be lower case letters, digits, '_' or '-'")
    name = row["name"]
    if not isinstance(name, str):
        raise _fail(where, "name", "must be a string")
    note = row.get("note") or ""
    if not isinstance(note, str):
        raise _fail(where, "note", "must be a string")
    status = row["status"]
    if status not in STATUSES:
        raise _fail(where, "status", f"must be one of {', '.join(STATUSES)}, got {status!r}")

    hosts = tuple(h.lower() for h in _str_list(row, "hosts", where))
    for host in hosts:
        if not _HOST_RE.match(host):
            raise _fail(where, "hosts", f"{host!r} is not a host name (or *.domain)")
    markers = _str_list(row, "markers", where)
    for marker in markers:
        if any(ch.isspace() for ch in marker):
            raise _fail(where, "markers", f"{marker!r} contains white space")
    if not hosts and not markers:
        raise _fail(where, "hosts", "a row needs hosts or markers (or both)")

    if not isinstance(row["pattern"], str):
        raise _fail(where, "pattern", "must be a string")
    pattern = None
    if compiled:
        try:
            pattern = re.compile(row["pattern"])
        except re.error as exc:
            raise _fail(where, "pattern", f"bad regular expression: {exc}") from None

    decode = row.get("decode")
    raw_params = row.get("params") or {}
    if not isinstance(raw_params, Mapping):
        raise _fail(where, "params", "must be a mapping")
    if status == "opaque":
        if decode is not None:
            raise _fail(where, "decode", "an opaque row cannot be decoded; remove 'decode'")
        if raw_params:
            raise _fail(where, "params", "an opaque row takes no decoder parameters")
        params: dict[str, Any] = {}
    else:
        if decode is None:
            raise _fail(where, "decode", "missing (only opaque rows have no decoder)")
        if decode not in DECODERS:
            raise _fail(where, "decode", f"unknown decoder {decode!r} (known: {', '.join(sorted(DECODERS))})")
        params = _check_params(DECODERS[decode], decode, raw_params, pattern, where)

    examples = _parse_examples(row.get("examples"), status, where)
    scheme = Scheme(id=raw_id, name=name, status=status, hosts=hosts, markers=markers,
                    source=row["pattern"], decode=decode, params=params, examples=examples, note=note)
    if pattern is not None:
        scheme.__dict__["pattern"] = pattern  # (compiled above: the cached property's value)
    return scheme


def _check_params(decoder: Decoder, decode: str, raw: Mapping[str, Any], pattern: re.Pattern[str] | None,
                  where: str) -> dict[str, Any]:
    missing_groups = decoder.groups - set(pattern.groupindex) if pattern is not None else ()
    if missing_groups:
        raise _fail(where, "pattern", f"decoder {decode!r} needs the named group(s) "
                    + ", ".join(sorted(missing_groups)))
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _COMMON_PARAMS:
            if value not in _COMMON_PARAMS[key]:
                raise _fail(where, "params", f"{key} must be one of {', '.join(_COMMON_PARAMS[key])}, got {value!r}")
        elif key in decoder.params:
            kind = decoder.params[key]
            if not isinstance(value, kind) or (kind is list and not all(isinstance(v, str) for v in value)):
                raise _fail(where, "params", f"{key} of decoder {decode!r} has the wrong type: {value!r}")
        else:
            allowed = sorted({*decoder.params, *_COMMON_PARAMS})
            raise _fail(where, "params", f"unknown parameter {key!r} for decoder {decode!r} "
                        f"(allowed: {', '.join(allowed)})")
        params[key] = tuple(value) if isinstance(value, list) else value
    for key in sorted(decoder.required - set(params)):
        raise _fail(where, "params", f"decoder {decode!r} needs parameter {key!r}")
    if decode == "template":
        _check_template(params["template"], pattern, where)
    return params


def _check_template(template: str, pattern: re.Pattern[str] | None, where: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise _fail(where, "params", f"bad template: {exc}") from None
    for name in fields:
        if pattern is not None and name not in pattern.groupindex:
            raise _fail(where, "params", f"template field {{{name}}} is not a named group of the pattern")


def _parse_examples(raw: Any, status: str, where: str) -> tuple[Example, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(where, "examples", "must be a list of {url, original}")
    examples = []
    for n, item in enumerate(raw, 1):
        if not isinstance(item, Mapping) or set(item) != {"url", "original"}:
            raise _fail(where, "examples", f"example {n} must have exactly the keys url and original")
        url, original = item["url"], item["original"]
        if not isinstance(url, str) or not url:
            raise _fail(where, "examples", f"example {n}: url must be a string")
        if status == "opaque":
            if original is not None:
                raise _fail(where, "examples", f"example {n}: original must be null for an opaque row")
        elif not isinstance(original, str) or not original:
            raise _fail(where, "examples", f"example {n}: original must be a URL")
        examples.append(Example(url=url, original=original))
    return tuple(examples)


def parse_table(data: Any, source: str = "table", compiled: bool = True) -> SchemeTable:
    """Validate a loaded table document (``{"version": 1, "schemes": [...]}``); see
    :func:`_parse_scheme` for ``compiled``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{source}: the image proxy table must be a mapping with a 'schemes' list")
    unknown = sorted(set(data) - _TOP_KEYS, key=str)
    if unknown:
        raise ValueError(f"{source}: unknown top-level key {unknown[0]!r}")
    if data.get("version", 1) != 1:
        raise ValueError(f"{source}: unsupported table version {data.get('version')!r}")
    rows = data.get("schemes")
    if not isinstance(rows, list):
        raise ValueError(f"{source}: 'schemes' must be a list")
    return SchemeTable(_parse_scheme(row, f"#{i} in {source}", compiled) for i, row in enumerate(rows, 1))


@lru_cache(maxsize=1)
def default_table_path() -> Path:
    """Where the built-in table lives: ``<tidymark.rules>/data/image_proxies.yaml``."""
    candidates: list[Path] = []
    try:
        # find_spec does not import tidymark.rules (no rule module is loaded by this).
        spec = importlib.util.find_spec("tidymark.rules")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) / "data" / TABLE_FILE for p in spec.submodule_search_locations]
    candidates.append(Path(__file__).resolve().parent.parent / "data" / TABLE_FILE)  # rules/im/ -> rules/data/
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(f"image proxy table {TABLE_FILE} not found (looked in "
                            + ", ".join(str(p) for p in candidates) + ")")


@lru_cache(maxsize=8)
def _load_file(path: str, compiled: bool = True) -> SchemeTable:
    import yaml  # the C loader: this table is read at every start-up

    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return parse_table(data, source=path, compiled=compiled)


def load_schemes(path: str | Path | None = None,
                 extra: Sequence[Mapping[str, Any]] | None = None) -> SchemeTable:
    """The scheme table: the built-in one (or the YAML file at ``path``) plus ``extra`` rows.

    The file is read and validated once and cached.  ``extra`` rows have the same shape as
    the table's rows: one whose ``id`` is already in the table replaces that row in place,
    the others are tried first, in the order given.  Raises ``ValueError`` naming the row
    and field of the first invalid entry.
    """
    table = (_load_file(str(path)) if path is not None
             else _load_file(str(default_table_path()), compiled=False))
    if not extra:
        return table
    if isinstance(extra, (str, bytes, Mapping)) or not isinstance(extra, Sequence):
        raise ValueError("extra image proxy schemes must be a list of rows")
    added = [_parse_scheme(row, f"#{i} in extra") for i, row in enumerate(extra, 1)]
    replacing = {s.id: s for s in added}
    if len(replacing) != len(added):
        ids = [s.id for s in added]
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"image proxy scheme {dup!r}: field 'id': duplicate id in extra rows")
    existing = {s.id for s in table}
    new = [s for s in added if s.id not in existing]
    return SchemeTable([*new, *(replacing.get(s.id, s) for s in table)])


@lru_cache(maxsize=16)
def _table_of(schemes: tuple[Scheme, ...]) -> SchemeTable:
    return SchemeTable(schemes)


@lru_cache(maxsize=1)
def _default_table() -> SchemeTable:
    return load_schemes()


def _as_table(schemes: Iterable[Scheme] | None) -> SchemeTable:
    if schemes is None:
        return _default_table()
    if isinstance(schemes, SchemeTable):
        return schemes
    return _table_of(tuple(schemes))


# ---------------------------------------------------------------------------------------
# Unwrapping
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One decoded proxy layer: ``url_out`` is None for an opaque layer."""

    scheme_id: str
    status: str
    url_in: str
    url_out: str | None


@dataclass(frozen=True, slots=True)
class Unwrapped:
    """The result of :func:`unwrap`.

    ``original``
        The URL after every layer has been removed; the input itself when no scheme
        matched; None when an opaque layer stopped decoding.
    ``chain``
        The layers, outermost first.  ``chain[0].url_in`` is the input exactly as given
        (possibly HTML-escaped), so callers can find it in the text; later ``url_in`` are
        decoded URLs.
    ``dead``
        Some layer belongs to a dead service.
    ``opaque``
        The last layer is a re-hosted copy or token URL that cannot be decoded, or a URL
        on a dead service's host that no row of it decodes.
    ``placeholder``
        A proxy wrapped junk: a ``data:`` lazy-load image or a ``t.co`` short link.  A bare
        ``data:`` URL (no proxy) is an inline image, not a placeholder, and neither is a
        site path resolved against t.co (see :func:`misresolved_path`).
    """

    original: str | None
    chain: tuple[Step, ...]
    dead: bool
    opaque: bool
    placeholder: bool

    @property
    def changed(self) -> bool:
        """At least one layer was removed and an original URL was recovered."""
        return bool(self.chain) and self.original is not None


def unwrap(url: str, schemes: Iterable[Scheme] | None = None, max_depth: int = 10) -> Unwrapped:
    """Remove every proxy layer from ``url`` (at most ``max_depth``).

    The input is HTML-unescaped first (``https:&#x2F;&#x2F;…`` occurs in saved notes); only
    complete ``;``-terminated references are decoded, so ``?a=1&copy=2`` is left alone.
    Text that is not a URL, or contains control characters, is returned unchanged.  Never
    raises on string input and always terminates (a layer that decodes to a URL already
    seen ends the chain).
    """
    table = _as_table(schemes)
    current = _unescape(url).strip()
    hit = table.first_match(current) if max_depth > 0 and not _CONTROL.search(current) else None
    if hit is None:  # the common case: not a proxy URL
        return Unwrapped(url, (), False, False, False)
    chain: list[Step] = []
    seen = {current}
    opaque = False
    while hit is not None:
        scheme, out = hit
        if out is not None and out in seen:
            break
        chain.append(Step(scheme.id, scheme.status, url if not chain else current, out))
        if out is None:
            opaque = True
            break
        seen.add(out)
        current = out
        if len(chain) >= max_depth:
            break
        hit = table.first_match(current)
    if not chain:
        return Unwrapped(url, (), False, False, False)
    original = None if opaque else current
    return Unwrapped(
        original=original,
        chain=tuple(chain),
        dead=any(step.status == "dead" for step in chain),
        opaque=opaque,
        placeholder=original is not None and _is_placeholder(original),
    )


def prefilter_needles(schemes: Iterable[Scheme] | None = None) -> tuple[str, ...]:
    """Lower-case substrings of which every proxied URL contains at least one.

    They cover the HTML-escaped forms too (``&#x2F;`` for "/").  A document that contains
    none of them (compared case-insensitively) has no URL that :func:`unwrap` would change.
    """
    return _as_table(schemes).needles


def looks_proxied(text: str, schemes: Iterable[Scheme] | None = None) -> bool:
    """Cheap test of a whole document: False means no URL in it matches any scheme."""
    low = text.lower()
    return any(key in low and any(n in low for n in needles) for key, needles in _as_table(schemes).needle_groups)
