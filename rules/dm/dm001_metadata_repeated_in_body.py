from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property

from tidymark.phrases.boilerplate import in_fenced_code
from tidymark.rules._clipper import LABELS, body_value_forms, norm, value_forms
from tidymark.diagnostics import Fix, FixKind
from tidymark.edits import remove_lines
from tidymark.rule import FixAvailability, Rule
from tidymark.source import LineIndex

# `label: value`, optionally as a list item or quote line, label optionally bold.
_LINE = re.compile(
    r"^(?:(?:[-*+]|\d+[.)])[ \t]+|>[ \t]*)?"
    r"(?:\*\*|__)?(?P<label>[^:：*\[\]\n]{1,32}?)(?:\*\*|__)?[ \t]*[:：](?:\*\*|__)?[ \t]*"
    r"(?P<value>\S.{0,500}?)[ \t]*$")


def _key_norm(s: str) -> str:
    return re.sub(r"[\s_-]+", " ", s.strip().casefold())


class MetadataRepeatedInBody(Rule):
    """A body line repeats a front-matter field with the same value.

    ## What it does
    Finds lines in the body that restate a front-matter field: `date_saved: …` under an
    Omnivore template, Readwise's `- Author: [[…]]` / `- URL: …` metadata list, an RSS
    bot's `> **来源**: …`, Chinese labels such as 作者 / 来源 / 原文链接 / 发布时间 / 抓取日期.
    A line is reported only when it is a whole line of the form `label: value` (also as a
    list item or quote line, label optionally bold) whose label names the field (the key
    itself or a known synonym) and whose value equals the front-matter value (after
    normalising whitespace, quotes, wikilinks, link syntax and date formats).

    ## Why is this bad?
    The metadata already lives in the front matter, where tools read it.  The body copy
    renders as clutter above the article and goes stale when the field is edited.

    ## Example
    ```markdown
    ---
    author: Ana Ruiz
    date_saved: 2024-10-13 20:31:09
    ---

    date_saved: 2024-10-13 20:31:09

    - Author: [[Ana Ruiz]]

    The article starts here.
    ```

    Use instead:
    ```markdown
    ---
    author: Ana Ruiz
    date_saved: 2024-10-13 20:31:09
    ---

    The article starts here.
    ```

    ## Fix safety
    Safe: the value is provably the same as in the front matter, so removing the line
    loses nothing.  A label whose value differs is not reported.

    ## Options
    - `labels`: extra body labels mapped to front-matter keys, e.g. `{"Quelle": ["source"]}`
    """

    code = "DM001"
    name = "metadata-repeated-in-body"
    summary = "Body line repeats a front-matter field"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"
    needs_any = (":", "：")

    @dataclass(frozen=True)
    class Options:
        labels: dict[str, tuple[str, ...]] = None  # type: ignore[assignment]

    @cached_property
    def _labels(self) -> dict[str, tuple[str, ...]]:
        labels = dict(LABELS)
        for label, keys in (self.options.labels or {}).items():
            labels[_key_norm(label)] = tuple(keys)
        return labels

    @cached_property
    def _label_keys(self) -> dict[str, frozenset[str]]:
        """Each label with the normalised keys it may stand for."""
        return {label: frozenset(_key_norm(k) for k in keys) for label, keys in self._labels.items()}

    def check(self, doc):
        fm = doc.front_matter
        if fm is None or fm.error is not None:
            return
        values = fm.values
        if not values:
            return
        by_key = {_key_norm(str(k)): k for k in values}
        labels = self._labels
        lines = doc.lines
        # the labels that can name a key of this front matter
        wanted = set(by_key) | {label for label, keys in self._label_keys.items() if not keys.isdisjoint(by_key)}
        # 1. lines that name a front-matter key, from the text alone (most notes have none,
        #    and need no Markdown parse and no positions in the YAML for this rule)
        named: list[tuple[int, list, str]] = []
        for line0 in _label_lines(doc, wanted):
            if in_fenced_code(doc, lines.line_start(line0)):
                continue  # a code block's line: never reported (known without a parse)
            raw = lines.line_text(line0).strip()
            if not raw or len(raw) > 600:
                continue
            m = _LINE.match(raw)
            if not m:
                continue
            label = _key_norm(m.group("label").strip("_"))
            keys = []
            if label in by_key:
                keys.append(by_key[label])
            for k in labels.get(label, ()):
                real = by_key.get(_key_norm(k))
                if real is not None and real not in keys:
                    keys.append(real)
            if keys:
                named.append((line0, keys, m.group("value")))
        if not named:
            return
        # 2. the same value as the front matter's, as read; or maybe as written there (only
        #    the YAML's positions can tell, so first a cheap look at its text)
        forms: dict = {}
        fm_text = None
        found: list[tuple[int, object, bool]] = []
        for line0, keys, value in named:
            seen = body_value_forms(value)
            hit = None
            for k in keys:
                if k not in forms:
                    forms[k] = value_forms(values[k])
                if seen & forms[k]:
                    hit = k
                    break
            if hit is not None:
                found.append((line0, hit, True))
                continue
            if fm_text is None:
                fm_text = norm(fm.content)
            if any(f and f in fm_text for f in seen):
                found.append((line0, keys, False))
        if not found:
            return
        # 3. only lines of paragraphs, lists and quotes count
        blocks = [b for b in doc.blocks if b.kind in ("paragraph", "bullet_list", "ordered_list", "blockquote")]
        starts = [b.line0 for b in blocks]
        raw_forms: dict = {}
        by_line = {line0: value for line0, _, value in named}
        for line0, what, sure in found:
            i = bisect.bisect_right(starts, line0) - 1
            if i < 0 or line0 >= blocks[i].line1:
                continue
            hit = what if sure else None
            if not sure:
                seen = body_value_forms(by_line[line0])
                for k in what:
                    if k not in raw_forms:
                        raw_forms[k] = _raw_forms(fm, k)
                    if seen & raw_forms[k]:
                        hit = k
                        break
            if hit is None:
                continue
            span = lines.lines_span(line0, line0 + 1)
            if doc.is_protected(span):
                continue
            yield self.diagnostic(
                span, f"Line repeats front-matter `{hit}` (line {line0 + 1})",
                fix=Fix.safe(f"Remove the repeated `{hit}` line", remove_lines(doc, line0, line0 + 1),
                             kind=FixKind.REMOVE_SCAFFOLDING))


# What may stand before a label on its line (a list marker, a quote marker, bold)
_LABEL_PREFIX = re.compile(r"[^\S\n]*(?:(?:[-*+]|\d+[.)])[ \t]+|>[ \t]*)?(?:\*\*|__)?[\s_]*")


def _label_lines(doc, labels: set[str]) -> list[int]:
    """0-based body lines that may be `label: value` lines for one of ``labels`` (normalised
    with _key_norm), in order: lines where the label's first word opens the line."""
    low = doc.body_lf.casefold()
    index = None
    first_line = doc.lines.line_of(doc.body_start) if doc.body_start else 0
    found: set[int] = set()
    for word in {label.split(" ", 1)[0] for label in labels if label}:
        i = low.find(word)
        while i != -1:
            start = low.rfind("\n", 0, i) + 1
            if i - start <= 40 and _LABEL_PREFIX.fullmatch(low, start, i):
                if index is None:
                    index = LineIndex(low)
                found.add(first_line + index.line_of(start))
            i = low.find(word, i + 1)
    return sorted(found)


def _raw_forms(fm, key) -> set[str]:
    """The value as written in the YAML (dates and numbers keep their spelling)."""
    e = fm.get(str(key))
    if e is None or not e.is_scalar:
        return set()
    return {norm(e.scalar.replace("\x07", ""))}
