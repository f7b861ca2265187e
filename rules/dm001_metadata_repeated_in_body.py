from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from tidymark.clipper import LABELS, body_value_forms, norm, value_forms
from tidymark.diagnostics import Fix, FixKind
from tidymark.edits import remove_lines
from tidymark.rule import FixAvailability, Rule

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

    def check(self, doc):
        fm = doc.front_matter
        if fm is None or fm.error is not None:
            return
        values = fm.values
        if not values:
            return
        by_key = {_key_norm(str(k)): k for k in values}
        labels = dict(LABELS)
        for label, keys in (self.options.labels or {}).items():
            labels[_key_norm(label)] = tuple(keys)
        forms_cache: dict = {}
        lines = doc.lines
        hits: list[tuple[int, object]] = []
        # the lines first, from the text alone: most notes need no Markdown parse for this
        for line0 in _colon_lines(doc):
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
            if not keys:
                continue
            seen = body_value_forms(m.group("value"))
            for k in keys:
                if k not in forms_cache:
                    forms_cache[k] = value_forms(values[k]) | _raw_forms(fm, k)
                if seen & forms_cache[k]:
                    hits.append((line0, k))
                    break
        if not hits:
            return
        # then only lines of paragraphs, lists and quotes count
        blocks = [b for b in doc.blocks if b.kind in ("paragraph", "bullet_list", "ordered_list", "blockquote")]
        starts = [b.line0 for b in blocks]
        for line0, hit in hits:
            i = bisect.bisect_right(starts, line0) - 1
            if i < 0 or line0 >= blocks[i].line1:
                continue
            span = lines.lines_span(line0, line0 + 1)
            if doc.is_protected(span):
                continue
            yield self.diagnostic(
                span, f"Line repeats front-matter `{hit}` (line {line0 + 1})",
                fix=Fix.safe(f"Remove the repeated `{hit}` line", remove_lines(doc, line0, line0 + 1),
                             kind=FixKind.REMOVE_SCAFFOLDING))


def _colon_lines(doc) -> list[int]:
    """0-based body lines holding a colon (ASCII or full-width), in order."""
    text = doc.text
    start = doc.body_start
    index = doc.lines
    found: set[int] = set()
    for colon in (":", "："):
        i = text.find(colon, start)
        while i != -1:
            line0 = index.line_of(i)
            found.add(line0)
            i = text.find(colon, index.line_start(line0 + 1))
    return sorted(found)


def _raw_forms(fm, key) -> set[str]:
    """The value as written in the YAML (dates and numbers keep their spelling)."""
    e = fm.get(str(key))
    if e is None or not e.is_scalar:
        return set()
    return {norm(e.scalar.replace("\x07", ""))}
