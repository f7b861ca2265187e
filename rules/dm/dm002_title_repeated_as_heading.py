from __future__ import annotations

import re

from tidymark.rules._clipper import norm, same_title, title_forms
from tidymark.diagnostics import Fix, FixKind
from tidymark.edits import remove_block
from tidymark.rule import FixAvailability, Rule

_ATX = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")


class TitleRepeatedAsHeading(Rule):
    """The first heading of the body repeats the front-matter title.

    ## What it does
    Compares the first heading of the body with the front-matter `title`, after trimming
    the newline a block scalar leaves, whitespace, Markdown emphasis, HTML entities and a
    trailing site-name suffix (`Title | Site`, `Title - Site`).  Clippers (Omnivore,
    Readwise, MarkDownload) write the title both into the front matter and as an H1.

    ## Why is this bad?
    Obsidian, Quartz, Hugo and most themes already show the front-matter title, so the
    note displays its title twice; outlines and tables of contents start with a
    duplicate entry.

    ## Example
    ```markdown
    ---
    title: How the bridge was built | City Desk
    ---

    # How the bridge was built | City Desk

    The first pier went in during the dry season.
    ```

    Use instead:
    ```markdown
    ---
    title: How the bridge was built | City Desk
    ---

    The first pier went in during the dry season.
    ```

    ## Fix safety
    Safe when the heading is the first block of the body with content before any prose:
    the fix removes the heading line (and the blank lines after it), nothing else.  When
    prose precedes the heading the fix is unsafe, since the heading may structure the
    text.
    """

    code = "DM002"
    name = "title-repeated-as-heading"
    summary = "First heading repeats the front-matter title"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe/unsafe"

    def check(self, doc):
        fm = doc.front_matter
        if fm is None or fm.error is not None:
            return
        title = fm.values.get("title")
        if not isinstance(title, str) or not title.strip():
            return
        if not _title_words_in_body(title, doc):
            return  # no heading can repeat it: no need to parse
        first = _leading_atx_heading(doc)
        if first is not None and not same_title(title, first):
            return  # the body opens with a heading, and not with the title
        # the first heading is near the top: parse only the head of the body when that settles it
        for lines in (12, 96, None):
            if lines is None:
                blocks, tokens = doc.blocks, doc.tokens
            else:
                blocks, tokens, complete = doc.head(lines)
            found = self._first_heading(doc, blocks, tokens)
            if found is not None or lines is None or complete:
                break
        if not found:
            return
        block, prose_before = found
        if not same_title(title, doc.inline_content(block, tokens)):
            return
        fix_cls = Fix.unsafe if prose_before else Fix.safe
        fix = fix_cls("Remove the heading that repeats the title", remove_block(doc, block),
                      kind=FixKind.REMOVE_SCAFFOLDING)
        yield self.diagnostic(block.span, f"Heading repeats the front-matter title (line {block.line0 + 1})",
                              fix=fix)

    @staticmethod
    def _first_heading(doc, blocks, tokens):
        """(first heading, prose before it) among ``blocks``; False when the first heading is
        not a Markdown heading of any level; None when ``blocks`` hold no heading."""
        prose_before = False
        for block in blocks:
            if block.kind == "heading":
                if block.markup not in ("#", "##", "###", "####", "#####", "######", "=", "-"):
                    return False
                return block, prose_before
            if block.kind == "paragraph" and not _scaffolding_like(doc.block_text(block)):
                prose_before = True
        return None


_WORD = re.compile(r"[^\W_]+")
_MARKERS = str.maketrans("", "", "*_~`")


def _title_words_in_body(title: str, doc) -> bool:
    """A heading that repeats the title holds every word of the title without its site
    suffix (``same_title`` compares the normalised heading with the title's forms, or the
    title with the heading's): without one of those words in the body, nothing can match."""
    words = set(_WORD.findall(min(title_forms(title), key=len, default="")))
    if not words:
        return True
    body = doc.body
    low = body.casefold()
    missing = [w for w in words if w not in low]
    if not missing:
        return True
    if body.isascii() and "&" not in body:
        # nothing for norm() to decode or unfold: it could only join a word by deleting
        # emphasis and code markers (deleting every ``~`` too only lets more bodies through)
        low = low.translate(_MARKERS)
        return all(w in low for w in missing)
    normed = norm(body)
    return all(w in normed for w in missing)


_ATX_OPEN = re.compile(r"#{1,6}(?=[ \t]|$)")


def _leading_atx_heading(doc) -> str | None:
    """The inline content of the body's first block when that block is an ATX heading at
    the start of its line (as markdown-it reads it: closing ``#`` run and spaces cut), found
    from the text alone; None when the body does not open that way."""
    text = doc.text
    pos = doc.body_start
    n = len(text)
    while pos < n:
        end = text.find("\n", pos)
        if end == -1:
            end = n
        line = text[pos:end].rstrip("\r")
        if line.strip(" \t"):
            break
        pos = end + 1
    else:
        return None
    m = _ATX_OPEN.match(line)
    if m is None or "\r" in line or "\0" in line:
        return None
    start, stop = m.end(), len(line)
    while stop > start and line[stop - 1] in " \t":
        stop -= 1
    cut = stop
    while cut > start and line[cut - 1] == "#":
        cut -= 1
    if cut > start and line[cut - 1] in " \t":
        stop = cut
    return line[start:stop].strip()


def _scaffolding_like(text: str) -> bool:
    """Short link/tag/image lines clippers put above the title do not count as prose."""
    t = text.strip()
    return len(t) < 200 and (t.startswith(("#", "[", "![", "<")) or t.count("](") >= 1 and len(t) < 120)
