"""The content-loss guard: deletion budget and structure verification of fix runs."""

from dataclasses import dataclass

from tidymark.diagnostics import Edit, Fix, FixKind
from tidymark.document import Document
from tidymark.engine import Guard, fix_document, visible_chars
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span


class GreedyRemoval(Rule):
    """Removes every paragraph that contains the word "gone".

    ## What it does
    Test rule.

    ## Why is this bad?
    Test rule.

    ## Example
    ```markdown
    gone
    ```

    ## Fix safety
    Safe (test rule).
    """

    code = "ZZ901"
    name = "greedy-removal"
    summary = "test"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def check(self, doc):
        for b in doc.blocks:
            if b.kind == "paragraph" and "gone" in doc.block_text(b):
                yield self.diagnostic(b.span, "gone", fix=Fix.safe("remove", Edit(b.span, ""),
                                                                  kind=FixKind.REMOVE_CONTENT))


class BreaksStructure(Rule):
    """Deletes the blank line after a marker line, merging two paragraphs.

    ## What it does
    Test rule.

    ## Why is this bad?
    Test rule.

    ## Example
    ```markdown
    MARK
    ```

    ## Fix safety
    Safe (test rule).
    """

    code = "ZZ902"
    name = "breaks-structure"
    summary = "test"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def check(self, doc):
        i = doc.text.find("MARK\n\n")
        if i != -1:
            # rewrites the marker and eats the blank line below it: the next paragraph merges
            yield self.diagnostic(Span(i, i + 4), "mark", fix=Fix.safe("x", Edit(Span(i, i + 6), "mark\n")))


def para(word: str, n: int) -> str:
    return " ".join([word] * n) + "\n"


def test_visible_chars_ignore_urls_and_tags():
    assert visible_chars("a [b](https://example.org/x) <img src='y'> https://z.example c") == len("a[b]c")


def test_budget_blocks_a_run_that_would_gut_the_article():
    text = para("gone", 60) + "\n" + para("kept", 40)
    out = fix_document(Document(text), [GreedyRemoval()])
    assert out.text == text and not out.applied
    assert out.problems and out.problems[0].code == "TM003"
    assert "over the 30% budget" in out.problems[0].message and "ZZ901" in out.problems[0].message


def test_budget_allows_small_removals():
    text = para("gone", 30) + "\n" + para("kept", 400)
    out = fix_document(Document(text), [GreedyRemoval()])
    assert out.applied and out.text == "\n" + para("kept", 400) or out.text == para("kept", 400)


def test_budget_is_configurable():
    text = para("gone", 60) + "\n" + para("kept", 40)
    out = fix_document(Document(text), [GreedyRemoval()], guard=Guard(max_removal=0.9))
    assert out.applied and "gone" not in out.text


def test_structure_change_outside_edits_is_refused():
    text = "Intro paragraph.\n\nMARK\n\nSecond paragraph stays separate.\n"
    out = fix_document(Document(text), [BreaksStructure()])
    assert out.text == text and not out.applied
    assert out.problems[0].code == "TM002" and "ZZ902" in out.problems[0].message
    assert "line 5" in out.problems[0].message


def test_guard_can_be_disabled():
    text = "Intro paragraph.\n\nMARK\n\nSecond paragraph stays separate.\n"
    out = fix_document(Document(text), [BreaksStructure()], guard=None)
    assert out.text == "Intro paragraph.\n\nmark\nSecond paragraph stays separate.\n"
