from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from tidymark.rules._clipper import SOURCE_URL_KEYS
from tidymark.diagnostics import Severity
from tidymark.core.project import ProjectRule

_READ_ORIGINAL = re.compile(r"^\[(?:Read Original|Original)\]\((https?://[^)\s]+)\)\s*$", re.M)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_WS = re.compile(r"\s+")


def _site(doc) -> str | None:
    fm = doc.front_matter
    urls = []
    if fm is not None and fm.error is None:
        urls = [v for k, v in fm.values.items() if str(k).lower() in SOURCE_URL_KEYS and isinstance(v, str)]
    if not urls and "Original](" in doc.text:  # (the line-anchored search is tried at every character)
        m = _READ_ORIGINAL.search(doc.text, doc.body_start)
        urls = [m.group(1)] if m else []
    for u in urls:
        host = urlsplit(u.strip()).hostname
        if host:
            return host[4:] if host.startswith("www.") else host
    return None


def normalize_line(line: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", html.unescape(line))).strip()


class SiteBoilerplate(ProjectRule):
    """A line repeats unchanged in many notes saved from the same site.

    ## What it does
    Groups the notes of a run by the site they were saved from (the host of the
    front-matter `url` / `source` / `original_url`, or of the `[Read Original](…)` line)
    and reports lines that occur, unchanged, in at least `min-notes` notes of a site and in
    at least `min-share` of them: per-site sidebars, sign-offs, newsletter footers.
    Headings and code fences are structure, not boilerplate; lines found on many sites
    are a clipper's scaffolding (reported by the DM rules) and are left out.  They
    are boilerplate *candidates*; `tidymark learn PATH` writes them out as a rule pack to
    review and enable.

    ## Why is this bad?
    A site's chrome repeated in every saved article is noise in reading, search and
    exports, and no generic lexicon knows every site's footer.

    ## Example
    ```markdown
    ---
    url: https://blog.example.org/post-1
    ---

    Thanks for reading! Comments are closed.
    ```

    ## Fix safety
    No fix: review the candidates, then enable the rule pack `tidymark learn` writes.

    ## Options
    - `min-notes`: notes of a site a line must appear in (default 3)
    - `min-share`: share of a site's notes a line must appear in (default 0.3)
    - `min-chars`: shorter lines are ignored (default 6)
    """

    code = "AD005"
    name = "site-boilerplate"
    summary = "Line repeated unchanged in many notes from the same site"
    default_severity = Severity.INFO
    enabled_by_default = False

    @dataclass(frozen=True)
    class Options:
        min_notes: int = 3
        min_share: float = 0.3
        min_chars: int = 6

    def facts(self, doc):
        site = _site(doc)
        if site is None:
            return None
        seen = {}
        for b in doc.blocks:
            if b.kind in ("fence", "code_block", "hr", "table"):
                continue
            for i in range(b.line0, b.line1):
                t = normalize_line(doc.lines.line_text(i))
                if (len(t) < self.options.min_chars or len(t) > 300 or not _LETTER.search(t)
                        or t.startswith(("#", "```", "~~~"))):
                    continue  # headings are structure, fences are code
                h = hashlib.sha1(t.encode()).hexdigest()[:16]
                if h not in seen:
                    seen[h] = [i + 1, t]
        return {"site": site, "lines": seen}

    def candidates(self, facts):
        """{site: [(text, notes, share, {file: line})]} of lines over the thresholds."""
        by_site = defaultdict(list)
        sites_of = defaultdict(set)
        for key, f in facts.items():
            by_site[f["site"]].append(key)
            for h in f["lines"]:
                sites_of[h].add(f["site"])
        # a line found on many sites is a clipper's, not a site's (and other rules know it)
        generic = max(3, len(by_site) // 5)
        out = {}
        for site, keys in by_site.items():
            if len(keys) < self.options.min_notes:
                continue
            where = defaultdict(dict)
            text = {}
            for k in keys:
                for h, (line, t) in facts[k]["lines"].items():
                    where[h][k] = line
                    text[h] = t
            found = []
            for h, files in where.items():
                if len(sites_of[h]) >= generic:
                    continue
                n = len(files)
                if n >= self.options.min_notes and n / len(keys) >= self.options.min_share:
                    found.append((text[h], n, n / len(keys), files))
            if found:
                out[site] = sorted(found, key=lambda x: (-x[1], x[0]))
        return out

    def check_project(self, facts):
        for site, found in self.candidates(facts).items():
            for text, n, share, files in found:
                for key, line in files.items():
                    yield key, self.at(line, f"Boilerplate candidate: line repeated in {n} notes from {site} "
                                             f"({share:.0%}): {text[:60]}")
