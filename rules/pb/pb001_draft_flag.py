from __future__ import annotations

import re
from dataclasses import dataclass

from tidymark.diagnostics import Edit, Fix, FixKind, Severity
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}


def _truth(value) -> bool | None:
    """Truthiness as any common reader would see it (YAML 1.1 or 1.2, quoted or not)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        v = value.strip().strip("\"'").lower()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    return None


class DraftFlag(Rule):
    """The document is marked as a draft or as unpublished.

    ## What it does
    Reports front matter that marks the note as not for publishing: `draft: true` (also
    `yes`, `on` and the quoted `"true"`), `published: false` (also `no`, `off`) and
    `status: draft`, in YAML or TOML front matter.

    ## Why is this bad?
    Hugo, Quartz, Jekyll and most static site generators leave drafts out of the build.
    In a content folder that publishes, a forgotten draft flag silently hides a page;
    web clippers also add `draft: true` to every saved article.  As a CI gate this rule
    stops such a file before it is merged.

    ## Example
    ```markdown
    ---
    title: Release notes
    draft: true
    ---
    ```

    Use instead:
    ```markdown
    ---
    title: Release notes
    ---
    ```

    ## Fix safety
    Unsafe: only the author knows whether the note is ready.  The fix removes the flag's
    line and nothing else.

    ## Options
    - `draft-keys`: keys whose true value marks a draft (default `draft`)
    - `published-keys`: keys whose false value marks a draft (default `published`)
    - `status-keys`: keys holding a status (default `status`)
    - `draft-statuses`: status values that mean draft (default `draft`)
    """

    code = "PB001"
    name = "draft-flag"
    summary = "Document is marked as a draft"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "unsafe"

    @dataclass(frozen=True)
    class Options:
        draft_keys: tuple[str, ...] = ("draft",)
        published_keys: tuple[str, ...] = ("published",)
        status_keys: tuple[str, ...] = ("status",)
        draft_statuses: tuple[str, ...] = ("draft",)

    def _verdict(self, key: str, value) -> str | None:
        o = self.options
        k = key.lower()
        if k in {x.lower() for x in o.draft_keys} and _truth(value) is True:
            return f"`{key}: {value if not isinstance(value, bool) else str(value).lower()}` marks the document as a draft"
        if k in {x.lower() for x in o.published_keys} and _truth(value) is False:
            return f"`{key}: {value if not isinstance(value, bool) else str(value).lower()}` marks the document as unpublished"
        if k in {x.lower() for x in o.status_keys} and isinstance(value, str) \
                and value.strip().lower() in {s.lower() for s in o.draft_statuses}:
            return f"`{key}: {value}` marks the document as a draft"
        return None

    def check(self, doc):
        fm = doc.front_matter
        if fm is None or fm.error is not None:
            return
        if fm.kind == "yaml":
            o = self.options
            keys = {k.lower() for k in (*o.draft_keys, *o.published_keys, *o.status_keys)}
            if not any(str(k).lower() in keys for k in fm.values):
                return  # none of the keys: no need for positions (composing is the slow part)
            for e in fm.top():
                if not e.is_scalar:
                    continue
                msg = self._verdict(e.key, e.scalar)
                if msg is None:
                    reader = fm.values.get(e.key)
                    msg = self._verdict(e.key, reader) if isinstance(reader, bool) else None
                if msg:
                    fix = Fix.unsafe(f"Remove `{e.key}`", fm.delete_entry(e), kind=FixKind.FRONT_MATTER) \
                        if e.key_starts_line else None
                    yield self.diagnostic(Span(e.key_span.start, e.value_span.end), msg, fix=fix)
            return
        # TOML / JSON: values from the reader, lines located by key
        text = doc.text
        for key, value in fm.values.items():
            msg = self._verdict(str(key), value)
            if not msg:
                continue
            pat = (rf'^[ \t]*{re.escape(str(key))}[ \t]*=.*$' if fm.kind == "toml"
                   else rf'^[ \t]*"{re.escape(str(key))}"[ \t]*:.*$')
            m = re.compile(pat, re.M).search(text, fm.content_span.start, fm.content_span.end)
            if m is None:
                continue
            fix = None
            if fm.kind == "toml":
                line0 = doc.lines.line_of(m.start())
                fix = Fix.unsafe(f"Remove `{key}`", Edit(doc.line_span(line0), ""), kind=FixKind.FRONT_MATTER)
            yield self.diagnostic(Span(m.start(), m.end()), msg, fix=fix)
