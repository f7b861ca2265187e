"""What a removed junk block leaves orphaned.

A call to follow above a QR code, "Thanks for reading" above a `[Share]` button, an appeal
between two separators: once the words go, the image, the button and the separators mean
nothing.  An image that text follows illustrates that text, and a link to an author's page
is a byline: neither is taken.  These helpers recognise such remains by their shape alone (no words, so in any
language) and widen a removal over them; the rules decide where that is allowed.
"""

from __future__ import annotations

import re

_ALNUM = re.compile(r"[^\W_]", re.UNICODE)
IMAGE_ONLY = re.compile(r"^\s*(?:[*_]{0,3}\[?\s?!\[[^\]]*\]\([^)]*\)(?:\]\([^)]*\))?[*_]{0,3}\s*)+$")
EMPTY_LINK = re.compile(r"^\s*(?:\[\s*\]\([^)]*\)\s*)+$")
BUTTON = re.compile(r"^\s*[*_]{0,2}\[([^\[\]]{1,24})\]\([^()\s]*\)[*_]{0,2}\s*$")
BYLINE_URL = re.compile(r"\]\([^)]*/(?:authors?|users?|people|profile|u|@[^/)]+)(?:/|\))", re.I)
MAX_ORPHANS = 3  # orphan lines taken on each side of a removal


def is_decoration(t: str) -> bool:
    """Separators, rules, arrows, emoji: a line without a letter or digit (and no image,
    table row, math or code)."""
    return (bool(t.strip()) and not _ALNUM.search(t) and "![" not in t and not t.lstrip().startswith("|")
            and not any(c in t for c in "$`\\"))


def orphan_shape(t: str) -> bool:
    """Decoration, an image, an empty link: nothing that says anything by itself."""
    return bool(is_decoration(t) or IMAGE_ONLY.match(t) or EMPTY_LINK.match(t))


def below(t: str, images: bool = True) -> bool:
    """Can line ``t``, directly below a removed block, be its orphan?  Decoration, an empty
    link, a lone short button link (not a link to an author's page: a byline), and
    (``images``) an image."""
    return bool(is_decoration(t) or EMPTY_LINK.match(t) or (BUTTON.match(t) and not BYLINE_URL.search(t))
                or (images and IMAGE_ONLY.match(t)))


def above(t: str) -> bool:
    """Can line ``t``, directly above a removed block, be its orphan?  Decoration or an empty
    link only: an image above is the article's last figure."""
    return bool(is_decoration(t) or EMPTY_LINK.match(t))


def alone(doc, line0: int) -> bool:
    """Is 0-based line ``line0`` a top-level block by itself (a one-line paragraph or a
    thematic break)?  Removing such a line never merges the blocks around it."""
    import bisect

    blocks = doc.blocks
    k = bisect.bisect_right([b.line0 for b in blocks], line0) - 1
    if not (k >= 0 and blocks[k].line0 == line0 and blocks[k].line1 == line0 + 1
            and blocks[k].kind in ("paragraph", "hr")):
        return False
    if k == 0 or k + 1 >= len(blocks):
        return True
    # the blocks on either side must not become one (two lists, two quotes, two code blocks)
    from tidymark.markdown import parser

    lines = doc.lines
    pair = f"{lines.line_text(blocks[k - 1].line1 - 1)}\n\n{lines.line_text(blocks[k + 1].line0)}\n"
    tokens = parser(True).parse(pair)
    return sum(1 for t in tokens if t.level == 0 and t.nesting >= 0) > 1


def widen(doc, first0: int, last0_excl: int, *, images: bool = True) -> tuple[int, int]:
    """The 0-based line range ``[first0, last0_excl)`` widened over the orphans next to it
    (blank lines between are allowed; code, fences and comments never count)."""
    lines = doc.lines
    body0 = lines.line_of(doc.body_start) if doc.body_start < len(doc.text) else lines.line_count

    def ok(i: int, test) -> bool:
        t = lines.line_text(i)
        return test(t) and alone(doc, i) and not doc.is_protected(lines.line_start(i))

    def next_text(i: int) -> str | None:
        j = i + 1
        while j < lines.line_count and not lines.line_text(j).strip():
            j += 1
        return lines.line_text(j) if j < lines.line_count else None

    end, taken, i = last0_excl, 0, last0_excl
    while i < lines.line_count and taken < MAX_ORPHANS:
        if not lines.line_text(i).strip():
            i += 1
            continue
        if not ok(i, lambda t: below(t, images)):
            break
        if IMAGE_ONLY.match(lines.line_text(i)):
            after = next_text(i)
            if after is not None and not below(after, images):
                break  # an image that text follows illustrates that text
        taken += 1
        i += 1
        end = i
    start, taken, i = first0, 0, first0 - 1
    while i >= body0 and taken < MAX_ORPHANS:
        if not lines.line_text(i).strip():
            i -= 1
            continue
        if not ok(i, above):
            break
        taken += 1
        start = i
        i -= 1
    return start, end
