from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from tidymark.phrases import boilerplate as bp
from tidymark.diagnostics import Applicability, Fix, FixKind, Severity
from tidymark.rule import FixAvailability, Rule

_MAX_WIDTH = 300


class RepublicationNotice(Rule):
    """A republication, copyright or image-credit notice of the original site.

    ## What it does
    Finds lines that are, as a whole, a notice about where the article was published and
    on what terms: `本文由…原创/授权发布于…，未经许可，禁止转载`, `转载请注明出处`,
    `题图来自 Unsplash，基于 CC0 协议`, CSDN's `版权声明：本文为博主原创文章，遵循 CC 4.0 BY-SA
    版权协议…`, `著作权归作者所有…`, `本文首发于…`, and "This article was originally published
    on …", "Republished with permission", "Read the original article" (plus the other
    lexicon languages).

    Author and editor credit lines (`作者丨… 编辑丨…`) are content and are not reported;
    when a notice shares a paragraph with a credit line (on the next line, after a hard
    break), only the notice's line is reported.  A sentence that mentions where something
    was first published inside running prose is not a notice.

    ## Why is this bad?
    The notice addresses the visitor of the publishing site.  In a personal note it is
    clutter, repeated in every article from the same site.

    ## Example
    ```markdown
    An article paragraph long enough to be real running text, which a reader would
    recognise as the content of the note.

    本文由 @林晚 原创发布于产品笔记网，未经作者许可，禁止转载。
    ```

    Use instead:
    ```markdown
    An article paragraph long enough to be real running text, which a reader would
    recognise as the content of the note.
    ```

    ## Fix safety
    Always unsafe: some readers must keep the notice (it states the licence or where the
    text came from), so it is removed only with `--unsafe-fixes`.  The fix removes the
    notice's line and what it leaves orphaned: separators, decoration lines and empty links
    around it, a lone button link below it (see AD002).

    ## Options
    - `extra-phrases`: more notice lines, compared after normalisation (case, emphasis,
      emoji and surrounding punctuation are ignored)
    - `extra-patterns`: more notices as regular expressions matched against the whole
      normalised line (lower case)
    - `languages`: the lexicons to use, e.g. `["zh", "en"]` (default: all of them)
    """

    code = "AD004"
    name = "republication-notice"
    summary = "Republication or copyright notice of the original site"
    default_severity = Severity.INFO
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "unsafe"

    @dataclass(frozen=True)
    class Options:
        extra_phrases: tuple[str, ...] = ()
        extra_patterns: tuple[str, ...] = ()
        languages: tuple[str, ...] = ()

        def __post_init__(self):
            bp.check_patterns(self.extra_patterns, "AD004 option `extra-patterns`")
            bp.check_languages(self.languages, "AD004 option `languages`")

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        self._notice = bp.matcher("republication", o.languages, o.extra_phrases, o.extra_patterns)

    @cached_property
    def _gate(self) -> bp.LineGate:
        return bp.LineGate(self._notice)

    def _is_notice(self, doc, body, line0: int, gate: frozenset[int] | None) -> bool:
        if gate is not None and line0 not in gate:
            return False
        norm = body.norm(line0)
        if not norm or bp.width(norm) > _MAX_WIDTH or not self._notice.full(norm):
            return False
        return not doc.is_protected(doc.lines.lines_span(line0, line0 + 1))

    def check(self, doc):
        gate = self._gate.lines(doc)
        if gate is not None and not gate:
            return  # nothing can match: no need to parse the document
        body = bp.analyze(doc)
        found: list[bp.Candidate] = []
        for i, b in enumerate(body.blocks):
            if b.kind not in ("paragraph", "blockquote"):
                continue
            flags = [self._is_notice(doc, body, line0, gate) for line0 in range(b.line0, b.line1)]
            if not any(flags):
                continue
            labels = {k: bp.display(doc.lines.line_text(b.line0 + k)) for k, f in enumerate(flags) if f}
            if all(flags):
                first = min(labels)
                found.append(bp.Candidate(b.line0, b.line1, i, True, Applicability.UNSAFE, labels[first], len(labels)))
                continue
            if b.kind != "paragraph":
                continue
            for k, ok in enumerate(bp.standalone_lines(doc, b, flags)):
                if ok:
                    found.append(bp.Candidate(b.line0 + k, b.line0 + k + 1, i, False, Applicability.UNSAFE,
                                              labels[k]))
        for group in bp.merge_candidates(body, found):
            edit, a, b_ = bp.group_edit(doc, body, group)
            where = bp.lines_label(a, b_)
            count = sum(c.count for c in group)
            label = group[0].label
            message = (f"Republication notice '{label}' ({where})" if count == 1
                       else f"Republication notices '{label}' and {count - 1} more ({where})")
            yield self.diagnostic(bp.content_span(doc, a, b_), message,
                                  fix=Fix.unsafe(f"Remove the notice ({where})", edit, kind=FixKind.REMOVE_CONTENT))
