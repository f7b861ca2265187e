"""The blocks a run's fixes remove (or would remove, for ``check``), with a few lines of
context, computed where the document is (the worker) for the HTML report."""

from __future__ import annotations

from tidymark.diagnostics import Applicability, FixKind

CONTEXT_LINES = 2
REMOVAL_KINDS = (FixKind.REMOVE_CONTENT, FixKind.REMOVE_SCAFFOLDING)


def _subtract(span, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``span`` not covered by the ``taken`` intervals."""
    parts = [(span.start, span.end)]
    for a, b in taken:
        nxt = []
        for s, e in parts:
            if b <= s or e <= a:
                nxt.append((s, e))
                continue
            if s < a:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        parts = nxt
    return parts


def removals(original: str, pairs, threshold: Applicability = Applicability.SAFE) -> list[dict]:
    """Removed blocks from (diagnostic, spans-in-original) pairs, with context lines, by line.

    Text is listed once: a span that overlaps one listed before (two fixes offering to
    remove the same lines, or a later pass's edit mapped back over an earlier deletion)
    contributes only what it adds.
    """
    from tidymark.source import LineIndex

    lines = LineIndex(original)
    out = []
    taken: list[tuple[int, int]] = []
    for d, spans in pairs:
        if d.fix is None or d.fix.kind not in REMOVAL_KINDS or d.fix.applicability < threshold:
            continue
        for e, span in zip(d.fix.edits, spans):
            if e.text:
                continue
            parts = [(a, b) for a, b in _subtract(span, taken) if original[a:b].strip()]
            taken.append((span.start, span.end))
            if not parts:
                continue
            start, end = parts[0][0], parts[-1][1]
            removed = "".join(original[a:b] for a, b in parts)
            a = lines.line_of(start)
            b = lines.line_of(max(end - 1, start))
            before = "\n".join(lines.line_text(i) for i in range(max(0, a - CONTEXT_LINES), a))
            after = "\n".join(lines.line_text(i) for i in range(b + 1, min(lines.line_count, b + 1 + CONTEXT_LINES)))
            out.append({"code": d.code, "line": a + 1, "text": removed.strip("\r\n"), "before": before,
                        "after": after, "_start": start})
    out.sort(key=lambda r: r.pop("_start"))
    return out
