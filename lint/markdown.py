"""Markdown parsing and source location of inline elements.

markdown-it-py gives block tokens with line maps but no positions for inline elements, and
it normalises URLs (``attrs['src']`` is not the literal source).  Rules that rewrite or
remove links and images need exact source spans, so this module locates them by scanning
the source text itself, in one linear pass, skipping code spans, code blocks and HTML
comments.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache

from tidymark.source import Span


# Deeper blocks (lists in lists, quotes in quotes) are left unparsed: markdown-it recurses
# once or twice per level, so a hostile note nested thousands deep would otherwise exhaust
# Python's stack.  Real notes stay far below this.
MAX_NESTING = 100


@lru_cache(maxsize=None)
def parser(block_only: bool = True):
    """A shared CommonMark parser with GFM tables and strikethrough.

    With ``block_only`` the inline core rule is disabled: block tokens keep their raw
    ``content`` and no inline children are built (rules locate inline elements in the
    source instead), which roughly halves parse time.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
    _quiet_block_rules()
    if block_only:
        md.disable("inline")
        try:
            md.disable("text_join")
        except (ValueError, KeyError):
            pass
    return md


class _NoDebug:
    """Stands in for the module loggers of markdown-it's block rules, which log a debug line
    on every attempt (about one call per rule per line: ~10% of a block parse)."""

    @staticmethod
    def debug(*args, **kwargs) -> None:
        return None


def _quiet_block_rules() -> None:
    import logging
    import pkgutil

    import markdown_it.rules_block as rb

    if logging.getLogger("markdown_it").isEnabledFor(logging.DEBUG):
        return  # someone asked for markdown-it's debug log: leave it alone
    for info in pkgutil.iter_modules(rb.__path__):
        mod = sys.modules.get(f"{rb.__name__}.{info.name}")
        if mod is not None and isinstance(getattr(mod, "LOGGER", None), logging.Logger):
            mod.LOGGER = _NoDebug()


@dataclass(frozen=True, slots=True)
class Block:
    """A top-level block of the body (paragraph, heading, list, quote, fence, ...)."""

    kind: str           # markdown-it type without _open: "paragraph", "heading", "bullet_list", "hr", ...
    tag: str            # "h1", "p", "ul", "hr", ...
    span: Span          # whole lines, newline of the last line included
    line0: int          # 0-based first line
    line1: int          # 0-based line after the block
    token_start: int    # index of the opening token in Document.tokens
    token_end: int      # index after the closing token
    markup: str = ""


@dataclass(frozen=True, slots=True)
class Inline:
    """A link, image, reference definition or HTML image located in the source."""

    kind: str               # "image", "link", "definition", "html_image"
    span: Span              # the whole element, e.g. ``![alt](url "t")``
    url: str                # destination exactly as written (angle brackets removed)
    url_span: Span          # where the destination is written
    text_span: Span | None = None   # the link text / alt text between the brackets
    attr: str = ""          # for html_image: "src", "srcset", "data-src", ...

    def text(self, source: str) -> str:
        return source[self.text_span.start:self.text_span.end] if self.text_span else ""


_BACKTICKS = re.compile(r"`+")
# A bare link destination: no spaces or control characters, parentheses balanced (two levels
# deep, which covers real URLs) -- a regex so that pathological input stays linear and fast.
_DEST_CHAR = r"(?:[^\s()\\\x00-\x1f]|\\.)"
_DEST_PARENS1 = rf"\((?:{_DEST_CHAR})*\)"
_DEST_PARENS2 = rf"\((?:{_DEST_CHAR}|{_DEST_PARENS1})*\)"
_BARE_DEST = re.compile(rf"(?:{_DEST_CHAR}|{_DEST_PARENS2})*")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_DEFINITION = re.compile(
    r"^ {0,3}\[((?:[^\[\]\\\n]|\\.){1,999})\]:[ \t]*\n?[ \t]*(<[^<>\n]*>|[^\s<][^\s]*)"
    r"(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?[ \t]*$",
    re.M,
)
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.I)
_IMG_ATTR = re.compile(r"""\b(src|srcset|data-src|data-srcset|data-original)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)


def code_spans(text: str, start: int, end: int) -> list[Span]:
    """Spans of inline code (backtick runs matched by an equal-length run) in ``text[start:end]``."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text, start, end)]
    if not runs:
        return []
    by_len: dict[int, list[int]] = {}
    for i, (s, e) in enumerate(runs):
        by_len.setdefault(e - s, []).append(i)
    cursor = {k: 0 for k in by_len}
    out: list[Span] = []
    i = 0
    n = len(runs)
    while i < n:
        s, e = runs[i]
        if _escaped(text, s):
            i += 1
            continue
        k = e - s
        lst = by_len[k]
        j = cursor[k]
        while j < len(lst) and lst[j] <= i:
            j += 1
        cursor[k] = j
        if j < len(lst):
            close = lst[j]
            cs, ce = runs[close]
            # Code spans do not cross blank lines (a blank line ends the paragraph).
            if not _blank_line_between(text, e, cs):
                out.append(Span(s, ce))
                i = close + 1
                continue
        i += 1
    return out


def _blank_line_between(text: str, a: int, b: int) -> bool:
    return re.search(r"\n[ \t]*\r?\n", text[a:b]) is not None


def html_comments(text: str, start: int, end: int) -> list[Span]:
    return [Span(m.start(), m.end()) for m in _HTML_COMMENT.finditer(text, start, end)]


def _escaped(text: str, pos: int) -> bool:
    k = pos - 1
    count = 0
    while k >= 0 and text[k] == "\\":
        count += 1
        k -= 1
    return count % 2 == 1


def _parse_destination(text: str, pos: int, limit: int) -> tuple[int, int, int, str] | None:
    """Parse ``(dest "title")`` starting at ``pos`` (the ``(``).

    Returns (dest_start, dest_end, element_end, dest) or None when it is not a link
    destination.
    """
    n = min(limit, len(text))
    i = pos + 1
    while i < n and text[i] in " \t":
        i += 1
    if i < n and text[i] in "\r\n":
        i += 1 if text[i] == "\n" or text[i:i + 2] != "\r\n" else 2
        while i < n and text[i] in " \t":
            i += 1
    if i >= n:
        return None
    if text[i] == "<":
        j = i + 1
        while j < n and text[j] not in "<>\n":
            if text[j] == "\\":
                j += 1
            j += 1
        if j >= n or text[j] != ">":
            return None
        ds, de, dest = i + 1, j, text[i + 1:j]
        i = j + 1
    else:
        m = _BARE_DEST.match(text, i, n)
        j = m.end()
        if j < n and text[j] not in " \t\r\n)":
            return None
        ds, de, dest = i, j, text[i:j]
        i = j
    # optional title
    k = i
    while k < n and text[k] in " \t\r\n":
        k += 1
    if k < n and text[k] in "\"'(" and k > i:
        close = ")" if text[k] == "(" else text[k]
        m = k + 1
        while m < n and text[m] != close:
            if text[m] == "\\":
                m += 1
            m += 1
        if m >= n:
            return None
        k = m + 1
        while k < n and text[k] in " \t\r\n":
            k += 1
    if k < n and text[k] == ")":
        return ds, de, k + 1, dest
    return None


def find_inline(text: str, start: int, end: int, protected: list[Span]) -> list[Inline]:
    """Locate links, images, reference definitions and ``<img>`` sources in ``text[start:end]``.

    One linear pass: brackets are matched with a stack that is reset at blank lines, so
    pathological input cannot make it quadratic.  Elements starting inside a protected
    span (code, HTML comment) are skipped.
    """
    out: list[Inline] = []
    prot = sorted(protected)
    pi = 0

    def is_protected(pos: int) -> bool:
        nonlocal pi
        while pi < len(prot) and prot[pi].end <= pos:
            pi += 1
        return pi < len(prot) and prot[pi].start <= pos

    # bracket pairs
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    i = start
    find = text.find
    while i < end:
        # jump to the next interesting character
        nb = find("[", i, end)
        nc = find("]", i, end)
        nn = find("\n", i, end)
        cands = [x for x in (nb, nc, nn) if x != -1]
        if not cands:
            break
        i = min(cands)
        c = text[i]
        if c == "\n":
            j = i + 1
            while j < end and text[j] in " \t\r":
                j += 1
            if j < end and text[j] == "\n":
                stack.clear()
        elif c == "[":
            if not _escaped(text, i):
                stack.append(i)
                if len(stack) > 256:
                    del stack[0]
        elif stack and not _escaped(text, i):
            pairs.append((stack.pop(), i))
        i += 1

    pairs.sort()
    pi = 0
    para_end = -2  # the next blank line ("\n\n") at or after the current pair, found once per paragraph
    for open_, close in pairs:
        if is_protected(open_):
            continue
        nxt = close + 1
        if nxt < end and text[nxt] == "(":
            if para_end != -1 and para_end < nxt:
                para_end = find("\n\n", nxt, end)
            parsed = _parse_destination(text, nxt, end if para_end == -1 else para_end)
            if parsed is None:
                continue
            ds, de, ee, dest = parsed
            image = open_ > 0 and text[open_ - 1] == "!" and not _escaped(text, open_ - 1)
            s = open_ - 1 if image else open_
            out.append(Inline("image" if image else "link", Span(s, ee), dest, Span(ds, de),
                              Span(open_ + 1, close)))

    for m in (_DEFINITION.finditer(text, start, end) if text.find("]:", start, end) != -1 else ()):
        if is_protected_any(prot, m.start()):
            continue
        ds, de = m.span(2)
        dest = m.group(2)
        if dest.startswith("<"):
            ds, de, dest = ds + 1, de - 1, dest[1:-1]
        out.append(Inline("definition", Span(m.start(), m.end()), dest, Span(ds, de), Span(*m.span(1))))

    if "<img" in text[start:end] or "<IMG" in text[start:end]:
        for m in _IMG_TAG.finditer(text, start, end):
            if is_protected_any(prot, m.start()):
                continue
            for a in _IMG_ATTR.finditer(text, m.start(), m.end()):
                g = 2 if a.group(2) is not None else (3 if a.group(3) is not None else 4)
                out.append(Inline("html_image", Span(m.start(), m.end()), a.group(g), Span(*a.span(g)),
                                  None, a.group(1).lower()))
    out.sort(key=lambda x: (x.span.start, -x.span.end))
    return out


def is_protected_any(prot: list[Span], pos: int) -> bool:
    import bisect

    i = bisect.bisect_right(prot, Span(pos, 1 << 62)) - 1
    return i >= 0 and prot[i].start <= pos < prot[i].end
