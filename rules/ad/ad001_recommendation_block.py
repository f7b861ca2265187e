from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cached_property

from tidymark.phrases import boilerplate as bp
from tidymark.diagnostics import Fix, FixKind, Severity
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

# blocks that can continue a recommendation block when they hold nothing but links
_RUN_KINDS = {"paragraph", "bullet_list", "ordered_list", "table"}
_MAX_MARKER_WIDTH = 60
_WEB = re.compile(r"^\s*<?(?:https?:)?//", re.I)


def _web_links_only(doc, span: Span) -> bool:
    """Nothing but links, and every link goes to the web: a relative link or a link to a
    note (``[Note](Note.md)``) is the author's own cross-reference, never a site widget."""
    if not bp.is_link_only(doc, span):
        return False
    for e in bp.inlines_in(doc, span):
        if e.kind == "link" and not _WEB.match(html.unescape(e.url) if "&" in e.url else e.url):
            return False
    return True


class RecommendationBlock(Rule):
    """A list of recommended or related links was saved with the article.

    ## What it does
    Finds a heading or line that announces recommended reading (`为你推荐`, `往期推荐`,
    `推荐阅读`, `相关推荐`, `猜你喜欢`, `Related posts`, `You may also like`,
    `Recommended for you`, `More from …`, `Read next` and their equivalents in the other
    lexicon languages) followed by blocks made only of links: a list of links, paragraphs
    holding nothing but links or linked images, or a table of links.  The block reported
    runs from the marker to the last of those link-only blocks.

    A marker followed by prose is not reported: "Related Work" in a paper, a "Recommended
    settings" heading, or a sentence that happens to contain 推荐.  A list whose items
    carry descriptions is prose, not a link farm, and ends the block; so does a relative
    link or a link to another note (`[Note](Note.md)`, `[[Note]]`): a site's widget links
    to the web, an author's "Related" section links to their own notes.

    ## Why is this bad?
    Web clippers and read-it-later tools capture the site's "read next" widgets along with
    the article.  The links belong to the page the article was read on, not to the
    article: they clutter the note, pollute full-text search and backlinks, and every
    note saved from the same site carries a different copy.

    ## Example
    ```markdown
    The last paragraph of the article, long enough to be real running text that a reader
    would recognise as the end of the piece.

    往期推荐

    [旧路由器改造指南](https://example.com/posts/1)

    [家庭网络的三年](https://example.com/posts/2)
    ```

    Use instead:
    ```markdown
    The last paragraph of the article, long enough to be real running text that a reader
    would recognise as the end of the piece.
    ```

    ## Fix safety
    Safe when the marker stands alone (a heading or a line of its own), every block after
    it up to the end of the run holds only links, and the run sits in the tail of the body
    (no prose follows it).  A thematic break left dangling at the end of the note goes too.
    The fix is unsafe for weaker matches: a marker that authors also use for their own
    reading lists (`延伸阅读`, `Read more`, `Recommended reading`), a marker sharing its line
    with the links, a block in the middle of the article, or a note without any prose
    (it has no head or tail to speak of).

    ## Options
    - `extra-phrases`: more marker lines, compared after normalisation (case, emphasis,
      emoji and surrounding punctuation are ignored); matches can be fixed safely
    - `extra-patterns`: more markers as regular expressions matched against the whole
      normalised line (lower case)
    - `languages`: the lexicons to use, e.g. `["zh", "en"]` (default: all of them)
    """

    code = "AD001"
    name = "recommendation-block"
    summary = "Recommended-links block captured with the article"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"

    @dataclass(frozen=True)
    class Options:
        extra_phrases: tuple[str, ...] = ()
        extra_patterns: tuple[str, ...] = ()
        languages: tuple[str, ...] = ()

        def __post_init__(self):
            bp.check_patterns(self.extra_patterns, "AD001 option `extra-patterns`")
            bp.check_languages(self.languages, "AD001 option `languages`")

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        self._strong = bp.matcher("recommendation", o.languages, o.extra_phrases, o.extra_patterns)
        self._weak = bp.matcher("recommendation_weak", o.languages)

    @cached_property
    def _gate(self) -> bp.LineGate:
        return bp.LineGate(self._strong, self._weak)

    # -- markers -----------------------------------------------------------------------
    def _strength(self, raw: str, norm: str | None = None) -> str | None:
        if norm is None:
            if len(raw) > 8 * _MAX_MARKER_WIDTH:
                return None
            norm = bp.normalize(raw)
        if not norm or bp.width(norm) > _MAX_MARKER_WIDTH:
            return None
        for form in dict.fromkeys((norm, bp.marker_form(norm))):
            if self._strong.full(form):
                return "strong"
            if self._weak.full(form):
                return "weak"
        return None

    def _marker(self, doc, body, block):
        """(label, strength, standalone, links_in_block) of a marker block, or None."""
        if block.kind == "heading":
            if doc.is_protected(block.span) or bp.inlines_in(doc, block.span):
                return None
            raw = doc.inline_content(block)
            strength = self._strength(raw)
            return (bp.display(raw), strength, True, False) if strength else None
        if block.kind != "paragraph":
            return None
        line_span = doc.lines.lines_span(block.line0, block.line0 + 1)
        if doc.is_protected(line_span):
            return None
        raw = doc.lines.line_text(block.line0)
        items = bp.inlines_in(doc, line_span)
        if not items:
            strength = self._strength(raw, body.norm(block.line0))
            if not strength:
                return None
            if block.line1 - block.line0 == 1:
                return bp.display(raw), strength, True, False
            rest = doc.lines.lines_span(block.line0 + 1, block.line1)
            if not doc.is_protected(rest) and _web_links_only(doc, rest):
                return bp.display(raw), strength, True, True
            return None
        # "推荐阅读：[a](…) [b](…)": the marker shares its line with the links
        prefix = doc.text[line_span.start:items[0].span.start]
        strength = self._strength(prefix)
        if strength and _web_links_only(doc, Span(items[0].span.start, block.span.end)) \
                and not doc.is_protected(block.span):
            return bp.display(prefix), strength, False, True
        return None

    # -- check -------------------------------------------------------------------------
    def check(self, doc):
        gate = self._gate.lines(doc)
        if gate is not None:
            # a marker is only reported with web links after it: "//" (or an HTML-escaped
            # URL) must follow its line somewhere
            text = doc.text
            last = max(text.rfind("//"), text.rfind("&"))
            gate = frozenset(k for k in gate if doc.lines.line_start(k) <= last)
            gate = bp.confirm_lines(doc, gate, lambda raw: self._strength(raw, bp.normalize(raw)) is not None)
            if not gate:
                return  # no line can be a marker: no need to parse the document
        body = bp.analyze(doc)
        blocks = body.blocks
        n = len(blocks)
        i = 0
        while i < n:
            b = blocks[i]
            last = b.line1 if b.kind == "heading" else b.line0 + 1  # where a marker's text is
            if gate is not None and not any(k in gate for k in range(b.line0, last)):
                i += 1
                continue
            found = self._marker(doc, body, b)
            if found is None:
                i += 1
                continue
            label, strength, standalone, links_in_block = found
            label = label.rstrip(":： ")
            j = i + 1
            while (j < n and blocks[j].kind in _RUN_KINDS and not doc.is_protected(blocks[j].span)
                   and _web_links_only(doc, blocks[j].span)):
                j += 1
            if j == i + 1 and not links_in_block:
                i += 1
                continue
            last = j - 1
            safe = strength == "strong" and standalone and body.in_tail(last)
            edit, a, b = bp.removal_edit(doc, blocks[i].line0, blocks[last].line1, body)
            where = bp.lines_label(a, b)
            title = f"Remove the recommendation block ({where})"
            fix = (Fix.safe if safe else Fix.unsafe)(title, edit, kind=FixKind.REMOVE_CONTENT)
            yield self.diagnostic(bp.content_span(doc, a, b),
                                  f"Recommendation block '{label}' ({where})", fix=fix)
            i = j
