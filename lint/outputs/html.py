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

from tidymark.run.removals import CONTEXT_LINES, REMOVAL_KINDS, removals  # noqa: F401 (the report's blocks)


def file_entry(result, mode: str) -> dict:
    return {
        "path": result.display,
        "folder": str(Path(result.display).parent.as_posix()),
        "remaining": [{"code": d.code, "name": d.name, "line": d.line, "message": d.message,
                       "severity": d.severity.label} for d in result.diagnostics],
        "fixed": [d.code for d in result.applied] if mode != "check" else [],
        "fixed_names": {d.code: d.name for d in result.applied} if mode != "check" else {},
        "removals": getattr(result, "removals", []) or [],
    }


BAR_H = 24
CHART_W = 760
LABEL_W = 300


def _svg(title: str, rows: list[str], n: int, legend: str = "") -> str:
    height = max(n, 1) * BAR_H + (BAR_H if legend else 0)
    return (f'<svg role="img" aria-label="{html.escape(title)}" viewBox="0 0 {CHART_W} {height}" '
            f'width="{CHART_W}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
            f'<title>{html.escape(title)}</title>{legend}{"".join(rows)}</svg>')


def _label(text: str, y: int) -> str:
    short = text if len(text) <= 44 else text[:43] + "…"
    return f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end"><title>{html.escape(text)}</title>{html.escape(short)}</text>'


def _bars(title: str, counts: list[tuple[str, int]], css: str) -> str:
    """A horizontal bar chart, one bar per (label, count)."""
    if not counts:
        return f"<section><h2>{html.escape(title)}</h2><p class=\"none\">None.</p></section>"
    top = max(n for _, n in counts) or 1
    span = CHART_W - LABEL_W - 60
    rows = []
    for i, (label, n) in enumerate(counts):
        w = max(2, round(span * n / top))
        y = i * BAR_H
        rows.append(f'{_label(label, y)}<rect class="{css}" x="{LABEL_W}" y="{y + 4}" width="{w}" height="{BAR_H - 8}" rx="2"></rect>'
                    f'<text x="{LABEL_W + w + 6}" y="{y + 16}" class="n">{n}</text>')
    return f"<section><h2>{html.escape(title)}</h2>{_svg(title, rows, len(counts))}</section>"


def _stacked(title: str, counts: list[tuple[str, int, int]], labels: tuple[str, str]) -> str:
    """A horizontal bar chart of (label, fixed, remaining): fixed and remaining side by side."""
    if not counts:
        return f"<section><h2>{html.escape(title)}</h2><p class=\"none\">None.</p></section>"
    top = max(a + b for _, a, b in counts) or 1
    span = CHART_W - LABEL_W - 80
    legend = (f'<rect class="fixed" x="{LABEL_W}" y="6" width="12" height="12" rx="2"></rect>'
              f'<text x="{LABEL_W + 18}" y="16">{html.escape(labels[0])}</text>'
              f'<rect class="left" x="{LABEL_W + 150}" y="6" width="12" height="12" rx="2"></rect>'
              f'<text x="{LABEL_W + 168}" y="16">{html.escape(labels[1])}</text>')
    rows = []
    for i, (label, fixed, left) in enumerate(counts):
        y = (i + 1) * BAR_H
        wf = round(span * fixed / top) if fixed else 0
        wl = round(span * left / top) if left else 0
        if fixed and wf < 2:
            wf = 2
        if left and wl < 2:
            wl = 2
        parts = [_label(label, y)]
        if fixed:
            parts.append(f'<rect class="fixed" x="{LABEL_W}" y="{y + 4}" width="{wf}" height="{BAR_H - 8}">'
                         f'<title>{fixed} {html.escape(labels[0])}</title></rect>')
        if left:
            parts.append(f'<rect class="left" x="{LABEL_W + wf}" y="{y + 4}" width="{wl}" height="{BAR_H - 8}">'
                         f'<title>{left} {html.escape(labels[1])}</title></rect>')
        total = f"{fixed} + {left}" if fixed and left else str(fixed + left)
        parts.append(f'<text x="{LABEL_W + wf + wl + 6}" y="{y + 16}" class="n">{total}</text>')
        rows.append("".join(parts))
    return f"<section><h2>{html.escape(title)}</h2>{_svg(title, rows, len(counts), legend)}</section>"


STYLE = """
:root{--fg:#1f2328;--muted:#636c76;--line:#d0d7de;--soft:#f6f8fa;--fixed:#2da44e;--left:#cf6a2a;--folder:#4a7bd0}
*{box-sizing:border-box}
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;color:var(--fg);padding:1.5em 1.5em 4em}
header{display:flex;align-items:baseline;gap:1em;flex-wrap:wrap;border-bottom:1px solid var(--line);padding-bottom:.6em}
h1{font-size:1.6em;margin:0}header p{margin:0;color:var(--muted)}
h2{font-size:1.15em;margin:2em 0 .6em;padding-bottom:.3em;border-bottom:1px solid var(--line)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:.8em;margin-top:1.2em}
.card{border:1px solid var(--line);border-radius:8px;padding:.7em 1em;background:#fff}
.card b{display:block;font-size:1.7em;line-height:1.2;font-variant-numeric:tabular-nums}
.card span{color:var(--muted)}.card.good b{color:var(--fixed)}.card.warn b{color:var(--left)}
svg{max-width:100%;height:auto;display:block}svg text{font-size:12px;fill:var(--fg)}svg text.n{fill:var(--muted)}
rect.fixed{fill:var(--fixed)}rect.left{fill:var(--left)}rect.folder{fill:var(--folder)}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eaeef2;padding:.35em .6em;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;width:6em}
td.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;word-break:break-all;width:38%}
td.rules{color:var(--muted)}
pre{background:var(--soft);padding:.5em .7em;overflow:auto;white-space:pre-wrap;word-break:break-word;margin:0;
 font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre.removed{background:#ffebe9;border-left:3px solid #cf222e;color:#82071e}pre.ctx{color:var(--muted)}
.block{margin:.6em 0 1em;border:1px solid var(--line);border-radius:6px;overflow:hidden}
.block p{margin:0;padding:.3em .7em;background:var(--soft);border-bottom:1px solid var(--line);font-size:.92em}
details{margin:.3em 0;border:1px solid var(--line);border-radius:6px;padding:.3em .8em}
details[open]{padding-bottom:.6em}summary{cursor:pointer;font-weight:500}
code{background:#eff1f3;padding:.05em .3em;border-radius:3px;font-size:.92em}.none{color:var(--muted)}
footer{margin-top:3em;color:var(--muted);font-size:.9em}
"""

_WORDS = {  # mode -> (changed files, fixed problems, remaining problems, removed blocks)
    "fix": ("files changed", "problems fixed", "problems left", "blocks removed"),
    "diff": ("files to change", "problems to fix", "problems left after", "blocks to remove"),
    "check": ("files to change", "fixable with <code>tidymark fix</code>", "problems found", "blocks a fix removes"),
}


def _rule_names() -> dict[str, str]:
    from tidymark.plugins import registry
    from tidymark.core.engine import ENGINE_CODES, FIX_DISCARDED, INTERNAL_ERROR, IO_ERROR

    names = {c: n for c, n in (IO_ERROR, INTERNAL_ERROR, FIX_DISCARDED) if c in ENGINE_CODES}
    try:
        names.update({code: info.cls.name for code, info in registry.all_rules().items()})
    except registry.RegistryError:
        pass
    return names


def build_html(files: list[dict], summary: dict) -> str:
    from tidymark import __version__

    mode = summary.get("mode", "check")
    words = _WORDS.get(mode, _WORDS["check"])
    names = _rule_names()
    per_rule: Counter = Counter()
    per_folder: Counter = Counter()
    fixed_rule: Counter = Counter()
    for f in files:
        for d in f["remaining"]:
            per_rule[d["code"]] += 1
            per_folder[f["folder"]] += 1
            names.setdefault(d["code"], d.get("name", ""))
        for code in f["fixed"]:
            fixed_rule[code] += 1
            per_folder[f["folder"]] += 1
        for code, name in f.get("fixed_names", {}).items():
            names.setdefault(code, name)
    problems = sum(per_rule.values())
    removed = [(f["path"], r) for f in files for r in f["removals"]]
    fixed = sum(fixed_rule.values())
    data = {"mode": mode, "files": summary.get("files", len(files)), "changed_files": summary.get("changed_files", 0),
            "problems_remaining": problems, "problems_fixed": fixed, "fixable": summary.get("fixable", 0),
            "per_rule": dict(sorted(per_rule.items())), "fixed_per_rule": dict(sorted(fixed_rule.items())),
            "per_folder": dict(sorted(per_folder.items())),
            "removed_blocks": len(removed), "bytes_removed": summary.get("bytes_removed", 0)}
    cards = [("files", data["files"], "files scanned", "")]
    if mode == "check":
        cards += [("remaining", problems, words[2], "warn" if problems else "good"),
                  ("fixable", data["fixable"], words[1], ""),
                  ("removed", len(removed), words[3], "")]
    else:
        cards += [("changed", data["changed_files"], words[0], ""),
                  ("fixed", fixed, words[1], "good" if fixed else ""),
                  ("remaining", problems, words[2], "warn" if problems else "good"),
                  ("removed", len(removed), words[3], "")]
        if mode == "fix":
            cards.append(("bytes", f"{data['bytes_removed']:,}", "bytes removed", ""))
    title = "tidymark report"
    seconds = summary.get("seconds")
    took = f" in {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
    verb = {"fix": "tidymark fix", "diff": "tidymark fix --diff"}.get(mode, "tidymark check")
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}: {html.escape(mode)}</title>",
           f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>",
           f"<header><h1>{title}</h1><p><code>{html.escape(verb)}</code>: {data['files']} "
           f"file{'s' * (data['files'] != 1)}{took}</p></header>",
           "<div class=\"cards\">"]
    for cid, value, label, css in cards:
        out.append(f"<div class=\"card {css}\" id=\"{cid}\"><b>{value}</b><span>{label}</span></div>")
    out.append("</div>")
    rule_rows = sorted(set(per_rule) | set(fixed_rule), key=lambda c: (-(per_rule[c] + fixed_rule[c]), c))[:40]
    labels = ("fixed", "left") if mode == "fix" else (("to fix", "left after") if mode == "diff" else ("", "found"))
    if mode == "check":
        out.append(_bars("Problems per rule", [(f"{c} {names.get(c, '')}".strip(), per_rule[c]) for c in rule_rows],
                         "left"))
    else:
        out.append(_stacked("Problems per rule", [(f"{c} {names.get(c, '')}".strip(), fixed_rule[c], per_rule[c])
                                                  for c in rule_rows], labels))
    folders = sorted(per_folder.items(), key=lambda kv: (-kv[1], kv[0]))[:25]
    out.append(_bars("Problems per folder", [("(top level)" if k == "." else k + "/", n) for k, n in folders], "folder"))
    worst = [f for f in sorted(files, key=lambda f: (-(len(f["remaining"]) + len(f["fixed"])), f["path"]))
             if f["remaining"] or f["fixed"]][:25]
    out.append("<section><h2>Files most affected</h2>")
    if not worst:
        out.append("<p class=\"none\">None.</p>")
    else:
        fixed_head = "Fixed" if mode == "fix" else ("To fix" if mode == "diff" else "")
        out.append("<table><thead><tr><th>File</th>" + (f"<th class=\"num\">{fixed_head}</th>" if fixed_head else "")
                   + f"<th class=\"num\">{'Left' if mode != 'check' else 'Problems'}</th><th>Rules</th></tr></thead><tbody>")
        for f in worst:
            codes = Counter([d["code"] for d in f["remaining"]] + f["fixed"])
            out.append(f"<tr><td class=\"path\">{html.escape(f['path'])}</td>"
                       + (f"<td class=\"num\">{len(f['fixed'])}</td>" if fixed_head else "")
                       + f"<td class=\"num\">{len(f['remaining'])}</td>"
                       f"<td class=\"rules\">{html.escape(', '.join(f'{c}×{n}' for c, n in sorted(codes.items())))}</td></tr>")
        out.append("</tbody></table>")
    out.append("</section>")
    heading = "Removed blocks" if mode == "fix" else "Blocks a fix removes"
    out.append(f"<section><h2>{heading} ({len(removed)})</h2>")
    if not removed:
        out.append("<p class=\"none\">None.</p>")
    by_file = defaultdict(list)
    for path, r in removed:
        by_file[path].append(r)
    for path, items in by_file.items():
        out.append(f"<details><summary>{html.escape(path)} — {len(items)} block{'s' * (len(items) != 1)}</summary>")
        for r in items:
            name = names.get(r["code"], "")
            out.append(f"<div class=\"block\"><p><code>{html.escape(r['code'])}</code> {html.escape(name)} · "
                       f"line {r['line']}</p>")
            if r["before"]:
                out.append(f"<pre class=\"ctx\">{html.escape(r['before'])}</pre>")
            out.append(f"<pre class=\"removed\">{html.escape(r['text'])}</pre>")
            if r["after"]:
                out.append(f"<pre class=\"ctx\">{html.escape(r['after'])}</pre>")
            out.append("</div>")
        out.append("</details>")
    out.append("</section>")
    out.append(f"<footer>Generated by tidymark {html.escape(__version__)}. The numbers are embedded below as JSON "
               f"(<code>#tidymark-data</code>).</footer>")
    # "<" only occurs inside JSON strings, where \u003c is the same character: no "</script>"
    # or "<!--" can end or confuse the script element
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    out.append(f"<script type=\"application/json\" id=\"tidymark-data\">{blob}</script></body></html>\n")
    return "".join(out)
