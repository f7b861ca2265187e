from __future__ import annotations

import bisect
import re

from tidymark.diagnostics import Edit, Fix, FixKind
from tidymark.edits import remove_block, remove_lines
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

# Whole lines a clipper writes around the article (matched on the stripped line).
_LINE_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("dead `Read on Omnivore` link",
     re.compile(r"^\[Read on Omnivore\]\(<?https?://(?:www\.)?omnivore\.app/[^)\s]*>?\)$", re.I)),
    ("SimpRead style leftover", re.compile(r"^sr-annote\s*\{\s*all:\s*unset;\s*\}$")),
    ("SimpRead sidebar leftover",
     re.compile(r'^<div class="menu-toggle">\s*<SidebarToggle client:idle\s*>\s*</SidebarToggle>\s*</div>$')),
)
_FULL_CONTENT = re.compile(r"^(?:full content|content)\s*:?$", re.I)
_HIGHLIGHTS = re.compile(r"^highlights$", re.I)
# Text-only pre-checks: without one of these nothing below can match, and no parse is needed.
_TEMPLATE_HEADING_LINE = re.compile(
    r"^ {0,3}(?:#{1,6}[ \t]+)?(?:full content|content|highlights)[ \t]*:?(?:[ \t]+#+)?[ \t]*$", re.I | re.M)
_HR_LINE = re.compile(r" {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})")
_NON_BLANK = re.compile(r"\S")
# one of them in every line pattern: `omnivore` in any case, or one of these as written
_LINE_WORDS_EXACT = ("sr-annote", "SidebarToggle", "原创", "转载", "翻译")
_LINE_WORD = re.compile("(?i:omnivore)|" + "|".join(map(re.escape, _LINE_WORDS_EXACT)))
_HIGHLIGHT_LINK = re.compile(r"[ \t]*\[⤴️?\]\(https?://(?:www\.)?omnivore\.app/me/[^)\s]*\)")


class ClipperScaffolding(Rule):
    """Scaffolding a web clipper or read-it-later export left in the body.

    ## What it does
    Finds the lines clipper templates write around an article, none of which is part of
    the article (lines that state facts about the note — the `#Omnivore` tag line, WeChat
    bylines — are DM007's: it moves their facts into the front matter before removing them):

    - Omnivore: `[Read on Omnivore](https://omnivore.app/…)`
      (the service shut down in November 2024, so the link is dead), the template heading
      `# Full Content:`, an empty `## Highlights` section and dead highlight links
      `[⤴️](https://omnivore.app/me/…)`;
    - SimpRead CSS and sidebar leftovers (`sr-annote { all: unset; }`, `<SidebarToggle>`);
    - a thematic break (`---`, `***`, `* * *`) left as the very first or very last block
      of the body, where it separates nothing.

    ## Why is this bad?
    These lines are template chrome, not the note: they clutter reading views, search
    results and exports, and the Omnivore links point at a service that no longer exists.

    ## Example
    ```markdown
    ---
    title: Rivers
    ---

    #Omnivore

    [Read on Omnivore](https://omnivore.app/me/rivers-18f)

    # Full Content:

    Rivers carve valleys slowly.
    ```

    Use instead:
    ```markdown
    ---
    title: Rivers
    ---

    Rivers carve valleys slowly.
    ```

    ## Fix safety
    Safe: each pattern matches a whole line (or the whole block) that only a clipper
    template writes; the fix removes that line and the blank lines after it.  A heading
    named "Content" is removed only when it is exactly the Omnivore template's
    `Full Content:`, and `## Highlights` only when no text follows it in its section.
    Nothing inside code or an HTML comment is touched, including a comment that never
    closes (it hides the rest of its HTML block, which runs to the end of the note).
    """

    code = "DM003"
    name = "clipper-scaffolding"
    summary = "Clipper template scaffolding left in the body"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def _remove(self, doc, first0: int, last0: int, what: str):
        edit = remove_lines(doc, first0, last0)
        return self.diagnostic(doc.lines.lines_span(first0, last0), f"Clipper scaffolding: {what} (line {first0 + 1})",
                               fix=Fix.safe(f"Remove the {what}", edit, kind=FixKind.REMOVE_SCAFFOLDING))

    @staticmethod
    def _may_match(doc) -> bool:
        """Can any check below find something?  Judged from the text alone."""
        body = doc.body_lf
        low = body.lower()
        if len(low) != len(body):  # lower-casing changed offsets: the expressions decide
            if _LINE_WORD.search(body) or _TEMPLATE_HEADING_LINE.search(body):
                return True
        else:
            # substring searches instead of the case-insensitive expressions (ten times
            # faster over a long note); the heading expression runs only on lines holding
            # one of its words
            if "omnivore" in low or any(w in body for w in _LINE_WORDS_EXACT):
                return True  # also the Omnivore highlight links and headings
            for word in ("content", "highlights"):
                i = low.find(word)
                while i != -1:
                    if _TEMPLATE_HEADING_LINE.match(body, body.rfind("\n", 0, i) + 1):
                        return True
                    i = body.find("\n", i)
                    if i != -1:
                        i = low.find(word, i)
        first = _NON_BLANK.search(body)
        if first is None:
            return False
        a = body.rfind("\n", 0, first.start()) + 1
        b = body.find("\n", a)
        first_line = body[a:] if b == -1 else body[a:b]
        last_line = body.rstrip().rsplit("\n", 1)[-1]
        return any(_HR_LINE.fullmatch(ln.rstrip(" \t")) for ln in (first_line, last_line))

    def check(self, doc):
        if not self._may_match(doc):
            return
        blocks = doc.blocks
        text = doc.text
        lines = doc.lines
        # 1. whole-line patterns inside paragraphs / html blocks, on the lines holding a word
        #    one of the patterns needs
        candidates = _word_lines(doc)
        if candidates:
            starts = [b.line0 for b in blocks]
            for line0 in candidates:
                i = bisect.bisect_right(starts, line0) - 1
                if i < 0 or line0 >= blocks[i].line1 or blocks[i].kind not in ("paragraph", "html_block"):
                    continue
                line = lines.line_text(line0).strip()
                if not line or len(line) > 300:
                    continue
                for what, pat in _LINE_PATTERNS:
                    if pat.match(line) and not doc.is_protected(lines.lines_span(line0, line0 + 1)):
                        yield self._remove(doc, line0, line0 + 1, what)
                        break
        # 2. template headings
        for i, block in enumerate(blocks):
            if block.kind != "heading":
                continue
            title = doc.inline_content(block).strip()
            if block.markup.startswith("#") and title.lower().startswith("full content") and _FULL_CONTENT.match(title):
                yield self._remove(doc, block.line0, block.line1, "template heading `Full Content:`")
            elif _HIGHLIGHTS.match(title):
                level = len(block.markup) if block.markup.startswith("#") else (1 if block.markup == "=" else 2)
                nxt = blocks[i + 1] if i + 1 < len(blocks) else None
                if nxt is None or (nxt.kind == "heading" and _level(nxt) <= level):
                    yield self._remove(doc, block.line0, block.line1, "empty `Highlights` section")
        # 3. dead highlight links
        if "omnivore.app/me/" in text:
            for m in _HIGHLIGHT_LINK.finditer(text, doc.body_start):
                span = Span(m.start(), m.end())
                if not doc.is_protected(span):
                    yield self.diagnostic(span, "Clipper scaffolding: dead Omnivore highlight link",
                                          fix=Fix.safe("Remove the dead highlight link", Edit(span, ""),
                                                       kind=FixKind.REMOVE_SCAFFOLDING))
        # 4. a thematic break as the first or last block of the body
        if blocks:
            ends = {0: blocks[0], len(blocks) - 1: blocks[-1]}
            for idx, block in ends.items():
                if block.kind == "hr":
                    where = "start" if idx == 0 else "end"
                    yield self.diagnostic(block.span, f"Clipper scaffolding: thematic break at the {where} of the body "
                                                      f"(line {block.line0 + 1})",
                                          fix=Fix.safe("Remove the stray thematic break", remove_block(doc, block),
                                                       kind=FixKind.REMOVE_SCAFFOLDING))


def _word_lines(doc) -> list[int]:
    """0-based lines holding a word without which no _LINE_PATTERNS entry matches, in order."""
    index = doc.lines
    found: list[int] = []
    pos = doc.body_start
    text = doc.text
    while True:
        m = _LINE_WORD.search(text, pos)
        if m is None:
            return found
        line0 = index.line_of(m.start())
        found.append(line0)
        pos = index.line_start(line0 + 1)


def _level(block) -> int:
    if block.markup.startswith("#"):
        return len(block.markup)
    return 1 if block.markup == "=" else 2
