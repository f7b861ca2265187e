"""The structure guard around a removal: what is left of a block a fix touched must parse as
it did, and restructuring fixes (unescaping) are verified too."""

from __future__ import annotations

import pytest

from tidymark.config import Settings
from tidymark.diagnostics import Applicability, Edit, Fix
from tidymark.document import Document
from tidymark.engine import fix_document
from tidymark.rule import FixAvailability, Rule
from tidymark.runner import RuleBook
from tidymark.source import Span

FM = "---\ntitle: A note\n---\n\nSome intro text here.\n\n"


def rules():
    return RuleBook().rules_for(Settings())


@pytest.mark.parametrize("name, rest", [
    # the line below the tag was visible text of the paragraph; alone it is a link definition
    ("becomes_link_definition", "[a]: https://example.org/a\n#Omnivore\n[b]: https://example.org/b\n"),
    # the indented line was a lazy continuation; alone it is an indented code block
    ("becomes_code_block", "#Omnivore\n    indented continuation line\n"),
    # "2." cannot start a list inside a paragraph; alone it does
    ("becomes_list", "#Omnivore\n2. second point, written as text\n"),
])
def test_removal_that_changes_how_the_rest_of_its_block_parses_is_refused(name, rest):
    text = FM + rest + "\nMore text.\n"
    out = fix_document(Document(text), rules())
    assert out.text == text and not out.applied, name
    assert [p.code for p in out.problems] == ["TM002"]
    # the tag line is lifted into `tags` and removed by DM007 (DM003 hands such lines over)
    assert "DM007" in out.problems[0].message and "changed the structure" in out.problems[0].message


@pytest.mark.parametrize("rest, left", [
    ("#Omnivore\nThe article starts right here.\n", "The article starts right here.\n"),
    ("#Omnivore\n\n[a]: https://example.org/a\n", "[a]: https://example.org/a\n"),
    ("#Omnivore\n\n    real code, indented, after a blank line\n", "\n    real code, indented, after a blank line\n"),
])
def test_removal_that_leaves_its_neighbours_parsing_alike_is_applied(rest, left):
    text = FM + rest + "\nMore text.\n"
    out = fix_document(Document(text), rules())
    assert not out.problems, [p.message for p in out.problems]
    assert "#Omnivore" not in out.text and "More text." in out.text
    if left is not None:
        assert left in out.text


def test_removing_an_html_line_gives_the_lines_it_held_their_own_structure():
    # an HTML block runs to the next blank line, so the heading below the leftover tag was
    # raw HTML text; removing the leftover makes it a heading again
    text = FM + '<div class="menu-toggle"> <SidebarToggle client:idle ></SidebarToggle> </div>\n## Overview\n\nMore text.\n'
    out = fix_document(Document(text), rules())
    assert not out.problems, [p.message for p in out.problems]
    assert "SidebarToggle" not in out.text and "\n## Overview\n\nMore text.\n" in out.text


class Restructures(Rule):
    """Rewrites a marker and eats the blank line after it, declaring ``changes_structure``.

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

    code = "ZZ941"
    name = "restructures"
    summary = "test"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"
    changes_structure = True

    def check(self, doc):
        i = doc.text.find("MARK\n\n")
        if i != -1:
            yield self.diagnostic(Span(i, i + 4), "mark", fix=Fix.safe("x", Edit(Span(i, i + 6), "mark\n")))


def test_restructuring_rule_may_not_change_blocks_it_did_not_open():
    # the next paragraph merges into the edited one: it was not taken into a block the edit
    # opened (a fence or an HTML block), it changed
    text = "Intro paragraph.\n\nMARK\n\nSecond paragraph stays separate.\n"
    out = fix_document(Document(text), [Restructures()])
    assert out.text == text and not out.applied
    assert out.problems[0].code == "TM002" and "ZZ941" in out.problems[0].message


ESCAPED_FENCE = (
    "---\ntitle: Escaped\n---\n\n"
    "It&#39;s here: [docs](https:&#x2F;&#x2F;example.org&#x2F;docs).\n\n"
    "&#x60;&#x60;&#x60;python\n"
    "def f():\n\n"
    "    print(1)\n\n"
    "result\n"
    "&#x60;&#x60;&#x60;\n\n"
    "After the code.\n"
)


def test_unescaped_fence_may_take_in_untouched_lines():
    out = fix_document(Document(ESCAPED_FENCE), rules())
    assert not out.problems, [p.message for p in out.problems]
    assert "```python\ndef f():\n\n    print(1)\n\nresult\n```\n\nAfter the code.\n" in out.text
    assert "[docs](https://example.org/docs)" in out.text


HAND_WRITTEN = (
    "---\ntitle: Notes on HTML entities\n---\n\n"
    "I keep forgetting these, so here they are: &#x2F; is a slash, &#x60; a backtick and &#x3D; an equals sign. "
    "Links get escaped too, like https:&#x2F;&#x2F;example.org in a feed.\n\n"
    "This is what an escaped script tag looks like in a page's source:\n\n"
    "&lt;script&gt;alert(&quot;hi&quot;)&lt;&#x2F;script&gt;\n\n"
    "Don't \"fix\" it by hand.\n"
)


def test_hand_written_note_about_entities_is_not_unescaped_by_default():
    out = fix_document(Document(HAND_WRITTEN), rules())
    assert out.text == HAND_WRITTEN
    dm005 = [d for d in out.diagnostics if d.code == "DM005"]
    assert dm005 and dm005[0].fix.applicability is Applicability.UNSAFE


def test_escaped_export_is_still_unescaped_by_default():
    text = ("---\ntitle: Escaped\n---\n\n"
            "It&#39;s here: [docs](https:&#x2F;&#x2F;example.org&#x2F;docs) and &#x60;code&#x60;.\n\n"
            "&lt;b&gt;Bold&lt;&#x2F;b&gt; and &quot;quoted&quot;.\n")
    out = fix_document(Document(text), rules())
    assert [d.code for d in out.applied] == ["DM005"]
    assert "It's here: [docs](https://example.org/docs) and `code`." in out.text
    assert '<b>Bold</b> and "quoted".' in out.text
