"""Reporters: text (default, like ruff's) and JSON (a documented public contract).

JSON output is an array; each element::

    {"path": "notes/a.md", "line": 3, "column": 1, "end_line": 3, "end_column": 12,
     "code": "DM002", "name": "title-repeated-as-heading", "message": "...",
     "severity": "error",
     "fix": null | {"applicability": "safe" | "unsafe" | "display-only", "message": "...",
                    "edits": [{"line": 3, "column": 1, "end_line": 4, "end_column": 1,
                               "content": ""}]},
     "url": null | "https://.../docs/rules/DM002.md"}

Lines and columns are 1-based; columns count Unicode code points.  ``end_*`` points just
past the last character.  Fields are only ever added, never renamed or removed, within a
major version.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from tidymark.diagnostics import Applicability, Diagnostic
from tidymark.source import LineIndex


def _edit_json(lines: LineIndex | None, e) -> dict:
    if lines is None:
        return {"offset": e.span.start, "end_offset": e.span.end, "content": e.text}
    l1, c1 = lines.position(e.span.start)
    l2, c2 = lines.position(e.span.end)
    return {"line": l1, "column": c1, "end_line": l2, "end_column": c2, "content": e.text}


def diagnostic_json(path: str, d: Diagnostic, lines: LineIndex | None = None) -> dict:
    fix = None
    if d.fix is not None:
        fix = {"applicability": d.fix.applicability.label, "message": d.fix.title,
               "edits": [_edit_json(lines, e) for e in d.fix.edits]}
    from tidymark.outputs.docs import rule_url

    return {"path": path, "line": d.line, "column": d.column, "end_line": d.end_line,
            "end_column": d.end_column, "code": d.code, "name": d.name, "message": d.message,
            "severity": d.severity.label, "fix": fix, "url": rule_url(d.code)}


#: Output formats whose reports quote the source text of each diagnostic's line.
NEEDS_TEXT = {"json", "sarif", "gitlab"}


class Reporter:
    def __init__(self, out: TextIO, threshold: Applicability, color: bool = False):
        self.out = out
        self.threshold = threshold
        self.color = color

    def file(self, result) -> None: ...
    def finish(self, summary: dict) -> None: ...


class TextReporter(Reporter):
    def _c(self, code: str, s: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if self.color else s

    def file(self, result) -> None:
        w = self.out.write
        for d in result.diagnostics:
            mark = " [*]" if d.fix is not None and d.fix.applicability >= self.threshold else ""
            w(f"{self._c('1', result.display)}:{d.line}:{d.column}: {self._c('1;31', d.code)}{mark} {d.message}\n")

    def finish(self, s: dict) -> None:
        w = self.out.write
        mode = s["mode"]
        if mode in ("fix", "diff"):
            verb = "Fixed" if mode == "fix" else "Would fix"
            if s["fixed"]:
                w(f"{verb} {s['fixed']} problem{'s' * (s['fixed'] != 1)} in {s['changed_files']} "
                  f"file{'s' * (s['changed_files'] != 1)} ({s['remaining']} remaining).\n")
            elif s["remaining"]:
                w(f"No fixes available ({s['remaining']} problem{'s' * (s['remaining'] != 1)} remaining).\n")
            else:
                w("All checks passed!\n")
        else:
            total = s["remaining"]
            if not total:
                w("All checks passed!\n")
            else:
                w(f"Found {total} problem{'s' * (total != 1)}.\n")
        if s["fixable"]:
            w(f"[*] {s['fixable']} fixable with `tidymark fix`.\n")
        if s["unsafe_fixable"]:
            w(f"{s['unsafe_fixable']} hidden fix{'es' * (s['unsafe_fixable'] != 1)} can be enabled with "
              f"`--unsafe-fixes`.\n")
        if s.get("baselined"):
            n = s["baselined"]
            w(f"{n} known problem{'s' * (n != 1)} hidden by the baseline.\n")


class JsonReporter(Reporter):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.items: list[dict] = []

    def file(self, result) -> None:
        lines = LineIndex(result.text) if result.text is not None and any(d.fix for d in result.diagnostics) else None
        self.items.extend(diagnostic_json(result.display, d, lines) for d in result.diagnostics)

    def finish(self, summary: dict) -> None:
        json.dump(self.items, self.out, ensure_ascii=False, indent=2)
        self.out.write("\n")


REPORTERS = {"text": TextReporter, "json": JsonReporter}


def stream_is_tty(stream=None) -> bool:
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class OutputFileError(Exception):
    pass


def run_to_output_file(path, run) -> int:
    """``--output-file FILE``: run ``run()`` (a check or fix run, returning its exit code)
    with what it prints on stdout going to FILE instead.

    The output is written to a temporary file beside FILE that replaces it when the run
    ends, so FILE is never left half-written: an interrupted run, or one that stopped on an
    error before printing anything, leaves FILE as it was.  Missing folders are created; a
    place that cannot take the file is an :class:`OutputFileError` before anything runs.
    """
    import contextlib
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise OutputFileError(f"--output-file {path}: is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as ruff does
        fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                                   suffix=".tmp")
    except OSError as exc:
        raise OutputFileError(f"--output-file {path}: cannot write there ({exc.strerror or exc})") from None
    keep = False
    try:
        with open(fd, "w", encoding="utf-8", errors="surrogateescape") as stream:
            with contextlib.redirect_stdout(stream):
                code = run()
            keep = code != 130 and (code in (0, 1) or stream.tell() > 0)
        if keep:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # as a file the shell's `>` would create
            os.replace(tmp, path)
        return code
    except OSError as exc:
        keep = False
        raise OutputFileError(f"--output-file {path}: cannot write it ({exc.strerror or exc})") from None
    finally:
        if not keep:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
