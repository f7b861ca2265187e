from __future__ import annotations

from tidymark.core import suppress
from tidymark.core.selectors import matches
from tidymark.diagnostics import Edit, Fix, FixKind, Severity
from tidymark.edits import remove_span_lines
from tidymark.rule import FixAvailability, Rule




class UnusedSuppression(Rule):
    """A `tidymark-disable` comment that suppresses nothing.

    ## What it does
    Reports `<!-- tidymark-disable … -->`, `<!-- tidymark-disable-next-line … -->` and
    `<!-- tidymark-disable-file … -->` comments that silenced no diagnostic in this run,
    `<!-- tidymark-enable -->` comments that close nothing, and codes in them that name
    no rule.  Codes of rules that are not selected in this run are not judged.

    ## Why is this bad?
    A stale suppression hides the next real problem at that place, and unknown codes are
    usually typos that suppress nothing at all (ruff's unused-noqa, for Markdown).

    ## Example
    ```markdown
    <!-- tidymark-disable-next-line -->
    ![](https://images.example.org/a.png)
    ```

    Use instead:
    ```markdown
    ![](https://images.example.org/a.png)
    ```

    ## Fix safety
    Safe: the fix removes the comment (its whole line when it stands alone) when none of
    its codes was used; a comment with some used codes is reported without a fix.
    """

    code = "TM100"
    name = "unused-suppression"
    summary = "Suppression comment suppresses nothing"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe"
    may_edit_protected = True
    runs_last = True
    needs_any = ("tidymark-",)

    def check(self, doc):
        if "tidymark-" not in doc.text:
            return
        sup = doc.memo("suppressions", lambda: suppress.parse(doc))
        selected = doc.memo("selected", lambda: ())
        for s in sup.items:
            if s.kind == "front-matter":
                continue
            if s.kind == "enable":
                if ("enable", "") not in s.used:
                    yield self._report(doc, s, "`tidymark-enable` closes no `tidymark-disable`", True)
                continue
            codes = s.codes
            known = doc.memo("known", lambda: None)  # every rule of the run (packs included), from the engine
            unknown = [c for c in codes if known is not None and not any(matches(c, code, name) for code, name in known)]
            judged = [c for c in codes if any(matches(c, code, name) for code, name in selected)]
            if not codes:
                if not s.used:
                    yield self._report(doc, s, f"Unused suppression `tidymark-{s.kind}`", True)
                continue
            unused = [c for c in judged if not any(matches(c, code, name) for code, name in s.used)]
            if unknown or unused:
                parts = []
                if unused:
                    parts.append(f"unused code{'s' * (len(unused) > 1)} {', '.join(unused)}")
                if unknown:
                    parts.append(f"no rule matches {', '.join(unknown)}")
                yield self._report(doc, s, f"Suppression `tidymark-{s.kind}`: {'; '.join(parts)}",
                                   not s.used and len(unused) + len(unknown) == len(codes))

    def _report(self, doc, s, message, removable):
        fix = None
        if removable:
            line0 = doc.lines.line_of(s.span.start)
            line = doc.lines.line_text(line0)
            if line.strip() == doc.slice(s.span).strip():
                edit = remove_span_lines(doc, s.span)
            else:
                edit = Edit(s.span, "")
            fix = Fix.safe("Remove the unused suppression", edit, kind=FixKind.REMOVE_SCAFFOLDING)
        return self.diagnostic(s.span, message, fix=fix)
