"""Rule documentation: the rule table and each rule's page, generated from the rules themselves."""

from __future__ import annotations

import json

from tidymark import registry
from tidymark.rule import FixAvailability


def _fix_cell(cls) -> str:
    if cls.fix_availability is FixAvailability.NONE:
        return "no"
    return f"{cls.fix_safety}" + (" (sometimes)" if cls.fix_availability is FixAvailability.SOMETIMES else "")


def rule_rows(table=None) -> list[dict]:
    table = table or registry.all_rules()
    rows = []
    for code, info in table.items():
        c = info.cls
        rows.append({"code": code, "name": c.name, "summary": c.summary,
                     "fix": _fix_cell(c), "fix_availability": c.fix_availability.value,
                     "fix_safety": c.fix_safety, "default": "on" if (info.builtin and c.enabled_by_default) else "off",
                     "severity": c.default_severity.label, "origin": info.origin})
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = ["| Code | Name | What it finds | Fix | Default |", "|---|---|---|---|---|"]
    for r in rows:
        summary = r["summary"].replace("|", "\\|")
        lines.append(f"| {r['code']} | `{r['name']}` | {summary} | {r['fix']} | {r['default']} |")
    return "\n".join(lines) + "\n"


def rules_listing(fmt: str = "table", table=None) -> str:
    rows = rule_rows(table)
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return markdown_table(rows)
    w = {k: max(len(k), *(len(r[k]) for r in rows)) if rows else len(k) for k in ("code", "name", "fix", "default")}
    head = f"{'code':<{w['code']}}  {'name':<{w['name']}}  {'fix':<{w['fix']}}  {'default':<{w['default']}}  summary"
    out = [head, "-" * len(head)]
    for r in rows:
        out.append(f"{r['code']:<{w['code']}}  {r['name']:<{w['name']}}  {r['fix']:<{w['fix']}}  "
                   f"{r['default']:<{w['default']}}  {r['summary']}")
    return "\n".join(out) + "\n"


def rule_page(info) -> str:
    c = info.cls
    fix = {FixAvailability.NONE: "Fix is not available.",
           FixAvailability.SOMETIMES: f"Fix is sometimes available ({c.fix_safety}).",
           FixAvailability.ALWAYS: f"Fix is always available ({c.fix_safety})."}[c.fix_availability]
    head = [f"# {c.name} ({c.code})", "",
            f"{c.summary}", "",
            f"Default: {'on' if info.builtin and c.enabled_by_default else 'off'} · "
            f"Severity: {c.default_severity.label} · {fix}"
            + ("" if info.builtin else f" · From: {info.origin}"), ""]
    return "\n".join(head) + "\n" + c.documentation().split("\n", 1)[-1].lstrip("\n") + "\n"
