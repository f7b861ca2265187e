from __future__ import annotations

from tidymark import boilerplate as bp
from tidymark import platforms
from tidymark.diagnostics import Severity
from tidymark.rule import Rule

# A line at least this wide (visible characters, a CJK character counting two) is a
# sentence of article text: a note holding one is not a failed clip.
ARTICLE_WIDTH = 40


class FailedClip(Rule):
    """The note holds no article: the clipper saved an error page or a login wall.

    ## What it does
    Reports a note whose body is only an error page ("There isn't a GitHub Pages site
    here.", "Either this page is private or doesn't exist.", `该内容已被发布者删除`), a login or
    bot wall ("Don't miss what's happening", "Just a moment...", `环境异常`) and page chrome
    around it: a line of the failed-clip table (`rules/data/platforms.yaml`) and no line of
    article text besides (no line of `40` or more visible characters other than the error
    page's own lines, headings aside).  A note that quotes such a message inside its own
    text, a short personal note or a summary is not reported.

    ## Why is this bad?
    The article was never saved: the note looks like a clip but holds nothing to read.
    Clip the page again (logged in, or from a reader view) or delete the note.

    ## Example
    ```markdown
    ---
    url: https://example.github.io/notes/
    ---
    # 404

    **There isn't a GitHub Pages site here.**
    ```

    Use instead:
    ```markdown
    ---
    url: https://example.github.io/notes/
    ---
    Notes on moving a static site, saved again once the page was back.
    ```
    """

    code = "DM010"
    name = "failed-clip"
    summary = "The note holds no article: the clipper saved an error page or a login wall"
    default_severity = Severity.WARNING

    def check(self, doc):
        table = platforms.load_table()
        if not table.failed_clips:
            return
        lines = doc.lines
        count = lines.line_count
        start = lines.line_of(doc.body_start) if doc.body_start < len(doc.text) else count
        if count - start > 60:
            return  # an error page is short; a long body holds something else
        hit = None
        rows = []
        plains = []
        for i in range(start, count):
            raw = lines.line_text(i)
            if not raw.strip():
                continue
            p = platforms.plain(raw)
            plains.append((i, raw, p))
            for row in table.failed_clips:
                if any(rx.fullmatch(p) for rx in row.patterns):
                    rows.append(row)
                    if hit is None:
                        hit = (i, row, p)
                    break
        if hit is None:
            return
        companions = [rx for row in rows for rx in (*row.patterns, *row.companions)]
        for i, raw, p in plains:
            if any(rx.fullmatch(p) for rx in companions) or platforms.is_heading(raw):
                continue
            if bp.width(bp.normalize(raw)) >= ARTICLE_WIDTH:
                return
        if doc.is_protected(lines.lines_span(hit[0], hit[0] + 1)):
            return
        line0, row, label = hit
        yield self.diagnostic(lines.lines_span(line0, line0 + 1),
                              f"No article in the body: only {row.name} ('{bp.display(label)}')")
