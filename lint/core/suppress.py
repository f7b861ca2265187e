"""Inline suppressions: HTML comments (hidden by every renderer) and a front-matter key.

    <!-- tidymark-disable DM002,AD -->      … <!-- tidymark-enable DM002,AD -->
    <!-- tidymark-disable -->               (every rule until tidymark-enable)
    <!-- tidymark-disable-next-line IM001 -->
    <!-- tidymark-disable-file PB001 -->
    ---
    tidymark:
      ignore: [PB001]
    ---

Codes may be rule codes, prefixes (``AD``) or rule names.  A comment that suppresses
nothing is reported by TM100 (unused-suppression), whose safe fix removes it.
Comments inside code are examples, not suppressions.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from tidymark.core import selectors
from tidymark.markdown import code_spans
from tidymark.source import Span

_COMMENT = re.compile(r"<!--[ \t]*tidymark-(disable-next-line|disable-file|disable|enable)\b([^>]*?)[ \t]*-->")
_SPLIT = re.compile(r"[\s,]+")


@dataclass
class Suppression:
    kind: str                     # disable, enable, disable-next-line, disable-file, front-matter
    codes: tuple[str, ...]        # empty = every rule
    span: Span                    # the comment
    line: int                     # 1-based line of the comment
    used: set[tuple[str, str]] = field(default_factory=set)  # (code, name) silenced

    def covers(self, code: str, name: str) -> bool:
        return not self.codes or any(_matches(c, code, name) for c in self.codes)


def _matches(sel: str, code: str, name: str) -> bool:
    return selectors.matches(sel, code, name)


@dataclass
class Suppressions:
    items: list[Suppression]
    # (start_line, end_line_exclusive, suppression) ranges of disable … enable
    ranges: list[tuple[int, float, Suppression]]
    next_line: dict[int, list[Suppression]]
    file: list[Suppression]

    def suppressor(self, code: str, name: str, line: int) -> Suppression | None:
        for s in self.file:
            if s.covers(code, name):
                return s
        for s in self.next_line.get(line, ()):
            if s.covers(code, name):
                return s
        for a, b, s in self.ranges:
            if a <= line < b and s.covers(code, name):
                return s
        return None


def parse(doc) -> Suppressions:
    text = doc.text
    items: list[Suppression] = []
    fm = doc.front_matter
    if fm is not None and fm.error is None:
        conf = fm.values.get("tidymark")
        if isinstance(conf, dict):
            ignore = conf.get("ignore")
            if isinstance(ignore, str):
                ignore = [ignore]
            if isinstance(ignore, list):
                items.append(Suppression("front-matter", tuple(str(c) for c in ignore),
                                         fm.span, fm.first_line))
    if "tidymark-" in text:
        code_blocks = doc.code_blocks
        for m in _COMMENT.finditer(text, doc.body_start):
            span = Span(m.start(), m.end())
            if any(c.start <= span.start < c.end for c in code_blocks):
                continue
            line0 = doc.lines.line_of(span.start)
            ls = doc.lines.line_start(line0)
            if any(c.start <= span.start < c.end for c in code_spans(text, ls, doc.lines.line_end(line0))):
                continue
            codes = tuple(c for c in _SPLIT.split(m.group(2).strip()) if c)
            items.append(Suppression(m.group(1), codes, span, line0 + 1))
    ranges: list[tuple[int, float, Suppression]] = []
    next_line: dict[int, list[Suppression]] = {}
    files: list[Suppression] = []
    open_: list[Suppression] = []
    for s in items:
        if s.kind in ("disable-file", "front-matter"):
            files.append(s)
        elif s.kind == "disable-next-line":
            nxt = s.line + 1
            # the next non-blank line
            while nxt <= doc.lines.line_count and not doc.lines.line_text(nxt - 1).strip():
                nxt += 1
            next_line.setdefault(nxt, []).append(s)
            next_line.setdefault(s.line, []).append(s)
        elif s.kind == "disable":
            open_.append(s)
        elif s.kind == "enable":
            still = []
            for o in open_:
                if not s.codes or (o.codes and set(o.codes) <= set(s.codes)):
                    ranges.append((o.line, s.line, o))
                    s.used.add(("enable", ""))
                else:
                    still.append(o)
            open_ = still
    for o in open_:
        ranges.append((o.line, float("inf"), o))
    return Suppressions(items, ranges, next_line, files)
