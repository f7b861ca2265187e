"""Checking and fixing one document: the rule pipeline and the fix loop.

check:  Document -> every selected rule -> validated diagnostics (positions filled in).
fix:    check, apply every non-overlapping fix at or above the applicability threshold,
        re-parse, repeat until nothing changes (bounded).  Fixes that would break the
        front matter are thrown away and reported; failing to converge is reported.
"""

from __future__ import annotations

import bisect
import re
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

from tidymark.diagnostics import Applicability, Diagnostic, Edit, Fix, FixKind, Severity
from tidymark.document import Document
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

MAX_PASSES = 10

# Engine diagnostics: not rules, cannot be deselected.
IO_ERROR = ("TM001", "unreadable-file")
INTERNAL_ERROR = ("TM002", "internal-error")
FIX_DISCARDED = ("TM003", "fix-discarded")
ENGINE_CODES = {IO_ERROR[0], INTERNAL_ERROR[0], FIX_DISCARDED[0]}


def engine_diagnostic(kind: tuple[str, str], message: str, span: Span = Span(0, 0),
                      severity: Severity = Severity.ERROR) -> Diagnostic:
    return Diagnostic(kind[0], kind[1], message, span, severity)


class RuleContractError(Exception):
    pass


class RuleTimeout(BaseException):
    """Raised inside a rule that ran past ``rule-timeout`` (a BaseException, so that a rule's
    own ``except Exception`` cannot swallow it)."""


class _TimeLimit:
    """A SIGALRM timer for the rule calls on one document.

    :meth:`start` installs the handler once per document and pauses a timer that was
    already running (the caller's own); each rule call is armed and disarmed (a
    ``setitimer`` each, not a handler swap per rule); :meth:`stop` puts the handler and the
    caller's timer back.  Only in the main thread of a process (signals are delivered there;
    the CLI and its worker processes run rules in their main thread); elsewhere there is no
    limit.
    """

    __slots__ = ("seconds", "active", "installed", "old_handler", "old_timer", "started")

    def __init__(self, seconds: float | None):
        self.seconds = seconds
        self.active = False
        self.installed = False
        self.old_handler = None
        self.old_timer = (0.0, 0.0)
        self.started = 0.0

    def _on_alarm(self, signum, frame) -> None:
        if self.active:
            self.active = False
            raise RuleTimeout()

    def start(self) -> None:
        if (not self.seconds or self.seconds <= 0 or not hasattr(signal, "setitimer")
                or threading.current_thread() is not threading.main_thread()):
            return
        self.old_handler = signal.signal(signal.SIGALRM, self._on_alarm)
        self.installed = True
        self.started = time.monotonic()
        self.old_timer = signal.setitimer(signal.ITIMER_REAL, 0)

    def arm(self) -> None:
        if self.installed:
            self.active = True
            signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def disarm(self) -> None:
        if self.installed:
            self.active = False
            signal.setitimer(signal.ITIMER_REAL, 0)

    def stop(self) -> None:
        if not self.installed:
            return
        self.disarm()
        self.installed = False
        signal.signal(signal.SIGALRM, self.old_handler)
        self.old_handler = None
        delay, interval = self.old_timer
        if delay:
            left = delay - (time.monotonic() - self.started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), interval)


def _validate(rule: Rule, d: Diagnostic, doc: Document) -> Diagnostic:
    n = len(doc.text)
    if not isinstance(d, Diagnostic):
        raise RuleContractError(f"returned {type(d).__name__}, not a Diagnostic")
    if not isinstance(d.span, Span):
        raise RuleContractError(f"diagnostic span is a {type(d.span).__name__}, not a Span")
    if not isinstance(d.message, str):
        raise RuleContractError(f"diagnostic message is a {type(d.message).__name__}, not a str")
    if d.span.end > n:
        raise RuleContractError(f"diagnostic span {d.span.start}-{d.span.end} is outside the document (length {n})")
    fix = d.fix
    if fix is not None:
        if rule.fix_availability is FixAvailability.NONE:
            raise RuleContractError("rule declares no fixes but returned one")
        if not isinstance(fix, Fix):
            raise RuleContractError(f"fix is a {type(fix).__name__}, not a Fix")
        if not fix.edits:
            raise RuleContractError("fix has no edits")
        prev = None
        for e in fix.edits:
            if not isinstance(e, Edit) or not isinstance(e.span, Span) or not isinstance(e.text, str):
                raise RuleContractError(f"fix has an edit that is not an Edit(Span, str): {e!r:.80}")
            if e.span.end > n:
                raise RuleContractError(f"edit {e.span.start}-{e.span.end} is outside the document (length {n})")
            if prev is not None and e.span.start < prev.span.end:
                raise RuleContractError(f"fix edits overlap at {e.span.start}")
            prev = e
        nonempty = [e.span for e in fix.edits if len(e.span)]
        if not rule.may_edit_protected and nonempty and (
                any(doc.is_protected(s) for s in nonempty) if len(nonempty) < 8
                else len(doc.unprotected(nonempty)) < len(nonempty)):
            # Code and HTML comments are never edited: keep the report, drop the fix.
            d = replace(d, fix=None)
    elif rule.fix_availability is FixAvailability.ALWAYS:
        pass  # a protected region may have removed it; contract tests check declared behaviour
    if d.code != rule.code:
        d = replace(d, code=rule.code, name=rule.name)
    return d


def _locate(doc: Document, d: Diagnostic) -> Diagnostic:
    line, col = doc.position(d.span.start)
    end = d.span.end
    # Whole-line spans end at the start of the next line: report the end of the last line.
    if end > d.span.start and doc.text[end - 1:end] in ("\n", "\r"):
        end -= 1
        if end > d.span.start and doc.text[end - 1:end + 1] == "\r\n":
            end -= 1
    eline, ecol = doc.position(end)
    return replace(d, line=line, column=col, end_line=eline, end_column=ecol)


def _prefilter(rule: Rule) -> "re.Pattern":
    """One compiled alternation of a rule's ``needs_any`` substrings (built once per rule object)."""
    pat = rule.__dict__.get("_needs_any_re")
    if pat is None:
        pat = re.compile("|".join(re.escape(s) for s in sorted(set(rule.needs_any), key=len, reverse=True)))
        rule.__dict__["_needs_any_re"] = pat
    return pat


def _run_rule(rule: Rule, doc: Document, timeout: float | None = None,
              limit: _TimeLimit | None = None) -> list[Diagnostic]:
    """One rule's diagnostics, or an internal-error diagnostic.  ``limit``: the document's
    started timer (without one, a timer is started for this call alone)."""
    own = limit is None
    if own:
        limit = _TimeLimit(timeout)
        limit.start()
    try:
        return _checked(rule, doc, timeout, limit)
    finally:
        if own:
            limit.stop()


def _checked(rule: Rule, doc: Document, timeout: float | None, limit: _TimeLimit) -> list[Diagnostic]:
    try:
        limit.arm()
        try:
            return [_validate(rule, d, doc) for d in rule.check(doc) or ()]
        finally:
            limit.disarm()
    except RuleTimeout:
        limit.disarm()
        return [engine_diagnostic(INTERNAL_ERROR, f"rule {rule.code} ({rule.name}) did not finish within "
                                                  f"{timeout:g} s (`rule-timeout`) and was stopped")]
    except RuleContractError as exc:
        return [engine_diagnostic(INTERNAL_ERROR, f"rule {rule.code} ({rule.name}) broke the rule contract: {exc}")]
    except RecursionError:
        return [engine_diagnostic(INTERNAL_ERROR, f"rule {rule.code} ({rule.name}) failed: document nested too deeply")]
    except Exception as exc:  # noqa: BLE001 - a broken rule must not stop the run
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
        return [engine_diagnostic(INTERNAL_ERROR, f"rule {rule.code} ({rule.name}) raised {type(exc).__name__}: {exc}{where}")]


def check_document(doc: Document, rules: list[Rule], *, timeout: float | None = None,
                   known: tuple[tuple[str, str], ...] | None = None) -> list[Diagnostic]:
    """Run every rule on ``doc``, drop what inline suppressions silence, locate the rest.

    A rule that raises, breaks the rule contract or runs longer than ``timeout`` seconds
    becomes an internal-error diagnostic naming it; the other rules go on.  ``known``: the
    (code, name) of every rule of the run, selected or not (rule packs and local rules
    included), against which suppression comments' codes are judged; None judges none.
    """
    from tidymark.core import suppress

    limit = _TimeLimit(timeout)
    limit.start()
    try:
        out: list[Diagnostic] = []
        text = doc.text
        last: list[Rule] = []
        for rule in rules:
            if rule.runs_last:
                last.append(rule)
                continue
            if rule.needs_any and _prefilter(rule).search(text) is None:
                continue
            out.extend(_run_rule(rule, doc, timeout, limit))
        fm = doc.front_matter
        if "tidymark-" in text or (fm is not None and "tidymark" in fm.content):
            sup = doc.memo("suppressions", lambda: suppress.parse(doc))
            kept = []
            for d in out:
                if d.code in ENGINE_CODES:
                    kept.append(d)
                    continue
                s = sup.suppressor(d.code, d.name, doc.position(d.span.start)[0])
                if s is None:
                    kept.append(d)
                else:
                    s.used.add((d.code, d.name))
            out = kept
        doc.memo("selected", lambda: tuple((r.code, r.name) for r in rules))
        doc.memo("known", lambda: known)
        for rule in last:
            out.extend(_run_rule(rule, doc, timeout, limit))
    finally:
        limit.stop()
    out = [_locate(doc, d) for d in out]
    out.sort(key=Diagnostic.sort_key)
    return out


def _conflicts(a: Edit, b: Edit) -> bool:
    if a.span.start < b.span.end and b.span.start < a.span.end:
        return True
    # insertions touching another edit are ordered ambiguously: apply in a later pass
    if len(a.span) == 0 and b.span.start <= a.span.start <= b.span.end:
        return True
    if len(b.span) == 0 and a.span.start <= b.span.start <= a.span.end:
        return True
    return False


def select_fixes(diags: list[Diagnostic], threshold: Applicability) -> list[Diagnostic]:
    """Fixes to apply in one pass: sorted, whole, non-overlapping (others wait a pass)."""
    cands = [d for d in diags if d.fix is not None and d.fix.applicability >= threshold
             and d.fix.applicability > Applicability.DISPLAY_ONLY]
    cands.sort(key=lambda d: (d.fix.span.start, d.fix.span.end, d.code))
    taken: list[Diagnostic] = []
    # the edits taken so far, sorted: they never conflict with each other, so an edit can only
    # conflict with the one taken just before it and those starting inside it (linear, not
    # quadratic, in the number of fixes: a note may carry tens of thousands of them)
    starts: list[int] = []
    applied: list[Edit] = []
    seen: set[tuple] = set()

    def clashes(e: Edit) -> bool:
        i = bisect.bisect_left(starts, e.span.start)
        for j in range(max(0, i - 2), len(applied)):
            a = applied[j]
            if a.span.start > e.span.end:
                break
            if _conflicts(e, a):
                return True
        return False

    for d in cands:
        key = d.fix.edits
        if key in seen:
            continue
        if any(clashes(e) for e in d.fix.edits):
            continue
        seen.add(key)
        taken.append(d)
        for e in d.fix.edits:
            i = bisect.bisect_right(starts, e.span.start)
            starts.insert(i, e.span.start)
            applied.insert(i, e)
    return taken


def apply_edits(text: str, edits: list[Edit]) -> str:
    parts = []
    pos = 0
    for e in sorted(edits, key=lambda e: (e.span.start, e.span.end)):
        parts.append(text[pos:e.span.start])
        parts.append(e.text)
        pos = e.span.end
    parts.append(text[pos:])
    return "".join(parts)


@dataclass
class FixOutcome:
    text: str                                   # final text (original when nothing applied)
    diagnostics: list[Diagnostic]               # what remains in the final text
    applied: list[Diagnostic] = field(default_factory=list)   # fixes applied, in pass order
    passes: int = 0
    problems: list[Diagnostic] = field(default_factory=list)  # discarded / non-convergence reports
    pass_edits: list[list[Edit]] = field(default_factory=list)  # the edits of each applied pass
    applied_pass: list[int] = field(default_factory=list)  # the pass of each applied fix

    def to_original(self, span: Span, pass_index: int) -> Span:
        for earlier in reversed(self.pass_edits[:pass_index]):
            span = map_back(span, earlier)
        return span

    def applied_in_original(self) -> list[tuple[Diagnostic, list[Span]]]:
        """Each applied fix with its edit spans in the original text."""
        return [(d, [self.to_original(e.span, k) for e in d.fix.edits])
                for d, k in zip(self.applied, self.applied_pass)]

    def original_spans(self) -> list[Span]:
        """Every applied edit mapped back to a span of the original text."""
        out: list[Span] = []
        for k, edits in enumerate(self.pass_edits):
            for e in edits:
                span = e.span
                for earlier in reversed(self.pass_edits[:k]):
                    span = map_back(span, earlier)
                out.append(span)
        return out

    @property
    def changed(self) -> bool:
        return bool(self.applied)


@dataclass(frozen=True)
class Guard:
    """The content-loss guard of a fix run.

    ``max_removal``: the share of the body's visible non-whitespace characters (link
    targets, bare URLs and HTML tags are not text a reader sees) that removal fixes may
    take out of one file, once they remove more than ``min_chars``; beyond it nothing is
    applied.
    ``verify``: after each pass, require every block the pass did not touch to come out
    with the same type and text, in order (passes with a fix from a rule that declares
    ``changes_structure``, such as unescaping an escaped body, are exempt).
    """

    max_removal: float = 0.30
    min_chars: int = 200
    verify: bool = True


_REMOVALS = (FixKind.REMOVE_CONTENT, FixKind.REMOVE_SCAFFOLDING)


_NOT_PROSE = re.compile(r"(?<=\])\([^)\s]*(?:\s+\"[^\"]*\")?\)|<[^>\n]{1,500}>|https?://\S+|\s+")


def visible_chars(text: str) -> int:
    """Non-whitespace characters a reader sees: link targets, URLs and HTML tags do not count."""
    return len(_NOT_PROSE.sub("", text))


def _failed_rules(diags: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.code == INTERNAL_ERROR[0]]


def _nothing_applied(d: Diagnostic) -> Diagnostic:
    return replace(d, message=f"{d.message}; no fix was applied to this file")


def fix_document(doc: Document, rules: list[Rule], threshold: Applicability = Applicability.SAFE,
                 unfixable: frozenset[str] = frozenset(), max_passes: int = MAX_PASSES,
                 guard: Guard | None = Guard(), *, timeout: float | None = None,
                 known: tuple[tuple[str, str], ...] | None = None) -> FixOutcome:
    """Apply fixes until the text stops changing.

    Never returns a text whose front matter no longer parses, that lost more than the
    deletion budget, or whose untouched blocks changed structure: in those cases nothing
    is applied and the outcome carries a diagnostic saying why.  Nor when a rule failed
    (raised, broke the rule contract, ran past ``timeout`` seconds) on the original or on
    any intermediate text: a broken rule may have missed what keeps another fix safe, so the
    file is left as it is and the failure is reported, naming the rule.
    """
    original = doc
    current = doc
    applied: list[Diagnostic] = []
    diags = check_document(current, rules, timeout=timeout, known=known)
    first = diags
    failed = _failed_rules(diags)
    if failed:
        return FixOutcome(original.text, [_nothing_applied(d) if d.code == INTERNAL_ERROR[0] else d for d in diags])
    fm0 = original.front_matter
    fm_ok_before = fm0 is not None and fm0.closed and fm0.error is None
    history = {current.text}
    pass_edits: list[list[Edit]] = []
    applied_pass: list[int] = []
    removed = 0
    outcome = None
    restructuring = {r.code for r in rules if r.changes_structure}
    for n in range(1, max_passes + 1):
        chosen = [d for d in select_fixes(diags, threshold) if d.code not in unfixable]
        if not chosen:
            outcome = FixOutcome(current.text, diags, applied, n - 1, pass_edits=pass_edits, applied_pass=applied_pass)
            break
        edits = [e for d in chosen for e in d.fix.edits]
        text = apply_edits(current.text, edits)
        nxt = Document(text, original.path, bom=original.bom, newline=original.newline)
        if fm_ok_before:
            fm = nxt.front_matter
            if fm is None or not fm.closed or fm.error is not None:
                codes = ", ".join(sorted({d.code for d in chosen}))
                why = fm.error.message if fm is not None and fm.error is not None else "front matter disappeared"
                return _discard(original, first, n, FIX_DISCARDED,
                                f"fixes by {codes} would break the front matter ({why}); no fix was applied to this file")
            added = _new_duplicate_keys(current, nxt, edits)
            if added:
                codes = ", ".join(sorted({d.code for d in chosen}))
                keys = ", ".join(f"`{k}`" for k in added)
                return _discard(original, first, n, FIX_DISCARDED,
                                f"fixes by {codes} would repeat the front-matter key {keys}; "
                                f"no fix was applied to this file")
        if text in history:  # the fixes undo each other
            return _not_converged(original, first, chosen, n)
        if guard is not None and guard.verify and not any(d.code in restructuring for d in chosen):
            broken = _changed_blocks(current, nxt, chosen)
            if broken is not None:
                line, codes = broken
                return _discard(original, first, n, INTERNAL_ERROR,
                                f"fixes by {codes} changed the structure of untouched text at line {line}; "
                                f"no fix was applied to this file")
        history.add(text)
        removed += sum(visible_chars("".join(current.text[e.span.start:e.span.end] for e in d.fix.edits))
                       - visible_chars("".join(e.text for e in d.fix.edits))
                       for d in chosen if d.fix.kind in _REMOVALS)
        applied_pass.extend([len(pass_edits)] * len(chosen))
        pass_edits.append(sorted(edits))
        applied.extend(chosen)
        current = nxt
        diags = check_document(current, rules, timeout=timeout, known=known)
        failed = _failed_rules(diags)
        if failed:  # a rule fails on the fixed text: keep the original, report the failure
            return FixOutcome(original.text, first, [], n,
                              [_locate(original, _nothing_applied(replace(d, message=f"{d.message} (on the text "
                                                                                        f"after fix pass {n})")))
                               for d in failed])
    if outcome is None:
        pending = [d for d in select_fixes(diags, threshold) if d.code not in unfixable]
        if pending:
            return _not_converged(original, first, pending, max_passes)
        outcome = FixOutcome(current.text, diags, applied, max_passes, pass_edits=pass_edits,
                             applied_pass=applied_pass)
    if guard is None or not outcome.applied:
        return outcome
    body = visible_chars(original.body)
    if removed > guard.min_chars and removed > guard.max_removal * body:
        codes = ", ".join(sorted({d.code for d in outcome.applied if d.fix.kind in _REMOVALS}))
        share = removed / body if body else 1.0
        return _discard(original, first, outcome.passes, FIX_DISCARDED,
                        f"fixes by {codes} would remove {share:.0%} of the body's text ({removed:,} of {body:,} "
                        f"characters), over the {guard.max_removal:.0%} budget (`max-removal`); "
                        f"no fix was applied to this file")
    return outcome


def _discard(original: Document, first: list[Diagnostic], passes: int, kind: tuple[str, str],
             message: str) -> FixOutcome:
    """Nothing applied: the original text, its diagnostics (``first``) and the reason."""
    problem = engine_diagnostic(kind, message)
    return FixOutcome(original.text, first, [], passes, [_locate(original, problem)])


def _changed_blocks(before: Document, after: Document, applied: list[Diagnostic]) -> tuple[int, str] | None:
    """The first block of ``before`` untouched by ``applied`` that is missing from ``after``.

    Returns (its line, the codes of the fixes nearest to it) or None when every untouched
    block comes out with the same type and text, in order.
    """
    import bisect

    touched = sorted(e.span for d in applied for e in d.fix.edits)
    starts = [t.start for t in touched]

    def overlaps(span: Span) -> bool:
        # the edits of one pass never overlap, so walking back from the last edit that starts
        # before the block's end can stop at the first one that ends before the block starts
        j = bisect.bisect_left(starts, span.end) - 1
        while j >= 0:
            t = touched[j]
            if span.start < t.end:
                if t.start < span.end:
                    return True
            else:
                return False
            j -= 1
        return False

    def key(doc: Document, b) -> tuple[str, str]:
        return b.kind, doc.text[b.span.start:b.span.end].strip()

    after_keys = [key(after, b) for b in after.blocks]
    j = 0
    for b in before.blocks:
        if overlaps(b.span):
            continue
        k = key(before, b)
        while j < len(after_keys) and after_keys[j] != k:
            j += 1
        if j == len(after_keys):
            near = sorted({d.code for d in applied for e in d.fix.edits
                           if abs(before.lines.line_of(e.span.start) - b.line0) <= 3}
                          or {d.code for d in applied})
            return b.line0 + 1, ", ".join(near)
        j += 1
    return None


def map_back(span: Span, edits: list[Edit]) -> Span:
    """Map a span of the text after ``edits`` to the span of the text before them."""
    def back(pos: int, is_end: bool) -> int:
        delta = 0
        for e in edits:
            new_start = e.span.start + delta
            new_end = new_start + len(e.text)
            if pos < new_start or (pos == new_start and not is_end and len(e.text)):
                break
            if not e.text and pos == new_start:
                # at a deletion: a start lies after the deleted text, an end before it
                return e.span.start if is_end else e.span.end
            if pos <= new_end and (pos < new_end or is_end):
                return e.span.end if is_end else e.span.start
            delta += len(e.text) - len(e.span)
        return pos - delta
    a = back(span.start, False)
    b = back(span.end, True)
    return Span(min(a, b), max(a, b))


def _duplicate_keys(doc: Document) -> set[str]:
    """The keys (dotted paths) that occur more than once in one mapping of the front matter."""
    fm = doc.front_matter
    if fm is None or fm.kind != "yaml" or fm.error is not None:
        return set()
    seen: set[tuple] = set()
    dup: set[str] = set()
    for e in fm.entries:
        where = (*e.path, e.key)
        if where in seen:
            dup.add(".".join(str(p) for p in where))
        seen.add(where)
    return dup


def _new_duplicate_keys(before: Document, after: Document, edits: list[Edit]) -> list[str]:
    """Keys a pass's edits repeat in the front matter (only looked at when they touch it)."""
    fm = before.front_matter
    if fm is None or fm.kind != "yaml" or not any(e.span.start < fm.span.end for e in edits):
        return []
    return sorted(_duplicate_keys(after) - _duplicate_keys(before))


def _not_converged(original: Document, first: list[Diagnostic], pending: list[Diagnostic],
                   passes: int) -> FixOutcome:
    codes = ", ".join(sorted({d.code for d in pending}))
    return _discard(original, first, passes, FIX_DISCARDED,
                    f"fixes did not converge after {passes} passes (rules: {codes}); no fix was applied to this file")
