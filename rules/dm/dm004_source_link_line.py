from __future__ import annotations

import re

from tidymark.rules._clipper import SOURCE_URL_KEYS, is_placeholder_url, norm_url
from tidymark.diagnostics import Edit, Fix, FixKind
from tidymark.edits import remove_lines
from tidymark.frontmatter import scalar_text
from tidymark.rules.dm._lift import clean_url
from tidymark.rule import FixAvailability, Rule

_READ_ORIGINAL = re.compile(
    r"^\[(?:Read Original|Read original|Original|Original article|Original Article|View original|原文链接|查看原文)\]"
    r"\((?:<(?P<angle>(?:https?://|about:)[^\s<>]+)>|(?P<url>(?:https?://|about:)[^\s<>]+?))\)$")
# a line that can start a `Read Original` link (text-only pre-check: no parse without one),
# searched only in a text holding one of the labels' endings with the link's `](`
_READ_ORIGINAL_ENDINGS = ("Original](", "original](", "article](", "Article](", "原文链接](", "查看原文](")
_READ_ORIGINAL_START = re.compile(
    r"^[ \t]*\[(?:Read Original|Read original|Original|Original article|Original Article|View original|原文链接|查看原文)\]\(",
    re.M)
_SIMPREAD = re.compile(
    r"^>?\s*本文由\s*\[?简悦\s*SimpRead\]?(?:\([^)]*\))?\s*转码[，,]?\s*(?:原文地址\s*"
    r"(?:\[[^\]]*\]\((?P<url>https?://[^)\s]+)\)|(?P<bare>https?://\S+)))?\s*$")


class SourceLinkLine(Rule):
    """A clipper's "Read Original" line repeats (or should be) the front matter's source URL.

    ## What it does
    Finds the line a clipper writes to link the original article — Omnivore's
    `[Read Original](URL)`, SimpRead's `本文由 简悦 SimpRead 转码，原文地址 …` — and compares
    its URL with the front matter's source key (`url`, `source`, `original_url`, …).

    ## Why is this bad?
    The source URL belongs in the front matter, where Obsidian properties, Dataview,
    static site generators and scripts can read it; as a body line it is clutter that
    renders at the top of every note.

    ## Example
    ```markdown
    ---
    title: Rivers
    url: https://example.org/rivers
    ---

    [Read Original](https://example.org/rivers)

    Rivers carve valleys slowly.
    ```

    Use instead:
    ```markdown
    ---
    title: Rivers
    url: https://example.org/rivers
    ---

    Rivers carve valleys slowly.
    ```

    ## Fix safety
    Safe.  When the front matter already holds the same URL the line is removed.  When
    the front matter has no source key at all, the fix first adds `url: <URL>` as the
    last front-matter line (a lossless insertion; nothing else in the front matter
    changes) and removes the line in the same step, so no information is lost; an empty
    source key (`url:`, `url: ''`) is filled instead, never repeated.  When the front
    matter holds a *different* source URL the line is reported and its removal is
    unsafe.  Without front matter there is nowhere to move the URL and no fix is offered.
    A URL may hold parentheses (`…/7)-Depth-First-Search`): the link runs to the line's
    last `)`.  A link to a placeholder address rather than the article's — Omnivore's
    `https://omnivore.app/no_url?q=…` for newsletters, `localhost` or `127.0.0.1`
    preview servers, `about:blank` — is removed and never moved into the front matter.
    A moved URL loses its tracking and session parameters (`utm_*`, `fbclid`, WeChat's
    `pass_ticket`, `sessionid`, `exportkey`, `chksm`, `scene`; a WeChat link keeps `__biz`,
    `mid`, `idx` and `sn`).
    """

    code = "DM004"
    name = "source-link-line"
    summary = "Source-link line belongs in the front matter"
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"
    needs_any = ("](http", "](<http", "](about:", "SimpRead")

    def check(self, doc):
        text = doc.text
        if "SimpRead" not in text:
            if not any(e in text for e in _READ_ORIGINAL_ENDINGS) or not _READ_ORIGINAL_START.search(doc.body_lf):
                return  # no line can match: spare the Markdown parse
        fm = doc.front_matter
        if fm is None or not fm.closed or fm.error is not None or fm.kind != "yaml":
            fm = None
        lines = doc.lines
        lifted = False
        for block in doc.blocks:
            if block.kind not in ("paragraph", "blockquote"):
                continue
            for line0 in range(block.line0, block.line1):
                raw = lines.line_text(line0).strip()
                m = _READ_ORIGINAL.match(raw) or _SIMPREAD.match(raw)
                if not m:
                    continue
                span = lines.lines_span(line0, line0 + 1)
                if doc.is_protected(span):
                    continue
                groups = m.groupdict()
                url = groups.get("url") or groups.get("angle") or groups.get("bare")
                what = "SimpRead transcoding note" if "SimpRead" in raw else "`Read Original` link"
                if url is not None and is_placeholder_url(url):
                    # not the article's address: nothing to keep, in the front matter or here
                    yield self.diagnostic(span, f"{what} to a placeholder address, not the article's (line {line0 + 1})",
                                          fix=Fix.safe(f"Remove the {what}", remove_lines(doc, line0, line0 + 1),
                                                       kind=FixKind.REMOVE_SCAFFOLDING))
                    continue
                if fm is None:
                    yield self.diagnostic(span, f"{what} (line {line0 + 1}); no front matter to hold the URL")
                    continue
                remove = remove_lines(doc, line0, line0 + 1)
                held = [(k, v) for k, v in fm.values.items()
                        if str(k).lower() in SOURCE_URL_KEYS and isinstance(v, str) and v.strip()]
                if url is None:
                    yield self.diagnostic(span, f"{what} (line {line0 + 1})",
                                          fix=Fix.safe(f"Remove the {what}", remove, kind=FixKind.REMOVE_SCAFFOLDING))
                elif any(norm_url(v) == norm_url(url) for _, v in held):
                    key = next(k for k, v in held if norm_url(v) == norm_url(url))
                    yield self.diagnostic(span, f"{what} repeats front-matter `{key}` (line {line0 + 1})",
                                          fix=Fix.safe(f"Remove the {what}", remove, kind=FixKind.REMOVE_SCAFFOLDING))
                elif held:
                    key = held[0][0]
                    yield self.diagnostic(span, f"{what} points elsewhere than front-matter `{key}` (line {line0 + 1})",
                                          fix=Fix.unsafe(f"Remove the {what}", remove, kind=FixKind.REMOVE_SCAFFOLDING))
                elif not lifted:
                    lifted = True
                    empty = _empty_source_entry(fm)
                    if empty is not None:
                        key = empty.key
                        insert = _fill(doc, empty, scalar_text(clean_url(url)))
                    elif fm.get("url") is None:
                        key = "url"
                        insert = fm.append_entry("url", scalar_text(clean_url(url)))
                    else:  # `url` holds something that is not a URL string: leave it to the user
                        yield self.diagnostic(span, f"{what} (line {line0 + 1}): the source URL belongs in the "
                                                    f"front matter, whose `url` is not a URL")
                        continue
                    yield self.diagnostic(span, f"{what} (line {line0 + 1}): the source URL belongs in the front matter",
                                          fix=Fix.safe(f"Move the URL into the front matter as `{key}`", insert, remove,
                                                       kind=FixKind.FRONT_MATTER))


def _empty_source_entry(fm):
    """The first top-level source key (`url:`, `source: ''`, `link: ~`) whose value is empty."""
    values = fm.values
    for e in fm.top():
        if e.key.lower() in SOURCE_URL_KEYS and e.is_scalar and e.style in (None, "'", '"'):
            v = values.get(e.key)
            if v is None or (isinstance(v, str) and not v.strip()):
                return e
    return None


def _fill(doc, entry, value_text: str) -> Edit:
    """Write ``value_text`` as the value of an empty entry, keeping a comment after it."""
    if len(entry.value_span) and doc.text[entry.value_span.start:entry.value_span.end].strip():
        return Edit(entry.value_span, value_text)  # '' or "" or null or ~
    # `key:` with nothing after it: the value's marks may point at the next line
    colon = doc.text.index(":", entry.key_span.end)
    return Edit.insert(colon + 1, " " + value_text)
