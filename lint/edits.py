"""Edit builders shared by the removal and rewrite rules.

Every removal follows one whitespace convention, so that cleaned notes look hand-edited:
the removed lines go together with the blank lines directly after them; when nothing but
blank lines follows (the removal reaches the end of the document), the blank lines
before it go instead, so the file ends with the last kept line and its newline.  A line
inside a paragraph (non-blank lines above and below) is removed alone.
"""

from __future__ import annotations

from tidymark.diagnostics import Edit
from tidymark.document import Document
from tidymark.source import Span


def _blank(doc: Document, line0: int) -> bool:
    return not doc.lines.line_text(line0).strip()


def remove_lines(doc: Document, first0: int, last0_exclusive: int) -> Edit:
    """Remove 0-based lines ``[first0, last0_exclusive)`` of the body, tidying blank lines.

    - followed by more text and preceded by a blank line (or the body start): the lines
      go with the blank lines after them;
    - inside a paragraph (text directly above and below): only the lines go;
    - ending a paragraph (text directly above, a blank line below): the lines go with the
      newline before them, so the paragraph keeps its blank line;
    - nothing but blank lines after them: the blank lines before them go too, so the file
      ends with the last kept line and its newline.
    """
    lines = doc.lines
    text = doc.text
    count = lines.line_count
    body_line0 = lines.line_of(doc.body_start) if doc.body_start < len(text) else count
    end = last0_exclusive
    while end < count and _blank(doc, end):
        end += 1
    start = first0
    if end >= count:
        while start > body_line0 and _blank(doc, start - 1):
            start -= 1
        return Edit(Span(lines.line_start(start), len(text)), "")
    text_above = first0 > body_line0 and not _blank(doc, first0 - 1)
    if not text_above:
        return Edit(lines.lines_span(first0, end), "")
    if not _blank(doc, last0_exclusive):
        if not _same_block(doc, first0 - 1, last0_exclusive) and _would_merge(doc, first0 - 1, last0_exclusive):
            # the lines separate two blocks that would run together (a heading between two
            # paragraphs): leave a blank line between them
            return Edit(lines.lines_span(first0, last0_exclusive), doc.newline)
        return Edit(lines.lines_span(first0, last0_exclusive), "")
    # ends a paragraph: take the newline before the lines instead of the one after
    return Edit(Span(lines.line_end(first0 - 1, with_newline=False),
                     lines.line_end(last0_exclusive - 1, with_newline=False)), "")


def _same_block(doc: Document, a: int, b: int) -> bool:
    """Do 0-based lines ``a`` and ``b`` belong to the same top-level block?"""
    import bisect

    blocks = doc.blocks
    starts = [bl.line0 for bl in blocks]
    i = bisect.bisect_right(starts, a) - 1
    return i >= 0 and blocks[i].line0 <= a and b < blocks[i].line1


def _would_merge(doc: Document, a: int, b: int) -> bool:
    """Would 0-based lines ``a`` and ``b``, once adjacent, parse as one block?"""
    from tidymark.markdown import parser

    pair = f"{doc.lines.line_text(a)}\n{doc.lines.line_text(b)}\n"
    tokens = parser(True).parse(pair)
    return sum(1 for t in tokens if t.level == 0 and t.nesting >= 0) == 1


def remove_span_lines(doc: Document, span: Span) -> Edit:
    """Remove the whole lines touched by ``span``."""
    a = doc.lines.line_of(span.start)
    end = max(span.end - 1, span.start)
    b = doc.lines.line_of(end) + 1
    return remove_lines(doc, a, b)


def remove_block(doc: Document, block) -> Edit:
    return remove_lines(doc, block.line0, block.line1)
