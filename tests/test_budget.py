"""The deletion budget (`max-removal`): measured on article prose, holding back only the fixes
that remove text, and shown by `check` before `fix` runs."""

from __future__ import annotations

import textwrap

import pytest

from tidymark.cli import main
from tidymark.config import Settings
from tidymark.diagnostics import Applicability, Edit, Fix, FixKind
from tidymark.document import Document
from tidymark.engine import Guard, budget_check, check_document, fix_document, prose_chars
from tidymark.rule import FixAvailability, Rule
from tidymark.runner import RuleBook

# An Omnivore-style note with a short article and a lot of junk around it: the repeated title,
# the tag line, dead and source links, a byline, a recommendation list and a call to action.
JUNKY = """\
---
id: 0b7c1a52-1111-4c1e-9d0e-3f0a6b2c9e10
title: Small Gardens on City Balconies
tags:
  - Omnivore
date_saved: 2024-03-02
---

# Small Gardens on City Balconies
#Omnivore

[Read on Omnivore](https://omnivore.app/me/small-gardens-on-city-balconies-18e0a1b2c3d)
[Read Original](https://example-garden-blog.net/2024/03/small-gardens-on-city-balconies)

By Petra Lindqvist · 4 min read

A balcony of two square metres can feed a household with herbs from May to October. Choose plants that like the same light.

Mint spreads fast, so give it a pot of its own.

## Read next

- [Ten herbs that grow well in the shade of a north-facing balcony](https://example-garden-blog.net/shade)
- [Making compost in a small flat without smells or flies](https://example-garden-blog.net/compost)
- [Keeping your pots watered while you are away on holiday](https://example-garden-blog.net/away)
- [Which tomatoes climb a railing and which ones need a cage](https://example-garden-blog.net/tomatoes)

Subscribe to our newsletter for a new growing guide every week!
"""

ARTICLE = [
    "The river had been rising for three days before anyone in the village thought to move the boats.",
    "When the water finally crossed the road, the baker opened his ovens to anyone who needed to dry out.",
    "By the end of the week the school had become a dormitory, and the children had never been happier.",
    "Nobody wrote down who carried the piano upstairs, but everyone remembers that it was still in tune.",
]


class EatsParagraphs(Rule):
    """Removes every paragraph with the word "river" in it (a rule gone wrong).

    ## What it does
    Test rule.

    ## Why is this bad?
    Test rule.

    ## Example
    ```markdown
    river
    ```

    ## Fix safety
    Safe (test rule).
    """

    code = "ZZ931"
    name = "eats-paragraphs"
    summary = "test"
    fix_availability = FixAvailability.ALWAYS
    fix_safety = "safe"

    def check(self, doc):
        for b in doc.blocks:
            if b.kind == "paragraph" and any(w in doc.block_text(b) for w in ("river", "water", "school")):
                yield self.diagnostic(b.span, "eaten", fix=Fix.safe("remove", Edit(b.span, ""),
                                                                   kind=FixKind.REMOVE_CONTENT))


def builtin_rules():
    return RuleBook().rules_for(Settings())


def test_prose_counts_sentences_not_junk():
    junk = textwrap.dedent("""\
        # Small Gardens on City Balconies
        #Omnivore

        [Read Original](https://example.org/a)

        By Petra Lindqvist · 4 min read

        - [Ten herbs that grow well in the shade of a north-facing balcony](https://example.org/b)
        - [Making compost in a small flat without smells or flies](https://example.org/c)

        ```
        This sentence is code, so it is not counted as prose at all.
        ```

        <!-- A comment with a sentence in it is not article text either. -->
        """)
    assert prose_chars(junk) == 0
    sentence = "Mint spreads fast, so give it a pot of its own."
    assert prose_chars(sentence) == len(sentence.replace(" ", ""))
    # a link inside a sentence is part of it (its text counts, its target does not)
    linked = "Mint spreads [fast](https://example.org/mint), so give it a pot of its own."
    assert prose_chars(linked) == len("Mintspreads[fast],sogiveitapotofitsown.")
    # a long line without a full stop is still prose; CJK sentences count too
    assert prose_chars(" ".join(["word"] * 12)) == 48
    assert prose_chars("阳台上种香草的方法其实很简单，只要选对植物就可以了。") > 0
    assert prose_chars("> " + sentence + "\n") == prose_chars("- " + sentence + "\n") == prose_chars(sentence)


def test_junk_from_a_short_note_is_removed_not_refused():
    out = fix_document(Document(JUNKY), builtin_rules())
    assert not out.problems, [p.message for p in out.problems]
    for junk in ("#Omnivore", "Read Original", "Read next", "Subscribe", "# Small Gardens"):
        assert junk not in out.text
    # the article stays, whole
    assert "A balcony of two square metres can feed a household" in out.text
    assert "Mint spreads fast, so give it a pot of its own." in out.text


def test_check_does_not_mark_anything_held_on_a_junky_note():
    doc = Document(JUNKY)
    diags = check_document(doc, builtin_rules())
    assert budget_check(doc, diags) == diags


def article(*extra: str, title: str = "title: |\n  The Flood\n") -> str:
    body = "\n\n".join(ARTICLE) + "\n"
    return f"---\n{title}---\n\n" + "".join(f"{x}\n\n" for x in extra) + body


def test_rule_eating_article_paragraphs_is_refused():
    text = article(title="title: The Flood\n")
    out = fix_document(Document(text), builtin_rules() + [EatsParagraphs()])
    assert out.text == text and not out.applied
    assert [p.code for p in out.problems] == ["TM003"]
    assert "ZZ931" in out.problems[0].message and "over the 30% budget" in out.problems[0].message
    assert "--max-removal" in out.problems[0].message


def test_rewrites_still_apply_when_removals_are_held_back():
    image = "![](https://proxy-prod.omnivore-image-cache.app/0x0,s" + "A" * 43 + "/https://example.org/flood.jpg)"
    text = article(image)
    rules = builtin_rules() + [EatsParagraphs()]
    out = fix_document(Document(text), rules)
    # the paragraphs are kept ...
    for sentence in ARTICLE:
        assert sentence in out.text
    # ... but the front-matter scalar and the dead image proxy are rewritten
    assert out.text.startswith("---\ntitle: The Flood\n---\n")
    assert "omnivore-image-cache" not in out.text and "![](https://example.org/flood.jpg)" in out.text
    assert {d.code for d in out.applied} == {"FM002", "IM001"}
    assert [p.code for p in out.problems] == ["TM003"]
    assert "held back" in out.problems[0].message and "fixes that remove no text were applied" in out.problems[0].message
    # what is left is not offered as fixable
    eaten = [d for d in out.diagnostics if d.code == "ZZ931"]
    assert eaten and all(d.fix.applicability is Applicability.DISPLAY_ONLY for d in eaten)
    # fixing again gives the same text
    again = fix_document(Document(out.text), rules)
    assert again.text == out.text and not again.applied


def test_raising_the_budget_lets_the_removals_through():
    text = article(title="title: The Flood\n")
    out = fix_document(Document(text), builtin_rules() + [EatsParagraphs()], guard=Guard(max_removal=1.0))
    assert not out.problems and ARTICLE[3] in out.text and ARTICLE[0] not in out.text


def test_max_removal_zero_removes_no_prose_but_still_removes_junk():
    junk_only = "---\ntitle: A\n---\n\n#Omnivore\n\n" + ARTICLE[0] + "\n"
    out = fix_document(Document(junk_only), builtin_rules(), guard=Guard(max_removal=0.0))
    assert "#Omnivore" not in out.text and ARTICLE[0] in out.text and not out.problems
    text = junk_only + "\nSubscribe to our newsletter for a new story every week!\n"
    out = fix_document(Document(text), builtin_rules(), guard=Guard(max_removal=0.0))
    assert "Subscribe to our newsletter" in out.text  # a sentence, however short: held back
    assert [p.code for p in out.problems] == ["TM003"] and "AD002" in out.problems[0].message
    # with the default budget, a call to action that short may go (up to 150 characters of prose)
    out = fix_document(Document(text), builtin_rules())
    assert "Subscribe" not in out.text and "#Omnivore" not in out.text and not out.problems


@pytest.fixture
def proj(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


EATING_PACK = """\
rules:
  - code: XY001
    name: eats-paragraphs
    kind: phrase
    match: contains
    message: A paragraph about the flood
    patterns: ["river", "water", "school"]
    fix: remove
    applicability: safe
"""


def run(capsys, *argv):
    code = main([*argv, "--no-cache"])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_marks_fixes_the_budget_holds_back(proj, capsys):
    (proj / "pack.yaml").write_text(EATING_PACK, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XY]\n", encoding="utf-8")
    (proj / "note.md").write_text(article(), encoding="utf-8")
    code, out, err = run(capsys, "check", "note.md")
    assert code == 1 and "Traceback" not in err
    lines = out.splitlines()
    eaten = [ln for ln in lines if ": XY001" in ln]
    assert len(eaten) == 3
    assert all("[*]" not in ln and "held back by the deletion budget" in ln for ln in eaten)
    assert any(" FM002 [*]" in ln for ln in lines)  # a rewrite is still fixable
    budget = [ln for ln in lines if " TM003 " in ln]
    assert len(budget) == 1 and "74% of the body's prose" in budget[0]
    assert "--max-removal 0.75" in budget[0] and "configuration" in budget[0]
    assert "[*] 1 fixable" in out
    # fix does what check said: the rewrite, not the removals
    code, out, err = run(capsys, "fix", "note.md")
    text = (proj / "note.md").read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: The Flood\n---\n") and all(s in text for s in ARTICLE)
    assert " TM003 " in out
    # allowing them on the command line, as the message says
    code, out, err = run(capsys, "check", "--max-removal", "0.75", "note.md")
    assert " TM003 " not in out and out.count(" XY001 [*]") == 3


def test_budget_setting_is_part_of_the_cached_check_result(proj, capsys):
    (proj / "pack.yaml").write_text(EATING_PACK, encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XY]\n", encoding="utf-8")
    (proj / "note.md").write_text(article(title="title: The Flood\n"), encoding="utf-8")
    assert main(["check", "note.md"]) == 1
    assert " TM003 " in capsys.readouterr().out
    assert main(["check", "--max-removal", "1", "note.md"]) == 1
    out = capsys.readouterr().out
    assert " TM003 " not in out and out.count(" XY001 [*]") == 3
    assert main(["check", "note.md"]) == 1
    assert " TM003 " in capsys.readouterr().out


def test_max_removal_option_is_validated(proj, capsys):
    (proj / "note.md").write_text("Hello.\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["check", "--max-removal", "2", "note.md"])
    assert exc.value.code == 2
    assert "--max-removal" in capsys.readouterr().err


def test_rule_pack_substitution_that_empties_the_body_is_counted(proj, capsys):
    (proj / "pack.yaml").write_text(textwrap.dedent("""\
        rules:
          - code: XY002
            name: empty-everything
            kind: substitution
            message: Everything
            pattern: '[\\s\\S]+'
            replacement: ''
            fix: replace
            applicability: safe
        """), encoding="utf-8")
    (proj / ".tidymark.yaml").write_text("rule-packs: [pack.yaml]\nextend-select: [XY]\n", encoding="utf-8")
    original = article(title="title: The Flood\n")
    (proj / "note.md").write_text(original, encoding="utf-8")
    code, out, err = run(capsys, "fix", "note.md")
    assert (proj / "note.md").read_text(encoding="utf-8") == original
    assert " TM003 " in out and "XY002" in out and code == 1


def test_batch_check_marks_held_fixes_as_the_cli_does():
    from tidymark.batch import BatchLinter
    from tidymark.config import Settings as S

    text = "---\ntitle: A\n---\n\n#Omnivore\n\n" + ARTICLE[0] + "\n\nSubscribe to our newsletter for a new story every week!\n"
    res = BatchLinter(S(max_removal=0.0)).lint_records([("note", text.encode())])
    by_code = {r["code"]: r for r in res.diagnostics}
    assert "TM003" in by_code and "held back by the deletion budget" in by_code["AD002"]["message"]
    res = BatchLinter(S()).lint_records([("note", text.encode())])
    assert "TM003" not in {r["code"] for r in res.diagnostics}
