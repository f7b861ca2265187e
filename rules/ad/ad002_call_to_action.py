from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from tidymark.phrases import boilerplate as bp
from tidymark.diagnostics import Applicability, Fix, FixKind, Severity
from tidymark.rule import FixAvailability, Rule

_STEP = re.compile(r"\d{1,2}\s?[、.)]")
_SEPARATORS = re.compile(r"[|·•,/:;、()\[\]-]+")
# what sets an end-of-article marker apart from the word: "- END -", "—END—", "**END**"
_MARKER_DECORATION = re.compile(r"[-—–=~·•*_#]")

SAFE = Applicability.SAFE
UNSAFE = Applicability.UNSAFE


class CallToAction(Rule):
    """A follow, subscribe, share or engagement call to action was saved with the article.

    ## What it does
    Finds lines and paragraphs that are, as a whole, a call to action addressed to the
    reader of the original page: follow and star prompts (`点击上方蓝字，关注星标不迷路`),
    QR-code prompts (`长按识别二维码`), engagement requests (`期待你的分享、点赞、在看`),
    `阅读原文` endings, an `END` marker closing the article (in capitals, or set off by
    dashes or emphasis: `- End -`; a plain `end` is a word), newsletter prompts (`Thanks for
    reading …! Subscribe for free …`, `[Subscribe now](…/subscribe)`, `Share this post`),
    e-mail footers (`You're receiving this because …`, `Unsubscribe`, `update your
    preferences`) and social share lines (`Share on Twitter | Facebook`, or only links to
    share endpoints; a line made only of words that are ordinary words too, such as
    `line x` or `print link`, is the note's own text).

    The whole line must be the call to action (after Markdown emphasis, emoji and
    punctuation are set aside) and it must be short.  The same words inside running prose
    are content: "you can subscribe a replica to a publication", "我最关注的是价格",
    "请点击【阅读原文】，复制代码" in a tutorial.  Lines that point to content missing from the
    clip (code, downloads, attachments) are not reported.

    ## Why is this bad?
    The prompt speaks to the visitor of a web page that is no longer there: the buttons,
    QR codes and "click below" targets did not survive the clip.  In a note they are noise
    that repeats across every article from the same source and pollutes search.

    ## Example
    ```markdown
    点击上方蓝字，关注星标不迷路

    An article paragraph long enough to be real running text, which a reader would
    recognise as the content of the note rather than a prompt.

    **期待你的分享、点赞、在看**
    ```

    Use instead:
    ```markdown
    An article paragraph long enough to be real running text, which a reader would
    recognise as the content of the note rather than a prompt.
    ```

    ## Fix safety
    Safe in the head of the body (no prose before the line) and in its tail (no prose
    after it), and anywhere for exact platform templates such as Substack's "Thanks for
    reading …! Subscribe for free to receive new posts and support my work."  Adjacent
    calls to action are removed together, with the thematic break between them and a
    thematic break left dangling at the end of the note.  The removal takes what the call
    leaves orphaned: separators, decoration lines and empty links around it, a lone button
    link below it and, in the tail of the body, the images below it (the QR code under
    "长按识别二维码"); an image above it (the article's last figure), or below it in the
    head (the article's cover), stays.

    Unsafe in the middle of the article or of a paragraph, in a note without any prose,
    for a heading that introduces prose or is a single word (it may be a section of the
    note's own outline), and for prompts that pay out something for following (a keyword
    to reply with, a download code, one step of numbered instructions): the reader may
    want that information.  `END` is only reported in the tail.

    ## Options
    - `extra-phrases`: more call-to-action lines, compared after normalisation (case,
      emphasis, emoji and surrounding punctuation are ignored)
    - `extra-patterns`: more calls to action as regular expressions matched against the
      whole normalised line (lower case)
    - `languages`: the lexicons to use, e.g. `["zh", "en"]` (default: all of them)
    - `max-width`: the widest line that can be a call to action, in columns (a CJK
      character counts two; default 120)
    """

    code = "AD002"
    name = "call-to-action"
    summary = "Follow / subscribe / share call to action captured with the article"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"

    @dataclass(frozen=True)
    class Options:
        extra_phrases: tuple[str, ...] = ()
        extra_patterns: tuple[str, ...] = ()
        languages: tuple[str, ...] = ()
        max_width: int = bp.MAX_LINE_WIDTH

        def __post_init__(self):
            bp.check_patterns(self.extra_patterns, "AD002 option `extra-patterns`")
            bp.check_languages(self.languages, "AD002 option `languages`")

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        langs = o.languages
        self._cta = bp.matcher("call_to_action", langs, o.extra_phrases, o.extra_patterns)
        self._template = bp.matcher("call_to_action_template", langs)
        self._end = bp.matcher("call_to_action_end", langs)
        self._gated = bp.matcher("call_to_action_gated", langs)
        self._keep = bp.matcher("call_to_action_keep", langs)
        self._share_words = bp.matcher("share_words", langs)
        self._weak_share_words = bp.matcher("share_words_weak", langs)
        self._share_urls = bp.matcher("share_urls", langs)
        self._button_text = bp.matcher("cta_link_text", langs)
        self._button_urls = bp.matcher("cta_link_urls", langs)

    @cached_property
    def _gates(self) -> tuple[bp.LineGate, ...] | None:
        urls = set(self._share_urls.phrases | self._button_urls.phrases)
        for pat in self._share_urls.patterns + self._button_urls.patterns:
            clauses = bp.pattern_clauses(pat)
            if clauses is None:
                return None  # a link target pattern without any word: no gate
            urls.update(t.text for t in clauses[0])
        return (bp.LineGate(self._cta, self._template, self._end, self._button_text, urls=tuple(sorted(urls))),
                bp.LineGate(self._share_words, min_hits=2))

    def _gate_lines(self, doc) -> frozenset[int] | None:
        """Lines that can be calls to action (None: any line can)."""
        if self._gates is None:
            return None
        found = [g.lines(doc) for g in self._gates]
        if any(f is None for f in found):
            return None
        return bp.confirm_lines(doc, frozenset().union(*found), self._text_match)

    def _text_match(self, raw: str) -> bool:
        """Can a line without links be a call to action, judging by its text alone?"""
        norm = bp.normalize(raw)
        if not norm or bp.width(norm) > self.options.max_width or self._keep.search(norm):
            return False
        return (self._template.full(norm) or self._end.full(norm) or self._share_line(norm)
                or self._cta.full(norm))

    # -- one line ------------------------------------------------------------------------
    def _share_line(self, norm: str) -> bool:
        """Only share words / network names and separators, at least two of them."""
        text = _SEPARATORS.sub(" ", norm)
        regex = self._share_words.regex
        if regex is None:
            return False
        hits = 0
        strong = False
        rest = []
        pos = 0
        for m in regex.finditer(text):
            before = text[m.start() - 1] if m.start() else " "
            after = text[m.end()] if m.end() < len(text) else " "
            if (before.isalnum() and before.isascii()) or (after.isalnum() and after.isascii()):
                continue  # part of a longer word
            rest.append(text[pos:m.start()])
            pos = m.end()
            hits += 1
            strong = strong or m.group() not in self._weak_share_words.phrases
        rest.append(text[pos:])
        # words that are ordinary words too ("line x", "print link") are not a share line alone
        return hits >= 2 and strong and not "".join(rest).strip()

    def _buttons(self, doc, span) -> bool:
        """Every link of a link-only line is a share link or a newsletter button."""
        text = doc.text
        links = [e for e in bp.inlines_in(doc, span) if e.kind == "link"]
        if not links:
            return False
        for e in links:
            if self._share_urls.search(e.url.lower()):
                continue
            label = bp.normalize(e.text(text))
            if label and self._button_text.full(label):
                continue
            if bp.width(label) <= 24 and self._button_urls.search(e.url.lower()):
                continue
            return False
        return True

    def _line_kind(self, doc, norm: str, span) -> str | None:
        """template / cta / gated / end, or None when the line is not a call to action."""
        kind = self._match(doc, norm, span)
        if kind is None or doc.is_protected(span):
            return None
        if bp.visible_width(doc.text[span.start:span.end]) > self.options.max_width:
            return None
        return kind

    def _match(self, doc, norm: str, span) -> str | None:
        if not norm or bp.width(norm) > self.options.max_width:
            return None
        if self._keep.search(norm):
            return None
        info = bp.link_info(doc, span)
        if info.links and info.only:
            return "cta" if self._buttons(doc, span) else None
        if self._template.full(norm):
            return "template"
        if self._end.full(norm):
            return "end" if _marker_shape(doc.text[span.start:span.end]) else None
        if self._share_line(norm):
            return "cta"
        if self._cta.full(norm):
            # a prompt that pays out something, or one step of numbered instructions
            return "gated" if self._gated.search(norm) or _STEP.match(norm) else "cta"
        return None

    @staticmethod
    def _level(kind: str, body, i: int) -> Applicability | None:
        if kind == "template":
            return SAFE
        if kind == "gated":
            return UNSAFE
        if kind == "end":
            return SAFE if body.in_tail(i) else None
        return SAFE if body.in_head(i) or body.in_tail(i) else UNSAFE

    # -- blocks ----------------------------------------------------------------------------
    def _candidates(self, doc, body, gate: frozenset[int] | None):
        lines = doc.lines
        for i, b in enumerate(body.blocks):
            if gate is not None and not any(k in gate for k in range(b.line0, b.line1)):
                continue  # no line of the block can be a call to action
            if b.kind == "heading":
                if b.tag == "h1":  # the title, not a prompt
                    continue
                raw = doc.inline_content(b)
                kind = self._line_kind(doc, bp.normalize(raw), b.span)
                level = self._level(kind, body, i) if kind else None
                if level == SAFE and kind != "template":
                    norm = bp.normalize(raw)
                    introduces_prose = i + 1 < len(body.blocks) and body.prose[i + 1]
                    one_word = (norm.isascii() and " " not in norm) or bp.width(norm) <= 4
                    if introduces_prose or one_word:
                        # a section of the note's own outline, maybe ("Comments")
                        level = UNSAFE
                if level is not None:
                    yield bp.Candidate(b.line0, b.line1, i, True, level, bp.display(raw))
                continue
            if b.kind not in ("paragraph", "blockquote", "bullet_list", "ordered_list"):
                continue
            levels: list[Applicability | None] = []
            kinds: list[str | None] = []
            labels: list[str] = []
            blank: list[bool] = []
            for line0 in range(b.line0, b.line1):
                norm = body.norm(line0)
                span = lines.lines_span(line0, line0 + 1)
                empty = not norm and not bp.inlines_in(doc, span)
                blank.append(empty)
                kind = None if empty else self._line_kind(doc, norm, span)
                kinds.append(kind)
                levels.append(self._level(kind, body, i) if kind else None)
                labels.append(bp.display(lines.line_text(line0)) if kind else "")
            flagged = [lv is not None or e for lv, e in zip(levels, blank)]
            if not any(lv is not None for lv in levels):
                continue
            if all(flagged):
                level = min(lv for lv in levels if lv is not None)
                first = next(k for k, lv in enumerate(levels) if lv is not None)
                yield bp.Candidate(b.line0, b.line1, i, True, level, labels[first],
                                   sum(lv is not None for lv in levels))
                continue
            if b.kind != "paragraph":
                continue  # only whole quotes and lists
            flags = [lv is not None for lv in levels]
            alone = bp.standalone_lines(doc, b, flags)
            for k, ok in enumerate(alone):
                if not ok:
                    continue
                level = levels[k]
                if level == SAFE and kinds[k] != "template":
                    # the head or tail of the body, but also of the paragraph itself
                    at_start = all(flags[:k]) and body.in_head(i)
                    at_end = all(flags[k + 1:]) and body.in_tail(i)
                    if not (at_start or at_end):
                        level = UNSAFE
                yield bp.Candidate(b.line0 + k, b.line0 + k + 1, i, False, level, labels[k])

    def check(self, doc):
        gate = self._gate_lines(doc)
        if gate is not None and not gate:
            return  # nothing can match: no need to parse the document
        body = bp.analyze(doc)
        for group in bp.merge_candidates(body, list(self._candidates(doc, body, gate))):
            edit, a, b = bp.group_edit(doc, body, group)
            where = bp.lines_label(a, b)
            count = sum(c.count for c in group)
            label = group[0].label
            if count == 1:
                message = f"Call to action '{label}' ({where})"
            else:
                message = f"Calls to action '{label}' and {count - 1} more ({where})"
            title = f"Remove the call{'s' if count > 1 else ''} to action ({where})"
            make = Fix.safe if group[0].level == SAFE else Fix.unsafe
            yield self.diagnostic(bp.content_span(doc, a, b), message,
                                  fix=make(title, edit, kind=FixKind.REMOVE_CONTENT))


def _marker_shape(raw: str) -> bool:
    """Does the line look like an end-of-article marker rather than the word: written in
    capitals (`END`), set off by dashes or emphasis (`- End -`, `**end**`), or in a script
    without letter case?"""
    letters = [c for c in raw if c.isalpha()]
    if not any(c.isupper() or c.islower() for c in letters):
        return True
    return all(c.isupper() for c in letters if c.isupper() or c.islower()) or bool(_MARKER_DECORATION.search(raw))
