from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from tidymark.phrases import boilerplate as bp
from tidymark.rules import _platforms as platforms
from tidymark.diagnostics import Fix, FixKind, Severity
from tidymark.edits import remove_lines
from tidymark.rule import FixAvailability, Rule


class PlatformTemplate(Rule):
    """Page furniture of a known publishing platform captured with the article.

    ## What it does
    Recognises the platform a note was clipped from — by the host of its own URL (front
    matter `url`, `source`, … or a "Read Original" link) or by the platform's traces in the
    body — and removes that platform's own chrome, as listed in the platform table
    (`rules/data/platforms.yaml`): the WeChat page footer from `预览时标签不可点` or the reward
    box onward, the account box (`微信号`, `功能介绍`, `收录于话题`) and the swipe chrome
    (`继续滑动看下一个` … `向上滑动看下一个`); Substack's "reader-supported publication" appeal,
    "Thanks for reading …", share and subscribe buttons, the app banner, the "Discover more
    from …" box and the tag-only HTML left by its widgets; juejin's column box and
    recommendations; zhihu's `编辑于 …・IP 属地…` and `赞同 N` rows; CSDN, Medium, GitHub,
    X/Twitter, Ghost, beehiiv, ConvertKit, Mailchimp, WordPress, sspai, note.com and Qiita
    chrome.

    A row applies only to a note of its platform, and its patterns match whole lines: the
    same words inside a sentence of the article stay.  A block (from a start line to an end
    line, or to the end of the note) is left alone when one of its lines is as wide as a
    sentence of prose.  Short labels ("Email", "Notes", "Share") go only between lines the
    table removes.  A removal takes its orphans: the decoration lines around it (`____`,
    `* * *`, `▼`) and, where the row says so, the images right under it.

    ## Why is this bad?
    The platform's page furniture is not part of the article: in a personal library it is
    clutter repeated in every note from that platform.

    ## Example
    ```markdown
    ---
    url: https://example-letters.substack.com/p/slow-builds
    ---
    The build got slower every week, and nobody noticed until the release missed its slot.

    Example Letters is a reader-supported publication. To receive new posts and support my work, consider becoming a free or paid subscriber.
    ```

    Use instead:
    ```markdown
    ---
    url: https://example-letters.substack.com/p/slow-builds
    ---
    The build got slower every week, and nobody noticed until the release missed its slot.
    ```

    ## Fix safety
    Each template of the table says whether its removal is safe (the platform is recognised
    and the template is anchored on a line only that platform prints) or unsafe (a date
    line such as zhihu's `编辑于 …・IP 属地…`, which may be the only date the note has).  The
    fix removes the matched lines and their orphans, nothing else.

    ## Options
    - `table`: a YAML file of more platform rows (the format of `rules/data/platforms.yaml`);
      a row with the id of a built-in row replaces it
    - `ignore-platforms`: ids of platform rows not to apply, e.g. `["medium"]`
    """

    code = "AD010"
    name = "platform-template"
    summary = "Page furniture of a known publishing platform captured with the article"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"

    @dataclass(frozen=True)
    class Options:
        table: str = ""
        ignore_platforms: tuple[str, ...] = ()

        def __post_init__(self):
            if self.table:
                _extra_rows(self.table)

    @cached_property
    def _table(self) -> platforms.Table:
        extra = _extra_rows(self.options.table) if self.options.table else None
        return platforms.load_table(extra=extra)

    def check(self, doc):
        table = self._table
        rows = platforms.recognised(doc, table)
        if self.options.ignore_platforms:
            rows = tuple(r for r in rows if r.id not in self.options.ignore_platforms)
        if not rows:
            return
        for r in platforms.find_removals(doc, table, rows):
            where = bp.lines_label(r.first0, r.last0)
            message = f"{r.platform.name}: {r.template.id} '{bp.display(r.label)}' ({where})"
            edit = remove_lines(doc, r.first0, r.last0)
            title = f"Remove the {r.platform.name} {r.template.id} ({where})"
            fix = (Fix.safe if r.safe else Fix.unsafe)(title, edit, kind=FixKind.REMOVE_CONTENT)
            yield self.diagnostic(bp.content_span(doc, r.first0, r.last0), message, fix=fix)


def _extra_rows(path: str) -> list:
    """The platform rows of a user's table file (``ValueError`` naming the file and row)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"AD010 option `table`: cannot read {path}: {exc}") from None
    rows = data.get("platforms") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f"AD010 option `table`: {path} needs a `platforms` list")
    for i, row in enumerate(rows, 1):
        platforms.parse_platform(row, f"#{i} in {path}")
    return rows
