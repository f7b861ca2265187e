from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from tidymark.diagnostics import Edit, Fix, FixKind
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

# Exactly what a Mustache `{{double}}` tag escapes, and its inverse.
_UNESCAPE = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x2F;": "/",
             "&#x60;": "`", "&#x3D;": "="}
_ENTITY = re.compile("|".join(re.escape(k) for k in _UNESCAPE))
# Entities nobody types by hand: their presence means a template escaped the body.
_TELLTALE = ("&#x2F;", "&#x60;", "&#x3D;")


class HtmlEscapedBody(Rule):
    """The body is HTML-entity-escaped by a template mistake.

    ## What it does
    Detects bodies written through a `{{double}}` Mustache tag instead of
    `{{{triple}}}` — the Omnivore Obsidian plugin's most reported template mistake — so
    that every `/`, `` ` ``, `'`, `"`, `=`, `&`, `<` and `>` became an entity
    (`https:&#x2F;&#x2F;…`, `&#39;`, `&quot;`).  A body is reported when escaped URLs
    (`:&#x2F;&#x2F;`) appear, or at least `min-telltales` of the entities no one types by
    hand (`&#x2F;`, `&#x60;`, `&#x3D;`); many `&#39;`/`&quot;` alone are a weaker signal.

    ## Why is this bad?
    Links and images do not work (`https:&#x2F;&#x2F;…` is not a URL), code fences are
    not fences, and every other rule sees mangled text.

    ## Example
    ```markdown
    It&#39;s here: [docs](https:&#x2F;&#x2F;example.org&#x2F;docs) and &#x60;code&#x60;.
    ```

    Use instead:
    ```markdown
    It's here: [docs](https://example.org/docs) and `code`.
    ```

    ## Fix safety
    Safe only where the note is evidently a template's escaped export: the telltale
    entities (or escaped URLs) are there, with escaped URLs or escaped quotes, and the body
    has no more bare `'` and `"` than escaped ones (a template escapes every one of them; a
    note written by hand about entities has its own quotes and apostrophes).  The fix is
    the exact inverse of the Mustache escaping, applied once to each entity outside code
    spans, fenced code and HTML comments (so text that really was `&amp;amp;` becomes
    `&amp;`, not `&`).  Otherwise the fix is unsafe: unescaping a note about entities
    would turn its examples into live HTML.  In an escaped
    body, indented lines are unescaped too: the template escaped them like the rest, and the
    indented "code block" they form (code that was fenced before the fence became
    `&#x60;&#x60;&#x60;`, a listing's continuation lines) is an effect of the escaping.  When
    only `&#39;`/`&quot;` are frequent, indented code is left alone.

    ## Options
    - `min-telltales`: how many `&#x2F;` / `&#x60;` / `&#x3D;` make a body escaped (default 3)
    - `min-quotes`: how many `&#39;` / `&quot;` alone make a body look escaped (default 12)
    """

    code = "DM005"
    name = "html-escaped-body"
    summary = "Body is HTML-entity-escaped by a template mistake"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe/unsafe"
    needs_any = ("&#x2F;", "&#x60;", "&#x3D;", "&#39;", "&quot;")
    changes_structure = True
    # indented code blocks of an escaped body are unescaped too; the rule itself keeps out of
    # code spans, fenced code and HTML comments (see _untouchable)
    may_edit_protected = True

    @dataclass(frozen=True)
    class Options:
        min_telltales: int = 3
        min_quotes: int = 12

    def check(self, doc):
        text = doc.text
        start = doc.body_start
        body = text[start:]
        telltales = sum(body.count(t) for t in _TELLTALE)
        quotes = body.count("&#39;") + body.count("&quot;")
        escaped_urls = ":&#x2F;&#x2F;" in body
        strong = escaped_urls or telltales >= self.options.min_telltales
        if not strong and quotes < self.options.min_quotes:
            return
        spans = [Span(m.start(), m.end()) for m in _ENTITY.finditer(text, start)]
        if strong:
            keep = _untouchable(doc)
            starts = [s.start for s in keep]
            spans = [sp for sp in spans if not _touches(keep, starts, sp)]
        else:
            spans = doc.unprotected(spans)
        edits = [Edit(span, _UNESCAPE[text[span.start:span.end]]) for span in spans]
        if not edits:
            return
        kinds = sorted({text[e.span.start:e.span.end] for e in edits}, key=lambda k: (-body.count(k), k))[:3]
        # a template escapes every quote and apostrophe: a body with more bare ones than
        # escaped ones (or none of either, and no escaped URL) was written by hand
        evident = strong and (escaped_urls or quotes) and body.count("'") + body.count('"') <= quotes
        fix_cls = Fix.safe if evident else Fix.unsafe
        yield self.diagnostic(
            edits[0].span,
            f"Body is HTML-entity-escaped ({len(edits)} entities such as {', '.join(kinds)}); "
            f"a `{{{{double}}}}` template tag escaped it",
            fix=fix_cls("Unescape the body", *edits, kind=FixKind.REWRITE))


def _untouchable(doc) -> tuple[Span, ...]:
    """Code spans, fenced code and HTML comments: what is protected but indented code."""
    fences = tuple(doc.block_span(t) for t in doc.tokens if t.type == "fence" and t.map is not None)
    return doc._protected_of(doc.tokens, fences)


def _touches(spans: tuple[Span, ...], starts: list[int], span: Span) -> bool:
    i = bisect.bisect_left(starts, span.end) - 1
    return i >= 0 and spans[i].end > span.start
