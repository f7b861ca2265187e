"""A fix whose result repeats a front-matter key is refused, like one that breaks it."""

from __future__ import annotations

from tidymark.diagnostics import Edit, Fix
from tidymark.document import Document
from tidymark.engine import fix_document
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span


def _rule(code, check):
    attrs = {
        "__doc__": f"Test rule {code}.\n\n## What it does\nTests.\n",
        "code": code, "name": f"test-{code.lower()}", "summary": f"Test rule {code}",
        "fix_availability": FixAvailability.SOMETIMES, "fix_safety": "safe",
        "check": lambda self, doc: check(self, doc),
    }
    return type(f"Rule{code}", (Rule,), attrs)()


def _append_url(rule, doc):
    fm = doc.front_matter
    if fm is not None and "https://example.org/a" not in doc.text[:fm.span.end]:
        yield rule.diagnostic(Span(0, 3), fix=Fix.safe("add url", fm.append_entry("url", "https://example.org/a")))


def test_a_fix_that_repeats_a_key_is_refused_with_tm003():
    text = "---\ntitle: x\nurl:\n---\nbody\n"
    out = fix_document(Document(text), [_rule("XX001", _append_url)])
    assert out.text == text
    assert [p.code for p in out.problems] == ["TM003"]
    assert "would repeat the front-matter key `url`" in out.problems[0].message
    assert "XX001" in out.problems[0].message


def test_a_fix_adding_a_new_key_is_applied():
    out = fix_document(Document("---\ntitle: x\n---\nbody\n"), [_rule("XX001", _append_url)])
    assert out.text == "---\ntitle: x\nurl: https://example.org/a\n---\nbody\n"
    assert not out.problems


def test_duplicates_already_there_do_not_block_other_fixes():
    def body_fix(rule, doc):
        i = doc.text.find("foo")
        if i != -1:
            yield rule.diagnostic(Span(i, i + 3), fix=Fix.safe("t", Edit.replace(i, i + 3, "bar")))
    text = "---\ntag: a\ntag: b\n---\nfoo\n"
    out = fix_document(Document(text), [_rule("XX002", body_fix)])
    assert out.text == "---\ntag: a\ntag: b\n---\nbar\n"


def test_nested_key_repeated_by_a_fix_is_refused():
    def nest(rule, doc):
        fm = doc.front_matter
        if fm is not None and doc.text.count("k:") == 1:
            i = doc.text.index("  k: 1\n") + len("  k: 1\n")
            yield rule.diagnostic(Span(0, 3), fix=Fix.safe("t", Edit.insert(i, "  k: 2\n")))
    text = "---\nm:\n  k: 1\n---\nbody\n"
    out = fix_document(Document(text), [_rule("XX003", nest)])
    assert out.text == text and [p.code for p in out.problems] == ["TM003"]
    assert "`m.k`" in out.problems[0].message


def test_dm004_with_an_empty_url_key_fills_it_and_fm001_has_nothing_to_do():
    from tidymark.diagnostics import Applicability
    from tidymark.registry import builtin_rules

    rules = [info.cls() for info in builtin_rules() if info.cls.code in ("DM004", "FM001")]
    text = "---\ntitle: Rivers\nurl: ''\n---\n\n[Read Original](https://example.org/rivers)\n\nBody.\n"
    out = fix_document(Document(text), rules, threshold=Applicability.UNSAFE)
    assert out.text == "---\ntitle: Rivers\nurl: https://example.org/rivers\n---\n\nBody.\n"
    assert not out.problems
