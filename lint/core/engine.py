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

    ``max_removal``: the share of the body's article prose (see :func:`prose_chars`) that
    the fixes of one file may take out.  Beyond it, every fix that removes text is held back
    and only the fixes that remove none (URL, front-matter and escape rewrites) are applied.
    Headings, tags, link lists, bylines and other lines that are not sentences are not
    prose: removing them costs nothing, however short the note.  Up to :data:`PROSE_FLOOR`
    characters of prose may always go (unless ``max_removal`` is 0: then no prose may).
    ``verify``: after each pass, require every block the pass did not touch to come out
    with the same type and text, in order, and the rest of each block it did touch to parse
    as it did (a removal must not turn the lines left around it into a code block or a link
    definition).  Passes with a fix from a rule that declares ``changes_structure``, such as
    unescaping an escaped body, may change the blocks their own edits open (a restored code
    fence or HTML block takes in the lines up to its end), and nothing else.
    """

    max_removal: float = 0.30
    verify: bool = True


_REMOVALS = (FixKind.REMOVE_CONTENT, FixKind.REMOVE_SCAFFOLDING)


_NOT_PROSE = re.compile(r"(?<=\])\([^)\s]*(?:\s+\"[^\"]*\")?\)|<[^>\n]{1,500}>|https?://\S+|\s+")


def visible_chars(text: str) -> int:
    """Non-whitespace characters a reader sees: link targets, URLs and HTML tags do not count."""
    return len(_NOT_PROSE.sub("", text))


_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_FENCE = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")
_QUOTE = re.compile(r"[ \t]*(?:>[ \t]?)*")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_IMAGE = re.compile(r"!\[[^\]\n]*\](?:\([^)\n]*\)|\[[^\]\n]*\])?")
# what is not words of a sentence: links (text and target), autolinks and HTML tags, bare
# URLs, #tags, entities
_NOT_WORDS = re.compile(r"\[[^\]\n]*\](?:\([^)\n]*\)|\[[^\]\n]*\])|<[^>\n]{1,500}>|(?:https?://|www\.)\S+"
                        r"|(?<!\S)#[^\s#]\S*|&#?\w{1,10};")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_END = re.compile(r"[\u3002\uff01\uff1f]|[.!?\u2026][\"'\u201d\u2019\u00bb)\]*_]*(?=\s|$)")
#: a unit of text is prose when it has this many words and ends a sentence, or twice as many
#: (a CJK character counts half a word)
PROSE_WORDS = 5


def _unit_prose(lines: list[str]) -> int:
    if not lines:
        return 0
    unit = _IMAGE.sub(" ", " ".join(lines))
    words = _NOT_WORDS.sub(" ", unit)
    cjk = len(_CJK.findall(words))
    n = sum(1 for w in _CJK.sub(" ", words).split() if _LETTER.search(w)) + cjk / 2
    if n >= 2 * PROSE_WORDS or (n >= PROSE_WORDS and _SENTENCE_END.search(words)):
        return visible_chars(unit)
    return 0


def prose_chars(text: str) -> int:
    """The visible characters of ``text`` that are article prose: paragraphs, list items and
    quotes with sentences in them (at least :data:`PROSE_WORDS` words and a full stop, or
    twice as many words).  Headings, code, HTML comments, images, lines of links or tags,
    bylines and labels count nothing; link targets, URLs and tags never count."""
    if "<!--" in text:
        text = _COMMENT.sub("\n", text)
    total = 0
    unit: list[str] = []
    fence = None
    for line in text.splitlines():
        line = line[_QUOTE.match(line).end():] if ">" in line[:8] else line
        m = _FENCE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line[m.end():].strip():
                fence = None
            continue
        if m:
            total += _unit_prose(unit)
            unit, fence = [], m.group(1)
            continue
        if not line.strip() or _HEADING.match(line):
            total += _unit_prose(unit)
            unit = []
            continue
        item = _ITEM.match(line)
        if item:
            total += _unit_prose(unit)
            unit = [line[item.end():]]
            continue
        unit.append(line)
    return total + _unit_prose(unit)


def removed_prose(doc: Document, d: Diagnostic) -> int:
    """The article prose a fix takes out of the body of ``doc``, whatever its kind: the prose
    of the text it replaces less that of the text it puts in (entities read as what they
    stand for, so unescaping removes nothing)."""
    import html

    start = doc.body_start
    edits = [e for e in d.fix.edits if e.span.end > start and len(e.span)]
    if not edits:
        return 0
    old = "\n\n".join(doc.text[max(e.span.start, start):e.span.end] for e in edits)
    gone = prose_chars(html.unescape(old) if "&" in old else old)
    if not gone:
        return 0
    new = "\n\n".join(e.text for e in edits)
    return max(0, gone - prose_chars(html.unescape(new) if "&" in new else new))


def removes_text(doc: Document, d: Diagnostic) -> bool:
    """Whether the deletion budget may hold a fix back: removal fixes, and any other fix
    that takes prose out (a rule pack's substitution, for example)."""
    return d.fix.kind in _REMOVALS or removed_prose(doc, d) > 0


HELD_NOTE = "held back by the deletion budget (`max-removal`), see TM003"


def hold(d: Diagnostic) -> Diagnostic:
    """``d`` with its fix marked as one the deletion budget holds back: shown, not applied."""
    fix = Fix(d.fix.edits, Applicability.DISPLAY_ONLY, d.fix.title, d.fix.kind)
    return replace(d, fix=fix, message=f"{d.message}; {HELD_NOTE}")


#: prose that fixes may always remove from a note (a sentence or two, such as a call to
#: action in a short note), unless ``max-removal`` is 0
PROSE_FLOOR = 150


def _over_budget(removed: int, body: int, max_removal: float) -> bool:
    if max_removal <= 0:
        return removed > 0
    return removed > PROSE_FLOOR and removed > max_removal * body


def _suggest(share: float) -> str:
    import math

    return f"{min(1.0, math.ceil(share * 20 + 1e-9) / 20):g}"


def _budget_message(codes: str, removed: int, body: int, max_removal: float, what: str) -> str:
    share = removed / body if body else 1.0
    return (f"fixes by {codes} would remove {share:.0%} of the body's prose ({removed:,} of {body:,} characters "
            f"of sentences), over the {max_removal:.0%} budget (`max-removal`); {what}. If those removals are "
            f"right, allow them with `--max-removal {_suggest(share)}` or `max-removal` in the configuration "
            f"of this note's folder")


def budget_check(doc: Document, diags: list[Diagnostic], threshold: Applicability = Applicability.SAFE,
                 unfixable: frozenset[str] = frozenset(), max_removal: float = Guard.max_removal,
                 ) -> list[Diagnostic]:
    """What ``check`` reports of the deletion budget: when the fixes ``fix`` would apply first
    remove more prose than the budget allows, those that remove text are marked as held back
    (no longer offered as fixable) and a ``TM003`` says so and what to do."""
    chosen = [d for d in select_fixes([d for d in diags if d.code not in unfixable], threshold)]
    if not chosen:
        return diags
    removed = {id(d): removed_prose(doc, d) for d in chosen}
    total = sum(removed.values())
    if not total:
        return diags
    body = prose_chars(doc.body)
    if not _over_budget(total, body, max_removal):
        return diags
    held = {id(d) for d in chosen if removed[id(d)] or d.fix.kind in _REMOVALS}
    codes = ", ".join(sorted({d.code for d in chosen if removed[id(d)]}))
    note = engine_diagnostic(FIX_DISCARDED, _budget_message(
        codes, total, body, max_removal, "`tidymark fix` holds back the fixes that remove text (marked "
        "below) and applies the others"))
    out = [hold(d) if id(d) in held else d for d in diags]
    out.append(_locate(doc, note))
    out.sort(key=Diagnostic.sort_key)
    return out


def _failed_rules(diags: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diags if d.code == INTERNAL_ERROR[0]]


def _nothing_applied(d: Diagnostic) -> Diagnostic:
    return replace(d, message=f"{d.message}; no fix was applied to this file")


def fix_document(doc: Document, rules: list[Rule], threshold: Applicability = Applicability.SAFE,
                 unfixable: frozenset[str] = frozenset(), max_passes: int = MAX_PASSES,
                 guard: Guard | None = Guard(), *, timeout: float | None = None,
                 hold_removals: bool = False, known: tuple[tuple[str, str], ...] | None = None) -> FixOutcome:
    """Apply fixes until the text stops changing.

    Never returns a text whose front matter no longer parses, or whose untouched blocks
    changed structure: in those cases nothing is applied and the outcome carries a
    diagnostic saying why.  When the fixes would remove more prose than the deletion budget
    allows, the fixes that remove text are held back (``hold_removals``: from the start),
    the others are applied, and a ``TM003`` says so.  Nor when a rule failed
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
    eaters: set[str] = set()  # the rules whose fixes took prose out
    outcome = None
    restructuring = {r.code for r in rules if r.changes_structure}
    for n in range(1, max_passes + 1):
        chosen = [d for d in select_fixes(_allowed(current, diags, unfixable, hold_removals), threshold)]
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
        if guard is not None and guard.verify:
            broken = _changed_blocks(current, nxt, chosen, any(d.code in restructuring for d in chosen))
            if broken is not None:
                line, codes = broken
                return _discard(original, first, n, INTERNAL_ERROR,
                                f"fixes by {codes} changed the structure of untouched text at line {line}; "
                                f"no fix was applied to this file")
        history.add(text)
        if guard is not None:
            for d in chosen:
                gone = removed_prose(current, d)
                if gone:
                    removed += gone
                    eaters.add(d.code)
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
        pending = select_fixes(_allowed(current, diags, unfixable, hold_removals), threshold)
        if pending:
            return _not_converged(original, first, pending, max_passes)
        outcome = FixOutcome(current.text, diags, applied, max_passes, pass_edits=pass_edits,
                             applied_pass=applied_pass)
    if guard is None or not outcome.applied or hold_removals:
        return outcome
    body = prose_chars(original.body)
    if _over_budget(removed, body, guard.max_removal):
        codes = ", ".join(sorted(eaters))
        kept = fix_document(original, rules, threshold, unfixable, max_passes, guard, timeout=timeout,
                            hold_removals=True, known=known)
        if kept.problems:  # the rewrites alone were refused: that report says why
            return kept
        final = Document(kept.text, original.path, bom=original.bom, newline=original.newline)
        left = [hold(d) if d.fix is not None and d.fix.applicability >= threshold and d.code not in unfixable
                and removes_text(final, d) else d for d in kept.diagnostics]
        what = ("these fixes were held back" + ("; the fixes that remove no text were applied" if kept.applied
                                                 else "; no fix was applied to this file"))
        problem = engine_diagnostic(FIX_DISCARDED, _budget_message(codes, removed, body, guard.max_removal, what))
        return replace(kept, diagnostics=left, problems=[_locate(original, problem)])
    return outcome


def _allowed(doc: Document, diags: list[Diagnostic], unfixable: frozenset[str], hold_removals: bool
             ) -> list[Diagnostic]:
    """The diagnostics whose fixes may be chosen: not of an unfixable rule; with
    ``hold_removals``, none that removes text."""
    return [d for d in diags if d.fix is not None and d.code not in unfixable
            and not (hold_removals and removes_text(doc, d))]


def _discard(original: Document, first: list[Diagnostic], passes: int, kind: tuple[str, str],
             message: str) -> FixOutcome:
    """Nothing applied: the original text, its diagnostics (``first``) and the reason."""
    problem = engine_diagnostic(kind, message)
    return FixOutcome(original.text, first, [], passes, [_locate(original, problem)])


#: blocks that run to a closing line, taking in whatever lies before it
_RUNS_TO_END = ("fence", "html_block")


def _changed_blocks(before: Document, after: Document, applied: list[Diagnostic],
                    restructuring: bool = False) -> tuple[int, str] | None:
    """The first block of ``before`` that ``applied`` changed without editing it.

    Every block the edits do not touch must come out with the same type and text, in order;
    what is left of a block they touch must still parse as a block of the same type (a
    removal must not turn the lines below it into a code block, a link definition or a list).
    With ``restructuring`` (unescaping), an untouched block may be taken into a code fence or
    HTML block that the edits changed (a restored fence runs to its closing fence), and the
    rest of a touched block may change type.  Returns (the block's line, the codes of the fixes nearest
    to it) or None.
    """
    import bisect

    touched = sorted(e.span for d in applied for e in d.fix.edits)
    starts = [t.start for t in touched]
    # each edit's place in ``after``: its start, end, and the shift of the text after it
    new_spans: list[tuple[int, int]] = []
    shift = [0]
    for e in sorted(e for d in applied for e in d.fix.edits):
        a = e.span.start + shift[-1]
        new_spans.append((a, a + len(e.text)))
        shift.append(shift[-1] + len(e.text) - len(e.span))
    ends = [t.end for t in touched]
    after_blocks = after.blocks
    after_starts = [b.span.start for b in after_blocks]
    new_starts = [a for a, _ in new_spans]

    def to_after(pos: int) -> int:
        # a position outside every edit: shifted by the edits that end at or before it
        return pos + shift[bisect.bisect_right(ends, pos)]

    def block_at(pos: int) -> int:
        i = bisect.bisect_right(after_starts, pos) - 1
        return i if i >= 0 and after_blocks[i].span.start <= pos < after_blocks[i].span.end else -1

    def edited(i: int) -> bool:
        span = after_blocks[i].span
        j = bisect.bisect_left(new_starts, span.end) - 1
        while j >= 0:
            a, b = new_spans[j]
            if b < span.start:
                return False
            if a < span.end and (span.start < b or a == b):
                return True
            j -= 1
        return False

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

    def rest_reparsed(b) -> bool:
        """Whether a line left of touched block ``b`` is now outside any block (a link
        definition) or in a block of another type."""
        text = before.text
        pos = b.span.start
        lo = bisect.bisect_left(ends, b.span.start + 1)
        pieces = []
        for t in touched[lo:]:
            if t.start >= b.span.end:
                break
            pieces.append((pos, t.start))
            pos = max(pos, t.end)
        pieces.append((pos, b.span.end))
        for a, z in pieces:
            i = a
            while i < z:
                nl = text.find("\n", i, z)
                line_end = z if nl == -1 else nl + 1
                seg = text[i:line_end]
                if seg.strip():
                    first = i + len(seg) - len(seg.lstrip())
                    k = block_at(to_after(first))
                    if k == -1 or after_blocks[k].kind != b.kind:
                        return True
                i = line_end
        return False

    def key(doc: Document, b) -> tuple[str, str]:
        return b.kind, doc.text[b.span.start:b.span.end].strip()

    def report(b) -> tuple[int, str]:
        near = sorted({d.code for d in applied for e in d.fix.edits
                       if abs(before.lines.line_of(e.span.start) - b.line0) <= 3}
                      or {d.code for d in applied})
        return b.line0 + 1, ", ".join(near)

    after_keys = [key(after, b) for b in after_blocks]
    j = 0
    for b in before.blocks:
        if overlaps(b.span):
            # (an HTML block takes in the lines after its tag up to a blank line: removing the
            # tag gives them back their own structure)
            if not restructuring and b.kind != "html_block" and rest_reparsed(b):
                return report(b)
            continue
        k = key(before, b)
        if restructuring:
            i = block_at(to_after(b.span.start))
            if i != -1 and after_keys[i] == k:
                j = i + 1
                continue
            if i != -1 and after_blocks[i].kind in _RUNS_TO_END and edited(i):
                continue  # taken into a fence or HTML block the edits opened
        while j < len(after_keys) and after_keys[j] != k:
            j += 1
        if j == len(after_keys):
            return report(b)
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
