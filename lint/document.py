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
        self._head = None  # (tokens, settled blocks) of the last partial parse, see head()

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

    @property
    def body_lf(self) -> str:
        """The body with every line ending written ``\\n`` (CRLF and a lone CR alike): the same
        lines as :attr:`lines`, for line-anchored (``re.M``) searches of the text."""
        def compute():
            body = self.body
            return body.replace("\r\n", "\n").replace("\r", "\n") if "\r" in body else body
        return self.memo("body_lf", compute)

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
        return self._parse_lines(None)

    def _parse_lines(self, end_line: int | None):
        """Tokens (and env) of the body up to 0-based line ``end_line`` (None: all of it)."""
        fm = self.front_matter
        start = self.body_start
        if fm is not None and not fm.closed:
            start = len(self.text)
        end = len(self.text) if end_line is None else max(start, self.lines.line_start(end_line))
        # Blank the front matter (same number of lines) so token maps are file lines.
        blank = "\n" * (self.lines.line_of(start) if start else 0)
        env: dict = {}
        tokens = parser(True).parse(blank + self.text[start:end], env)
        return tokens, env

    def head(self, max_lines: int) -> tuple[tuple[Block, ...], list, bool]:
        """The leading top-level blocks of the body, parsing only about ``max_lines`` lines.

        Returns (blocks, their tokens, complete).  Without ``complete`` the blocks are those a
        full parse gives too: every block of the partial parse but its last, which later lines
        might still extend.  A rule that finds what it needs there (the first heading) spares
        the whole parse; otherwise it asks again with more lines.
        """
        if "_parsed" not in self.__dict__:
            first = self.lines.line_of(self.body_start) if self.body_start else 0
            if first + max_lines < self.lines.line_count:
                tokens, _ = self._parse_lines(first + max_lines)
                blocks = _blocks_of(tokens, self.lines)[:-1]
                if blocks:
                    self._head = (tokens, blocks)
                    self.__dict__.pop("_head_protected", None)
                return blocks, tokens, False
        return self.blocks, self.tokens, True

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
        return _blocks_of(self.tokens, self.lines)

    def block_text(self, block: Block) -> str:
        return self.text[block.span.start:block.span.end]

    def inline_content(self, block: Block, tokens=None) -> str:
        """The raw inline source of a paragraph/heading block (markdown-it ``inline.content``);
        ``tokens``: those the block came from (:meth:`head`), by default the whole parse's."""
        for t in (self.tokens if tokens is None else tokens)[block.token_start:block.token_end]:
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
        """Code blocks, code spans and HTML comments (an unclosed one to the end of its HTML
        block), sorted: never edited by a fix."""
        return self._protected_of(self.tokens, self.code_blocks)

    def _protected_of(self, tokens, code_blocks) -> tuple[Span, ...]:
        text = self.text
        spans: list[Span] = list(code_blocks)
        for t in tokens:
            if t.map is None:
                continue
            if t.type == "inline" or t.type == "html_block":
                s = self.block_span(t)
                if t.type == "inline":
                    spans.extend(code_spans(text, s.start, s.end))
                if "<!--" in text[s.start:s.end]:
                    spans.extend(html_comments(text, s.start, s.end))
                    if t.type == "html_block":
                        # a comment that never closes runs to the end of its block (for an
                        # HTML block that opens with it, the end of the note): all hidden
                        k = text.rfind("<!--", s.start, s.end)
                        if text.find("-->", k + 4, s.end) == -1:
                            spans.append(Span(k, s.end))
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
        if "_parsed" not in self.__dict__ and self._head is not None:
            # within the settled head of a partial parse (see head()) that parse decides
            tokens, blocks = self._head
            if end <= blocks[-1].span.end:
                prot = self.__dict__.get("_head_protected")
                if prot is None:
                    last = blocks[-1].token_end
                    codes = tuple(self.block_span(t) for t in tokens[:last]
                                  if t.type in ("fence", "code_block") and t.map is not None)
                    prot = self.__dict__["_head_protected"] = self._protected_of(tokens[:last], codes)
                i = bisect.bisect_left([s.start for s in prot], end) - 1
                return i >= 0 and prot[i].end > span.start
        prot = self.protected
        i = bisect.bisect_left(self._protected_starts, end) - 1
        return i >= 0 and prot[i].end > span.start

    def unprotected(self, spans) -> list:
        """The spans (sorted by start, disjoint) that touch no protected region: one pass
        over both lists instead of a look-up per span."""
        prot = self.protected
        n = len(prot)
        k = 0
        out = []
        for span in spans:
            end = max(span.end, span.start + 1)
            while k < n and prot[k].end <= span.start:
                k += 1
            if k < n and prot[k].start < end:
                continue
            out.append(span)
        return out

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


def _blocks_of(toks, lines: LineIndex) -> tuple[Block, ...]:
    """Top-level blocks of a token stream in order."""
    out: list[Block] = []
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
        out.append(Block(kind, t.tag, lines.lines_span(a, b), a, b, i, j, t.markup))
        i = j
    return tuple(out)
