"""The Document: one file's text with everything rules need, computed lazily.

A rule reads a :class:`Document` and returns diagnostics; it never re-reads the file or
re-parses what another rule already parsed.  Everything expensive (front-matter compose,
Markdown parse, inline scan) is computed on first use and shared by all rules of a pass.
"""

from __future__ import annotations

import bisect
from functools import cached_property
from pathlib import Path

from tidymark import frontmatter as _fm
from tidymark.markdown import Block, Inline, code_spans, find_inline, html_comments, parser
from tidymark.source import LineIndex, Span

_CONTAINERS = {"paragraph", "heading", "bullet_list", "ordered_list", "blockquote", "table"}


class Document:
    """A decoded Markdown document (BOM removed, newlines untouched)."""

    def __init__(self, text: str, path: Path | str | None = None, *, bom: bool = False,
                 newline: str | None = None):
        from tidymark.source import detect_newline

        self.text = text
        self.path = Path(path) if path is not None else None
        self.bom = bom
        self.newline = newline or detect_newline(text)
        self._memo: dict = {}

    def memo(self, key, compute):
        """A value computed once per document and shared by the rules that need it."""
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

    # -- basics -------------------------------------------------------------------
    @cached_property
    def lines(self) -> LineIndex:
        return LineIndex(self.text)

    @cached_property
    def front_matter(self) -> _fm.FrontMatter | None:
        return _fm.locate(self.text, self.lines)

    @property
    def body_start(self) -> int:
        fm = self.front_matter
        return fm.span.end if fm is not None and fm.closed else 0

    @property
    def body(self) -> str:
        return self.text[self.body_start:]

    def slice(self, span: Span) -> str:
        return self.text[span.start:span.end]

    def position(self, offset: int) -> tuple[int, int]:
        return self.lines.position(offset)

    def line_span(self, line0: int) -> Span:
        """Span of a 0-based line including its newline."""
        return self.lines.lines_span(line0, line0 + 1)

    # -- Markdown -----------------------------------------------------------------
    @cached_property
    def _parsed(self):
        fm = self.front_matter
        start = self.body_start
        if fm is not None and not fm.closed:
            start = len(self.text)
        # Blank the front matter (same number of lines) so token maps are file lines.
        blank = "\n" * (self.lines.line_of(start) if start else 0)
        env: dict = {}
        tokens = parser(True).parse(blank + self.text[start:], env)
        return tokens, env

    @property
    def tokens(self):
        """markdown-it block tokens; ``map`` values are 0-based *file* lines."""
        return self._parsed[0]

    @property
    def references(self) -> dict:
        return self._parsed[1].get("references", {})

    def block_span(self, token) -> Span:
        a, b = token.map
        return self.lines.lines_span(a, b)

    @cached_property
    def blocks(self) -> tuple[Block, ...]:
        """Top-level blocks of the body in order."""
        out: list[Block] = []
        toks = self.tokens
        i, n = 0, len(toks)
        while i < n:
            t = toks[i]
            if t.level != 0 or t.map is None:
                i += 1
                continue
            if t.nesting == 1:
                depth, j = 1, i + 1
                while j < n and depth:
                    depth += toks[j].nesting
                    j += 1
                kind = t.type[:-5] if t.type.endswith("_open") else t.type
            else:
                j = i + 1
                kind = t.type
            a, b = t.map
            out.append(Block(kind, t.tag, self.lines.lines_span(a, b), a, b, i, j, t.markup))
            i = j
        return tuple(out)

    def block_text(self, block: Block) -> str:
        return self.text[block.span.start:block.span.end]

    def inline_content(self, block: Block) -> str:
        """The raw inline source of a paragraph/heading block (markdown-it ``inline.content``)."""
        for t in self.tokens[block.token_start:block.token_end]:
            if t.type == "inline":
                return t.content
        return ""

    # -- regions rules must not touch -----------------------------------------------
    @cached_property
    def code_blocks(self) -> tuple[Span, ...]:
        """Fenced and indented code blocks (whole lines)."""
        return tuple(self.block_span(t) for t in self.tokens
                     if t.type in ("fence", "code_block") and t.map is not None)

    @cached_property
    def protected(self) -> tuple[Span, ...]:
        """Code blocks, code spans and HTML comments, sorted: never edited by a fix."""
        text = self.text
        spans: list[Span] = list(self.code_blocks)
        for t in self.tokens:
            if t.map is None:
                continue
            if t.type == "inline" or t.type == "html_block":
                s = self.block_span(t)
                if t.type == "inline":
                    spans.extend(code_spans(text, s.start, s.end))
                if "<!--" in text[s.start:s.end]:
                    spans.extend(html_comments(text, s.start, s.end))
        spans.sort()
        merged: list[Span] = []
        for sp in spans:  # disjoint and sorted, so lookups are one bisect
            if merged and sp.start <= merged[-1].end:
                if sp.end > merged[-1].end:
                    merged[-1] = Span(merged[-1].start, sp.end)
            else:
                merged.append(sp)
        return tuple(merged)

    @cached_property
    def _protected_starts(self) -> list[int]:
        return [s.start for s in self.protected]

    def is_protected(self, span: Span | int) -> bool:
        """True when ``span`` (or an offset) touches code or an HTML comment."""
        if isinstance(span, int):
            span = Span(span, span + 1)
        end = max(span.end, span.start + 1)
        prot = self.protected
        i = bisect.bisect_left(self._protected_starts, end) - 1
        return i >= 0 and prot[i].end > span.start

    # -- inline elements ----------------------------------------------------------
    @cached_property
    def inline(self) -> tuple[Inline, ...]:
        """Links, images, reference definitions and ``<img>`` sources, located in the source."""
        start = self.body_start
        text = self.text
        if "](" not in text and "]:" not in text and "<img" not in text.lower():
            return ()
        prot = list(self.protected)
        return tuple(find_inline(text, start, len(text), prot))

    def images(self) -> list[Inline]:
        return [e for e in self.inline if e.kind in ("image", "html_image")]

    def links(self) -> list[Inline]:
        return [e for e in self.inline if e.kind == "link"]
