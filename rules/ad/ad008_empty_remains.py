from __future__ import annotations

import re

from tidymark.diagnostics import Fix, FixKind, Severity
from tidymark.edits import remove_lines
from tidymark.rules.ad._orphans import alone
from tidymark.rule import FixAvailability, Rule

# an image without a target (`![]()`, `![图片]()`), a link without text that leads nowhere
# (`[]()`, `[](#)`, `[](javascript:;)`), alone on a line
_EMPTY = r"(?:!\[[^\[\]\n]{0,40}\]\(\s*\)|(?<!!)\[\s*\]\((?:\s*|#[^()\s]*|javascript:[^()\s]*)\))"
_LINE = re.compile(rf"^[ \t]{{0,3}}[*_]{{0,3}}{_EMPTY}(?:[ \t]*[*_]{{0,3}}[ \t]*{_EMPTY})*[ \t]*[*_]{{0,3}}[ \t]*$", re.M)


class EmptyRemains(Rule):
    """A line holds only an image without a target or a link without text.

    ## What it does
    Finds lines made only of images whose address is empty (`![]()`, `![图片]()`: the
    clipper lost a lazy-loaded image) and links without text that lead nowhere (`[]()`,
    `[](#)`, `[](javascript:;)`: a wrapper whose content was a button).  A link without text
    to a page (`[](https://…)`) is not reported: in an author's index of posts it can be the
    only link to each post.  Nothing of them
    is shown when the note is rendered; they are the remains of the page's widgets (a reward
    box, a profile card, a share button).  An image with an address (`![](figure.png)`) or
    a link with text is content and is not reported, nor is anything in code, in a table or
    in an HTML comment, nor a line inside a paragraph or a list (removing it would join
    what is around it).

    ## Why is this bad?
    The lines render as nothing (or as a broken image), break paragraphs apart, and keep
    the traces of the page's chrome in the note.

    ## Example
    ```markdown
    The last paragraph of the article.

    ![]()

    [](javascript:;)
    ```

    Use instead:
    ```markdown
    The last paragraph of the article.
    ```

    ## Fix safety
    Safe: there is nothing to see or to follow in such a line (the link leads nowhere);
    the fix removes the line and nothing else.
    """

    code = "AD008"
    name = "empty-remains"
    summary = "Line with only an image without address or a link that leads nowhere"
    default_severity = Severity.INFO
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"
    needs_any = ("](",)

    def check(self, doc):
        text = doc.text
        for m in _LINE.finditer(text, doc.body_start):
            line0 = doc.lines.line_of(m.start())
            if doc.is_protected(m.start()) or not alone(doc, line0):
                continue  # in code; in a paragraph or a list, where removing it would join what is around
            where = f"line {line0 + 1}"
            yield self.diagnostic(doc.lines.lines_span(line0, line0 + 1), f"Empty image or link ({where})",
                                  fix=Fix.safe(f"Remove the empty line ({where})", remove_lines(doc, line0, line0 + 1),
                                               kind=FixKind.REMOVE_SCAFFOLDING))
