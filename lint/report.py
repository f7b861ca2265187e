"""A self-contained HTML report of a run (``--report FILE.html``).

Counts per rule and per folder as bar charts, the files with the most problems, and
every block a fix removed (or would remove, for ``check``) with a few lines of context.
No external resources, no scripts that fetch anything: one file a user can open,
archive or attach to a ticket.  The numbers are embedded as JSON (``#tidymark-data``)
so they can be checked against ``--output-format json`` of the same run.
"""

from __future__ import annotations

import html
import json
from collections import Counter, defaultdict
from pathlib import Path

from tidymark.diagnostics import Applicability, FixKind

CONTEXT_LINES = 2
REMOVAL_KINDS = (FixKind.REMOVE_CONTENT, FixKind.REMOVE_SCAFFOLDING)


def removals(original: str, pairs, threshold: Applicability = Applicability.SAFE) -> list[dict]:
    """Removed blocks from (diagnostic, spans-in-original) pairs, with context lines."""
    from tidymark.source import LineIndex

    lines = LineIndex(original)
    out = []
    for d, spans in pairs:
        if d.fix is None or d.fix.kind not in REMOVAL_KINDS or d.fix.applicability < threshold:
            continue
        for e, span in zip(d.fix.edits, spans):
            removed = original[span.start:span.end]
            if e.text or not removed.strip():
                continue
            a = lines.line_of(span.start)
            b = lines.line_of(max(span.end - 1, span.start))
            before = "\n".join(lines.line_text(i) for i in range(max(0, a - CONTEXT_LINES), a))
            after = "\n".join(lines.line_text(i) for i in range(b + 1, min(lines.line_count, b + 1 + CONTEXT_LINES)))
            out.append({"code": d.code, "line": a + 1, "text": removed.strip("\n"), "before": before, "after": after})
    return out


def file_entry(result, mode: str) -> dict:
    return {
        "path": result.display,
        "folder": str(Path(result.display).parent.as_posix()),
        "remaining": [{"code": d.code, "line": d.line, "message": d.message, "severity": d.severity.label}
                      for d in result.diagnostics],
        "fixed": [d.code for d in result.applied] if mode != "check" else [],
        "removals": getattr(result, "removals", []) or [],
    }


def _bars(title: str, counts: list[tuple[str, int]], css: str) -> str:
    if not counts:
        return f"<section><h2>{html.escape(title)}</h2><p>None.</p></section>"
    top = max(n for _, n in counts) or 1
    h = 22
    width = 640
    label_w = 260
    rows = []
    for i, (label, n) in enumerate(counts):
        w = max(1, int((width - label_w - 60) * n / top))
        y = i * h
        rows.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{html.escape(label[:40])}</text>'
                    f'<rect class="{css}" x="{label_w}" y="{y + 3}" width="{w}" height="{h - 6}"></rect>'
                    f'<text x="{label_w + w + 6}" y="{y + 15}" class="n">{n}</text>')
    svg = (f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{len(counts) * h}" '
           f'xmlns="http://www.w3.org/2000/svg">{"".join(rows)}</svg>')
    return f"<section><h2>{html.escape(title)}</h2>{svg}</section>"


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;padding:.6em 1em;min-width:8em}
.card b{display:block;font-size:1.6em}svg text{font-size:12px}svg .n{fill:#555}
rect.rule{fill:#4a7bd0}rect.folder{fill:#49a078}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eee;padding:.3em .5em;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:.5em;overflow:auto;white-space:pre-wrap;margin:.2em 0}
pre.removed{background:#fde8e8;border-left:3px solid #d04a4a}pre.ctx{color:#777}
details{margin:.4em 0}summary{cursor:pointer}code{background:#f2f2f2;padding:0 .2em}
"""


def build_html(files: list[dict], summary: dict) -> str:
    mode = summary.get("mode", "check")
    per_rule: Counter = Counter()
    per_folder: Counter = Counter()
    fixed_rule: Counter = Counter()
    for f in files:
        for d in f["remaining"]:
            per_rule[d["code"]] += 1
            per_folder[f["folder"]] += 1
        for code in f["fixed"]:
            fixed_rule[code] += 1
            per_folder[f["folder"]] += 1
    problems = sum(per_rule.values())
    removed = [(f["path"], r) for f in files for r in f["removals"]]
    data = {"mode": mode, "files": summary.get("files", len(files)), "changed_files": summary.get("changed_files", 0),
            "problems_remaining": problems, "problems_fixed": sum(fixed_rule.values()),
            "per_rule": dict(sorted(per_rule.items())), "fixed_per_rule": dict(sorted(fixed_rule.items())),
            "removed_blocks": len(removed)}
    title = "tidymark report"
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>",
           f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>",
           f"<h1>{title}</h1><p>Mode: <code>{html.escape(mode)}</code></p>",
           "<div class=\"cards\">",
           f"<div class=\"card\" id=\"files\"><b>{data['files']}</b>files scanned</div>",
           f"<div class=\"card\" id=\"changed\"><b>{data['changed_files']}</b>files {'changed' if mode == 'fix' else 'to change'}</div>",
           f"<div class=\"card\" id=\"fixed\"><b>{data['problems_fixed']}</b>problems {'fixed' if mode == 'fix' else 'fixable now'}</div>",
           f"<div class=\"card\" id=\"remaining\"><b>{problems}</b>problems {'left' if mode != 'check' else 'found'}</div>",
           f"<div class=\"card\" id=\"removed\"><b>{len(removed)}</b>blocks removed</div></div>"]
    counts = per_rule + fixed_rule
    out.append(_bars("Problems per rule", sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:40], "rule"))
    out.append(_bars("Problems per folder", sorted(per_folder.items(), key=lambda kv: (-kv[1], kv[0]))[:25], "folder"))
    worst = sorted(files, key=lambda f: -(len(f["remaining"]) + len(f["fixed"])))[:25]
    out.append("<section><h2>Files most affected</h2><table><thead><tr><th>File</th><th>Fixed</th>"
               "<th>Remaining</th><th>Rules</th></tr></thead><tbody>")
    for f in worst:
        if not f["remaining"] and not f["fixed"]:
            continue
        codes = Counter([d["code"] for d in f["remaining"]] + f["fixed"])
        out.append(f"<tr><td>{html.escape(f['path'])}</td><td>{len(f['fixed'])}</td><td>{len(f['remaining'])}</td>"
                   f"<td>{html.escape(', '.join(f'{c}×{n}' for c, n in sorted(codes.items())))}</td></tr>")
    out.append("</tbody></table></section>")
    out.append(f"<section><h2>Removed blocks ({len(removed)})</h2>")
    by_file = defaultdict(list)
    for path, r in removed:
        by_file[path].append(r)
    for path, items in by_file.items():
        out.append(f"<details><summary>{html.escape(path)} — {len(items)} block{'s' * (len(items) != 1)}</summary>")
        for r in items:
            out.append(f"<p><code>{html.escape(r['code'])}</code> line {r['line']}</p>")
            if r["before"]:
                out.append(f"<pre class=\"ctx\">{html.escape(r['before'])}</pre>")
            out.append(f"<pre class=\"removed\">{html.escape(r['text'])}</pre>")
            if r["after"]:
                out.append(f"<pre class=\"ctx\">{html.escape(r['after'])}</pre>")
        out.append("</details>")
    out.append("</section>")
    blob = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    out.append(f"<script type=\"application/json\" id=\"tidymark-data\">{blob}</script></body></html>\n")
    return "".join(out)
