"""The engine: rule pipeline, diagnostic validation, fix selection and the fix loop."""

from __future__ import annotations

import pytest

from tidymark.diagnostics import Applicability, Diagnostic, Edit, Fix, Severity
from tidymark.document import Document
from tidymark.engine import MAX_PASSES, apply_edits, check_document, fix_document, select_fixes
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span


def make_rule(code: str, check, *, fixable: bool = True, safety: str = "safe", protected_ok: bool = False):
    """A throwaway rule whose check is ``check(rule, doc)``."""
    attrs = {
        "__doc__": f"Test rule {code}.\n\n## What it does\nTests.\n",
        "code": code, "name": f"test-{code.lower()}", "summary": f"Test rule {code}",
        "fix_availability": FixAvailability.SOMETIMES if fixable else FixAvailability.NONE,
        "fix_safety": safety if fixable else "", "may_edit_protected": protected_ok,
        "check": lambda self, doc: check(self, doc),
    }
    return type(f"Rule{code}", (Rule,), attrs)()


def replace_word(code: str, old: str, new: str, *, unsafe: bool = False):
    """Report every `old` and fix it to `new`."""
    def check(rule, doc):
        i = doc.text.find(old)
        while i != -1:
            make = Fix.unsafe if unsafe else Fix.safe
            yield rule.diagnostic(Span(i, i + len(old)), f"{old} -> {new}",
                                  fix=make(f"Replace {old}", Edit.replace(i, i + len(old), new)))
            i = doc.text.find(old, i + len(old))
    return make_rule(code, check, safety="unsafe" if unsafe else "safe")


def diag(start: int, end: int, *edits: Edit, code: str = "XX001", app=Applicability.SAFE) -> Diagnostic:
    fix = Fix(tuple(edits), app, "t") if edits else None
    return Diagnostic(code, "x", "m", Span(start, end), Severity.ERROR, fix)


# -- apply_edits -------------------------------------------------------------------------

def test_apply_edits():
    text = "0123456789"
    assert apply_edits(text, []) == text
    assert apply_edits(text, [Edit.replace(2, 4, "ab")]) == "01ab456789"
    assert apply_edits(text, [Edit.delete(8, 10), Edit.insert(0, ">"), Edit.replace(4, 5, "")]) == ">0123567"
    assert apply_edits(text, [Edit.insert(10, "!")]) == "0123456789!"
    assert apply_edits(text, [Edit.insert(3, "a"), Edit.replace(3, 5, "B")]) == "012aB56789"


def test_span_validation():
    with pytest.raises(ValueError):
        Span(3, 2)
    with pytest.raises(ValueError):
        Span(-1, 2)
    assert Span(1, 3).overlaps(Span(2, 4)) and not Span(1, 3).overlaps(Span(3, 4))
    assert Span(2, 2).overlaps(Span(1, 3)) and not Span(1, 1).overlaps(Span(1, 3))


def test_fix_edits_are_sorted():
    f = Fix.safe("t", Edit.replace(5, 6, "b"), Edit.replace(1, 2, "a"))
    assert [e.span.start for e in f.edits] == [1, 5]
    assert f.span == Span(1, 6)


# -- fix selection -----------------------------------------------------------------------

def test_select_fixes_takes_non_overlapping_in_order():
    a = diag(0, 3, Edit.replace(0, 3, "A"), code="XX001")
    b = diag(2, 5, Edit.replace(2, 5, "B"), code="XX002")   # overlaps a: waits a pass
    c = diag(5, 6, Edit.replace(5, 6, "C"), code="XX003")   # touches b's end only
    d = diag(7, 7, Edit.insert(7, "D"), code="XX004")
    e = diag(7, 8, Edit.replace(7, 8, "E"), code="XX005")   # an insertion at its start: ambiguous order
    taken = select_fixes([e, d, c, b, a], Applicability.SAFE)
    assert [x.code for x in taken] == ["XX001", "XX003", "XX004"]


def test_select_fixes_respects_applicability():
    safe = diag(0, 1, Edit.replace(0, 1, "a"), code="XX001")
    unsafe = diag(2, 3, Edit.replace(2, 3, "b"), code="XX002", app=Applicability.UNSAFE)
    shown = diag(4, 5, Edit.replace(4, 5, "c"), code="XX003", app=Applicability.DISPLAY_ONLY)
    none = diag(6, 7, code="XX004")
    assert [x.code for x in select_fixes([safe, unsafe, shown, none], Applicability.SAFE)] == ["XX001"]
    assert [x.code for x in select_fixes([safe, unsafe, shown, none], Applicability.UNSAFE)] == ["XX001", "XX002"]
    assert select_fixes([shown], Applicability.DISPLAY_ONLY) == []


def test_identical_fixes_are_applied_once():
    a = diag(0, 1, Edit.replace(0, 1, "a"), code="XX001")
    b = diag(0, 1, Edit.replace(0, 1, "a"), code="XX002")
    assert len(select_fixes([a, b], Applicability.SAFE)) == 1


def test_multi_edit_fix_is_all_or_nothing():
    a = diag(0, 1, Edit.replace(0, 1, "a"), code="XX001")
    b = diag(0, 9, Edit.replace(5, 6, "x"), Edit.replace(0, 1, "y"), code="XX002")
    assert [x.code for x in select_fixes([a, b], Applicability.SAFE)] == ["XX001"]


# -- check_document ----------------------------------------------------------------------

def test_positions_are_filled_in_and_sorted():
    text = "---\ntitle: x\n---\nfoo bar\r\nfoo\n"
    rule = replace_word("XX001", "foo", "baz")
    ds = check_document(Document(text), [rule])
    assert [(d.line, d.column, d.end_line, d.end_column) for d in ds] == [(4, 1, 4, 4), (5, 1, 5, 4)]


def test_whole_line_span_ends_on_its_own_line():
    def check(rule, doc):
        yield rule.diagnostic(doc.lines.lines_span(0, 2))
        yield rule.diagnostic(doc.lines.lines_span(2, 3))
    ds = check_document(Document("one\r\ntwo\r\nthree\n"), [make_rule("XX001", check, fixable=False)])
    assert [(d.line, d.column, d.end_line, d.end_column) for d in ds] == [(1, 1, 2, 4), (3, 1, 3, 6)]


def test_rule_that_raises_becomes_tm002_and_others_run():
    def boom(rule, doc):
        raise KeyError("nope")
        yield  # pragma: no cover
    ds = check_document(Document("foo\n"), [make_rule("XX001", boom), replace_word("XX002", "foo", "bar")])
    assert [d.code for d in ds] == ["TM002", "XX002"]
    assert ds[0].message.startswith("rule XX001 (test-xx001) raised KeyError: 'nope'")
    assert (ds[0].line, ds[0].column) == (1, 1)


@pytest.mark.parametrize(("bad", "needle"), [
    (lambda rule, doc: ["not a diagnostic"], "returned str, not a Diagnostic"),
    (lambda rule, doc: [rule.diagnostic(Span(0, 999))], "outside the document"),
    (lambda rule, doc: [rule.diagnostic(Span(0, 1), fix=Fix.safe("t", Edit.replace(0, 999, "")))],
     "outside the document"),
    (lambda rule, doc: [rule.diagnostic(Span(0, 1), fix=Fix.safe("t"))], "fix has no edits"),
    (lambda rule, doc: [rule.diagnostic(Span(0, 1), fix=Fix.safe("t", Edit.replace(0, 2, ""),
                                                                  Edit.replace(1, 3, "")))], "overlap"),
])
def test_contract_violations_are_reported(bad, needle):
    ds = check_document(Document("foo bar\n"), [make_rule("XX001", bad)])
    assert [d.code for d in ds] == ["TM002"]
    assert "rule XX001 (test-xx001) broke the rule contract" in ds[0].message and needle in ds[0].message


def test_fix_from_a_rule_that_declares_none_is_a_contract_error():
    def check(rule, doc):
        yield rule.diagnostic(Span(0, 1), fix=Fix.safe("t", Edit.replace(0, 1, "x")))
    ds = check_document(Document("foo\n"), [make_rule("XX001", check, fixable=False)])
    assert [d.code for d in ds] == ["TM002"] and "declares no fixes" in ds[0].message


def test_recursion_error_is_contained():
    def deep(rule, doc):
        def f(n):
            return f(n + 1)
        return f(0)
    ds = check_document(Document("x\n"), [make_rule("XX001", deep)])
    assert [d.code for d in ds] == ["TM002"] and "nested too deeply" in ds[0].message


def test_fixes_touching_protected_regions_are_dropped_but_reported():
    text = "foo `foo` foo\n\n```\nfoo\n```\n<!-- foo -->\n"
    rule = replace_word("XX001", "foo", "bar")
    ds = check_document(Document(text), [rule])
    assert len(ds) == 5
    assert [d.fix is not None for d in ds] == [True, False, True, False, False]
    assert fix_document(Document(text), [rule]).text == "bar `foo` bar\n\n```\nfoo\n```\n<!-- foo -->\n"
    allowed = make_rule("XX002", lambda r, d: replace_word("XX002", "foo", "bar").check(d), protected_ok=True)
    assert all(d.fix is not None for d in check_document(Document(text), [allowed]))


def test_needs_any_prefilter():
    calls = []

    def check(rule, doc):
        calls.append(doc.text)
        return []
    rule = make_rule("XX001", check, fixable=False)
    rule.needs_any = ("needle",)
    check_document(Document("hay\n"), [rule])
    check_document(Document("a needle\n"), [rule])
    assert calls == ["a needle\n"]


# -- the fix loop ------------------------------------------------------------------------

def test_fix_loop_converges_across_passes():
    # the second rule only sees its problem after the first rule's fixes are applied
    r1 = replace_word("XX001", "a", "b")
    r2 = replace_word("XX002", "bb", "c")
    out = fix_document(Document("aa a\n"), [r1, r2])
    assert out.text == "c b\n"
    assert out.passes == 2 and out.changed and not out.problems
    assert out.diagnostics == []
    assert [d.code for d in out.applied] == ["XX001", "XX001", "XX001", "XX002"]


def test_overlapping_fixes_wait_for_the_next_pass():
    r1 = replace_word("XX001", "abc", "X")
    r2 = replace_word("XX002", "bcd", "Y")
    out = fix_document(Document("abcd\n"), [r1, r2])
    assert out.text == "Xd\n"  # r1 first (earlier span); r2's text is gone after it
    assert not out.problems


def test_nothing_to_fix_returns_the_same_text():
    doc = Document("---\ntitle: x\n---\nclean\n")
    out = fix_document(doc, [replace_word("XX001", "dirty", "clean")])
    assert out.text is doc.text and not out.changed and out.passes == 0


def test_unsafe_fixes_need_the_threshold():
    rule = replace_word("XX001", "foo", "bar", unsafe=True)
    assert fix_document(Document("foo\n"), [rule]).text == "foo\n"
    assert fix_document(Document("foo\n"), [rule], Applicability.UNSAFE).text == "bar\n"


def test_unfixable_codes_are_left_alone():
    rule = replace_word("XX001", "foo", "bar")
    out = fix_document(Document("foo\n"), [rule], unfixable=frozenset({"XX001"}))
    assert out.text == "foo\n" and [d.code for d in out.diagnostics] == ["XX001"]


def test_oscillating_fixes_are_reported_as_tm003():
    r1 = replace_word("XX001", "foo", "bar")
    r2 = replace_word("XX002", "bar", "foo")
    doc = Document("---\ntitle: t\n---\nfoo\n")
    out = fix_document(doc, [r1, r2])
    assert out.text == doc.text and not out.changed
    assert [p.code for p in out.problems] == ["TM003"]
    assert "did not converge" in out.problems[0].message and "XX00" in out.problems[0].message
    assert (out.problems[0].line, out.problems[0].column) == (1, 1)
    assert {d.code for d in out.diagnostics} == {"XX001"}  # what the original text has


def test_a_fix_that_never_settles_is_reported_after_max_passes():
    def grow(rule, doc):
        yield rule.diagnostic(Span(0, 0), fix=Fix.safe("grow", Edit.insert(5, "x")))
    out = fix_document(Document("start\n"), [make_rule("XX001", grow)])
    assert out.text == "start\n"
    assert [p.code for p in out.problems] == ["TM003"]
    assert f"after {MAX_PASSES} passes" in out.problems[0].message


def test_a_fix_that_breaks_front_matter_is_discarded():
    def breaker(rule, doc):
        i = doc.text.find("title: x")
        if i != -1:
            yield rule.diagnostic(Span(i, i + 8), fix=Fix.safe("t", Edit.replace(i, i + 8, "title: [x")))
    good = replace_word("XX002", "foo", "bar")
    doc = Document("---\ntitle: x\n---\nfoo\n")
    out = fix_document(doc, [make_rule("XX001", breaker), good])
    assert out.text == doc.text  # the good fix is thrown away too: nothing is written to this file
    assert [p.code for p in out.problems] == ["TM003"]
    assert "would break the front matter" in out.problems[0].message
    assert "XX001" in out.problems[0].message


def test_a_fix_that_removes_the_closing_delimiter_is_discarded():
    def unclose(rule, doc):
        fm = doc.front_matter
        if fm is not None and fm.closed:
            yield rule.diagnostic(Span(fm.content_span.end, fm.span.end),
                                  fix=Fix.safe("t", Edit.delete(fm.content_span.end, fm.span.end)))
    out = fix_document(Document("---\ntitle: x\n---\nbody\n"), [make_rule("XX001", unclose)])
    assert out.text == "---\ntitle: x\n---\nbody\n"
    assert [p.code for p in out.problems] == ["TM003"]


def test_broken_front_matter_before_fixing_does_not_block_other_fixes():
    doc = Document("---\ntitle: [x\n---\nfoo\n")
    out = fix_document(doc, [replace_word("XX001", "foo", "bar")])
    assert out.text == "---\ntitle: [x\n---\nbar\n" and not out.problems


def test_fix_keeps_crlf_and_bom_flags():
    doc = Document("foo\r\nfoo\r\n", bom=True, newline="\r\n")
    out = fix_document(doc, [replace_word("XX001", "foo", "bar")])
    assert out.text == "bar\r\nbar\r\n"


def test_fix_is_idempotent_with_builtin_rules():
    from tidymark.config import Settings
    from tidymark.runner import RuleBook

    rules = RuleBook().rules_for(Settings(select=("ALL",)))
    text = ("---\ntitle: |\n  Hello\ntitle: again\nauthor: >\n  Someone\ndraft: yes\n---\n# Hello\n\nBody\n")
    once = fix_document(Document(text), rules, Applicability.UNSAFE)
    assert once.changed and not once.problems
    twice = fix_document(Document(once.text), rules, Applicability.UNSAFE)
    assert twice.text == once.text and not twice.changed
