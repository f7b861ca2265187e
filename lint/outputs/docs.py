"""Rule documentation: the rule table and each rule's page, generated from the rules themselves.

``python -m tidymark.docs docs/rules`` writes one page per built-in rule (``<CODE>.md``, the
text ``tidymark rule CODE`` prints) and an index (``README.md``, the same table as the
project README, with each code linked to its page); ``--check`` only reports stale pages
and exits 1, for CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from tidymark.plugins import registry
from tidymark.rule import FixAvailability


@lru_cache(maxsize=1)
def _rule_page_base() -> str | None:
    """Where the rule pages of this version live, from the installed distribution's metadata
    (``[project.urls]`` in pyproject.toml): see :func:`page_base`."""
    from importlib import metadata

    try:
        meta = metadata.metadata("tidymark")
    except metadata.PackageNotFoundError:
        return None
    return page_base(meta.get_all("Project-URL") or (), meta["Version"])


def page_base(project_urls, version: str) -> str | None:
    """The ``docs/rules`` folder at the release tag ``v<version>`` of the repository named by
    the ``Repository`` (or ``Source``) entry of ``project_urls`` (``"label, url"`` strings, as
    in package metadata); None unless that is an https URL of GitHub or a GitLab."""
    for entry in project_urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() not in ("repository", "source", "source code"):
            continue
        url = url.strip().rstrip("/").removesuffix(".git")
        parts = urlsplit(url)
        host = parts.hostname or ""
        tree = "/blob/" if host == "github.com" else ("/-/blob/" if host.startswith("gitlab.") else None)
        if tree is not None and parts.scheme == "https" and parts.path.strip("/"):
            return f"{url}{tree}v{version}/docs/rules"
    return None


def rule_url(code: str) -> str | None:
    """The documentation page of a built-in rule (``docs/rules/<CODE>.md`` of this version),
    or None: plugin, rule-pack and local rules and the engine's TM001-TM003 have no page there."""
    base = _rule_page_base()
    if base is None or code not in _builtin_codes():
        return None
    return f"{base}/{code}.md"


@lru_cache(maxsize=1)
def _builtin_codes() -> frozenset[str]:
    try:
        return frozenset(info.cls.code for info in registry.builtin_rules())
    except registry.RegistryError:
        return frozenset()


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


def markdown_table(rows: list[dict], link: str | None = None) -> str:
    """The rule table (README and docs index); ``link`` = e.g. ``"{code}.md"`` links each code."""
    lines = ["| Code | Name | What it finds | Fix | Default |", "|---|---|---|---|---|"]
    for r in rows:
        summary = r["summary"].replace("|", "\\|")
        code = f"[{r['code']}]({link.format(code=r['code'])})" if link else r["code"]
        lines.append(f"| {code} | `{r['name']}` | {summary} | {r['fix']} | {r['default']} |")
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
    parts = c.documentation().split("\n\n", 1)  # the first paragraph restates the summary
    body = parts[1].strip("\n") if len(parts) > 1 else ""
    return "\n".join(head) + "\n" + body + "\n"


INDEX_HEAD = """# Rules

Generated by `python -m tidymark.docs docs/rules` from the rules' own documentation (the same
source as `tidymark rule CODE` and the rule table in the project README); a test fails when these
pages are stale. "Fix" says whether a fix exists and whether it is safe or unsafe; "Default"
whether the rule runs without being selected.

"""


def doc_pages(table=None) -> dict[str, str]:
    """File name -> content of the generated rule docs: ``<CODE>.md`` per built-in rule and ``README.md``.

    Plugin rules are left out, so the pages do not depend on what else is installed.
    """
    table = table or registry.all_rules()
    builtin = {code: info for code, info in table.items() if info.builtin}
    pages = {f"{code}.md": rule_page(info) for code, info in builtin.items()}
    pages["README.md"] = INDEX_HEAD + markdown_table(rule_rows(builtin), link="{code}.md")
    return pages


def stale_pages(folder: Path, pages: dict[str, str] | None = None) -> list[str]:
    """Names of pages in ``folder`` that are missing, differ, or belong to no rule."""
    pages = doc_pages() if pages is None else pages
    stale = []
    for name, text in sorted(pages.items()):
        p = folder / name
        try:
            current = p.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != text:
            stale.append(name)
    if folder.is_dir():
        stale += sorted(p.name for p in folder.glob("*.md") if p.name not in pages)
    return stale


def write_pages(folder: Path, pages: dict[str, str] | None = None) -> list[str]:
    """Write the generated pages into ``folder``, removing pages of rules that no longer exist.

    Returns the names written or removed (unchanged pages are not rewritten).
    """
    pages = doc_pages() if pages is None else pages
    folder.mkdir(parents=True, exist_ok=True)
    changed = stale_pages(folder, pages)
    for name in changed:
        p = folder / name
        if name in pages:
            p.write_bytes(pages[name].encode("utf-8"))
        else:
            p.unlink()
    return changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tidymark.docs",
                                 description="Generate the rule documentation pages (one per rule plus an index).")
    ap.add_argument("folder", type=Path, nargs="?", default=Path("docs/rules"), help="output folder (default: docs/rules)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when a page is stale")
    args = ap.parse_args(argv)
    try:
        pages = doc_pages()
    except registry.RegistryError as exc:
        sys.stderr.write(f"tidymark: error: {exc}\n")
        return 2
    if args.check:
        stale = stale_pages(args.folder, pages)
        for name in stale:
            sys.stdout.write(f"{args.folder / name}: stale\n")
        if stale:
            sys.stdout.write(f"run `python -m tidymark.docs {args.folder}` to regenerate\n")
        return 1 if stale else 0
    changed = write_pages(args.folder, pages)
    sys.stdout.write(f"{len(pages)} pages in {args.folder}, {len(changed)} updated\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
