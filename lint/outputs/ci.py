"""CI output formats: SARIF 2.1.0, GitHub workflow commands, JUnit XML, GitLab Code
Quality, concise text.  (``text`` and ``json`` live in :mod:`tidymark.output`.)

Every reporter receives one :class:`~tidymark.run.rulebook.FileResult` per file, in order, and
writes its document in ``finish``.  Paths are relative to the working directory with
forward slashes.  Columns are Unicode code points (SARIF says so with ``columnKind``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path, PurePath
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape, quoteattr

from tidymark.diagnostics import Severity
from tidymark.outputs.docs import rule_url
from tidymark.outputs.text import Reporter
from tidymark.source import LineIndex

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://pypi.org/project/tidymark/"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_GITLAB_SEVERITY = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}


def _uri(display: str) -> str:
    """The path as shown to people and to GitHub / GitLab: relative, forward slashes."""
    return Path(display).as_posix()


def _sarif_uri(display: str) -> str:
    """A URI reference (RFC 3986) for SARIF: relative paths percent-encoded, so spaces,
    ``%``, ``#`` and non-ASCII letters are legal and a ``:`` cannot read as a scheme."""
    p = PurePath(display)
    if p.is_absolute():
        return Path(display).as_uri()
    return quote(p.as_posix(), safe="/")


# Engine diagnostics are not rules; SARIF consumers still want a description and help text.
_ENGINE_HELP = {
    "TM001": ("unreadable-file", "File could not be read or decoded",
              "The file could not be read or is not UTF-8 text (binary, UTF-16, another encoding), or "
              "it is too large, a broken symlink or not a regular file. It was skipped and never written."),
    "TM002": ("internal-error", "A rule failed on this file",
              "A rule raised an exception or broke the rule contract on this file. The other rules "
              "and files were still checked; please report it with the file that triggers it."),
    "TM003": ("fix-discarded", "Fixes were discarded",
              "The fixes for this file were not applied because they would have broken the front "
              "matter, removed more than the `max-removal` budget, or did not converge."),
}


def _fingerprints(result) -> list[str]:
    """One fingerprint per diagnostic of a file, unique within the run.

    Stable across edits elsewhere in the file (path, code and the flagged text); the n-th
    repeat of an identical problem in the same file gets its occurrence number mixed in.
    """
    seen: Counter = Counter()
    out = []
    for d in result.diagnostics:
        base = _fingerprint(result.display, d, result.text)
        n = seen[base]
        seen[base] += 1
        out.append(base if n == 0 else hashlib.sha256(f"{base}\0{n}".encode()).hexdigest()[:32])
    return out


def _rule_meta() -> dict:
    from tidymark.plugins import registry

    try:
        return registry.all_rules()
    except registry.RegistryError:
        return {}


def edit_regions(edits, text: str) -> list[tuple[int, int, str]]:
    """The edits of one fix as contiguous edited regions: (start, end, new text) in ``text``.

    Edits separated by at most :data:`REGION_GAP` unchanged characters make one region,
    whose new text is the original between them with every edit applied: a fix that
    unescapes each entity of a body (``&lt;/p&gt;&lt;p&gt;``) becomes one replacement per
    run of entities instead of one per entity, without repeating the article's text in
    between.  Applying the regions gives exactly what applying the edits gives.
    """
    regions: list[tuple[int, int, list[str]]] = []
    for e in sorted(edits, key=lambda e: (e.span.start, e.span.end)):
        start, end = e.span.start, e.span.end
        if regions and start >= regions[-1][1] and start - regions[-1][1] <= REGION_GAP:
            first, last, parts = regions[-1]
            parts += (text[last:start], e.text)
            regions[-1] = (first, end, parts)
        else:
            regions.append((start, end, [e.text]))
    return [(a, b, "".join(parts)) for a, b, parts in regions]


#: Edits of a fix at most this many characters apart are one SARIF replacement.  Measured on
#: 416 saved articles (288 of them HTML-escaped): 32 gives the smallest compressed SARIF,
#: between one replacement per entity (more JSON per edit) and one per line (the article's
#: text repeated in the replacements).
REGION_GAP = 32


class SarifReporter(Reporter):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.results: list[dict] = []
        self.used: dict[str, int] = {}

    def file(self, result) -> None:
        lines = LineIndex(result.text) if result.text is not None else None
        uri = _sarif_uri(result.display)
        for d, fp in zip(result.diagnostics, _fingerprints(result)):
            if d.code not in self.used:
                self.used[d.code] = len(self.used)
            start_line, start_col = max(d.line, 1), max(d.column, 1)
            end_line = max(d.end_line, start_line)
            end_col = max(d.end_column, 1) if end_line > start_line else max(d.end_column, start_col)
            loc = {"physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": start_line, "startColumn": start_col,
                           "endLine": end_line, "endColumn": end_col}}}
            item = {"ruleId": d.code, "ruleIndex": self.used[d.code], "level": _SARIF_LEVEL[d.severity],
                    "message": {"text": d.message}, "locations": [loc],
                    "partialFingerprints": {"tidymark/v1": fp}}
            if d.fix is not None and lines is not None:
                reps = []
                for start, end, new in edit_regions(d.fix.edits, result.text):
                    l1, c1 = lines.position(start)
                    l2, c2 = lines.position(end)
                    reps.append({"deletedRegion": {"startLine": l1, "startColumn": c1, "endLine": l2, "endColumn": c2},
                                 "insertedContent": {"text": new}})
                item["fixes"] = [{"description": {"text": f"{d.fix.title} ({d.fix.applicability.label})"},
                                  "artifactChanges": [{"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                                       "replacements": reps}]}]
            self.results.append(item)

    def finish(self, summary: dict) -> None:
        from tidymark import __version__

        meta = _rule_meta()
        rules = []
        for code, _ in sorted(self.used.items(), key=lambda kv: kv[1]):
            info = meta.get(code)
            if info is None:  # engine diagnostics (unreadable file, internal error)
                name, short, text = _ENGINE_HELP.get(code, (code.lower(), code, code))
                rules.append({"id": code, "name": name, "shortDescription": {"text": short},
                              "fullDescription": {"text": text}, "help": {"text": text, "markdown": text},
                              "defaultConfiguration": {"level": "error"}, "properties": {"tags": ["TM"]}})
                continue
            c = info.cls
            doc = c.documentation()
            rule = {"id": code, "name": c.name, "shortDescription": {"text": c.summary},
                    "fullDescription": {"text": doc.split("\n\n", 1)[-1][:4000] or c.summary},
                    "help": {"text": doc, "markdown": doc},
                    "defaultConfiguration": {"level": _SARIF_LEVEL[c.default_severity]},
                    "properties": {"fix": c.fix_availability.value, "fixSafety": c.fix_safety,
                                   "tags": [code[:2]]}}
            url = rule_url(code)
            if url is not None:
                rule["helpUri"] = url
            rules.append(rule)
        sarif = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [{
            "tool": {"driver": {"name": "tidymark", "version": __version__, "semanticVersion": __version__,
                                "informationUri": INFO_URI, "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": self.results}]}
        # compact: indentation tripled the size of a large run's document
        json.dump(sarif, self.out, ensure_ascii=False, separators=(",", ":"))
        self.out.write("\n")


def _fingerprint(display: str, d, text: str | None) -> str:
    """Stable across edits elsewhere in the file: path, code and the flagged text."""
    flagged = text[d.span.start:d.span.end] if text is not None else d.message
    return hashlib.sha256(f"{display}\0{d.code}\0{' '.join(flagged.split())}".encode()).hexdigest()[:32]


def gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_prop(s: str) -> str:
    return gh_data(s).replace(":", "%3A").replace(",", "%2C")


class GithubReporter(Reporter):
    _CMD = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}

    def file(self, result) -> None:
        for d in result.diagnostics:
            props = (f"file={gh_prop(_uri(result.display))},line={d.line},endLine={d.end_line},"
                     f"col={d.column},endColumn={d.end_column},title={gh_prop(f'{d.code} {d.name}')}")
            self.out.write(f"::{self._CMD[d.severity]} {props}::{gh_data(f'{d.code} {d.message}')}\n")


class ConciseReporter(Reporter):
    def file(self, result) -> None:
        for d in result.diagnostics:
            mark = "[*] " if d.fix is not None and d.fix.applicability >= self.threshold else ""
            self.out.write(f"{result.display}:{d.line}:{d.column}: {d.code} {mark}{d.message}\n")


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(s: str) -> str:
    """Text that XML 1.0 can carry: characters it forbids become U+FFFD."""
    return xml_escape(_XML_INVALID.sub("\ufffd", s))


def _xml_attr(s: str) -> str:
    return quoteattr(_XML_INVALID.sub("\ufffd", s))


class JunitReporter(Reporter):
    """One <testcase> per file; each diagnostic is a <failure> of it (an <error> for a file
    tidymark could not process: TM001-TM003).

    The ``failures`` and ``errors`` attributes count test cases, as the JUnit schema says:
    a file with an engine error counts as an error, any other file with problems as a failure.
    """

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.cases: list[str] = []
        self.failures = 0
        self.errors = 0

    def file(self, result) -> None:
        from tidymark.core.engine import ENGINE_CODES

        name = _xml_attr(_uri(result.display))
        if not result.diagnostics:
            self.cases.append(f'    <testcase classname="tidymark" name={name} file={name}/>')
            return
        body = []
        has_error = False
        for d in result.diagnostics:
            tag = "error" if d.code in ENGINE_CODES else "failure"
            has_error |= tag == "error"
            msg = f"{d.code} {d.message}"
            body.append(f"      <{tag} message={_xml_attr(msg)} type={_xml_attr(d.code)}>"
                        f"{_xml_text(f'{_uri(result.display)}:{d.line}:{d.column}: {msg}')}</{tag}>")
        if has_error:
            self.errors += 1
        else:
            self.failures += 1
        self.cases.append(f'    <testcase classname="tidymark" name={name} file={name}>\n'
                          + "\n".join(body) + "\n    </testcase>")

    def finish(self, summary: dict) -> None:
        w = self.out.write
        w('<?xml version="1.0" encoding="UTF-8"?>\n')
        w(f'<testsuites name="tidymark" tests="{len(self.cases)}" failures="{self.failures}" errors="{self.errors}">\n')
        w(f'  <testsuite name="tidymark" tests="{len(self.cases)}" failures="{self.failures}" '
          f'errors="{self.errors}" skipped="0">\n')
        for c in self.cases:
            w(c + "\n")
        w("  </testsuite>\n</testsuites>\n")


class GitlabReporter(Reporter):
    """GitLab Code Quality report (a JSON array of issues)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.items: list[dict] = []

    def file(self, result) -> None:
        for d, fp in zip(result.diagnostics, _fingerprints(result)):
            begin = max(d.line, 1)
            self.items.append({
                "type": "issue",
                "description": f"{d.code} {d.message}",
                "check_name": f"{d.code} {d.name}",
                "categories": ["Style"],
                "fingerprint": fp,
                "severity": _GITLAB_SEVERITY[d.severity],
                "location": {"path": _uri(result.display), "lines": {"begin": begin, "end": max(d.end_line, begin)}},
            })

    def finish(self, summary: dict) -> None:
        json.dump(self.items, self.out, ensure_ascii=False, indent=2)
        self.out.write("\n")


FORMATS = {"sarif": SarifReporter, "github": GithubReporter, "concise": ConciseReporter,
           "junit": JunitReporter, "gitlab": GitlabReporter}
# formats whose reporter needs each file's text (edit positions, fingerprints)
from tidymark.outputs.text import NEEDS_TEXT  # noqa: E402,F401 - re-exported
