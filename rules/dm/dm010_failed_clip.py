from __future__ import annotations

from tidymark.phrases import boilerplate as bp
from tidymark.rules import _platforms as platforms
from tidymark.rules._clipper import same_title
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
    page's own lines, headings aside).  A note of a known platform whose every line but its
    headings is that platform's chrome, as the platform table lists it (a tip appeal, a
    share row), is reported too.  A note that quotes such a message inside its own
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
            yield from self._only_chrome(doc, table, plains)
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

    def _only_chrome(self, doc, table, plains):
        """A note of a recognised platform whose every line but its headings is that
        platform's chrome (as the platform table lists it)."""
        if not plains:
            return
        rows = platforms.recognised(doc, table)
        if not rows:
            return
        removed: set[int] = set()
        for r in platforms.find_removals(doc, table, rows):
            removed.update(range(r.first0, r.last0))
        if not removed:
            return
        fm = doc.front_matter
        title = fm.values.get("title") if fm is not None and isinstance(fm.values, dict) else None
        title = title if isinstance(title, str) else ""

        def ignorable(i: int, raw: str) -> bool:
            return i in removed or platforms.is_heading(raw) or bool(title and same_title(title, raw))

        if all(ignorable(i, raw) for i, raw, _ in plains):
            first = min(removed)
            names = sorted({p.name for p in rows})
            yield self.diagnostic(doc.lines.lines_span(first, first + 1),
                                  f"No article in the body: only page chrome of {', '.join(names)} "
                                  f"('{bp.display(platforms.plain(doc.lines.line_text(first)))}')")
