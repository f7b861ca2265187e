"""The boilerplate line gate (boilerplate.LineGate): it may let too many lines through, never
too few.  A line the AD rules would match must always pass it, whatever markup surrounds the
words; and with the gate the rules report exactly what they report without it."""

from __future__ import annotations

import html
import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from tidymark import boilerplate as bp
from tidymark.document import Document
from tidymark.engine import check_document
from tidymark.registry import builtin_rules
from tidymark.testing import cases_for

ROOT = Path(__file__).resolve().parent.parent
WHOLE_LINE = ("recommendation", "recommendation_weak", "call_to_action", "call_to_action_template",
              "call_to_action_end", "republication", "cta_link_text")
AD_CODES = ("AD001", "AD002", "AD004")


def _rules():
    return [info.cls() for info in builtin_rules() if info.cls.code in AD_CODES]


def _gates():
    return [bp.LineGate(bp.matcher(c)) for c in WHOLE_LINE]


def test_every_lexicon_pattern_compiles():
    for data in bp._files().values():
        for cat, body in data.items():
            for pat in body.get("patterns") or []:
                re.compile(pat)


@pytest.mark.parametrize("category", WHOLE_LINE + ("share_words",))
def test_built_in_lexicons_keep_the_gate_on(category):
    """Every built-in phrase and pattern names a word: no category turns the gate off."""
    gate = bp.LineGate(bp.matcher(category))
    assert gate.total, category
    m = bp.matcher(category)
    assert all(bp.pattern_clauses(p) for p in m.patterns)


def _variants(phrase: str) -> list[str]:
    title = phrase.title()
    words = phrase.split(" ")
    out = [
        phrase, title, phrase.upper(), f"**{title}**", f"# {title}", f"> - {phrase}", f"1. *{phrase}*:",
        f"[{title}](https://example.com/a?b=c)", f"👉 {phrase} 👈", f"<span>{phrase}</span>",
        f"{phrase}\u200b", f"\\*{phrase}\\*", html.escape(phrase).replace("'", "&#x27;"),
        "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in phrase),  # full-width
        f"![](https://img.example/x.png) {phrase}", f"<!-- x --> {phrase}", f"<-{phrase}->",
        f"＜{phrase}＞", f"[{phrase}]", f"={phrase}=", f"{phrase}](https://example.com)",
    ]
    if len(words) > 1:
        out += ["  ".join(words), f"**{words[0]}** {' '.join(words[1:])}",
                f"[{words[0]}](https://example.com) {' '.join(words[1:])}", "<br>".join(words)]
    return out


@pytest.mark.parametrize("category", WHOLE_LINE)
def test_a_line_that_matches_always_passes_the_gate(category):
    m = bp.matcher(category)
    gate = bp.LineGate(m)
    checked = 0
    for phrase in sorted(m.phrases):
        for line in _variants(phrase):
            norm = bp.normalize(line)
            if not m.full(norm):
                continue  # the variant changed what the line says
            checked += 1
            doc = Document(f"Intro paragraph.\n\n{line}\n\nMore text.\n")
            assert 2 in gate.lines(doc), (category, phrase, line)
    assert checked >= len(m.phrases)


def test_gate_keeps_lines_where_an_entity_encodes_a_line_break():
    gate = bp.LineGate(bp.matcher("recommendation"))
    doc = Document("a&#10;b\n\nRelated posts\n")
    assert {0, 2} <= gate.lines(doc)


def test_pattern_requirements():
    assert bp.pattern_clauses(".{1,40}") is None
    clauses = bp.pattern_clauses("discover more from .{1,60}")
    assert ("discover",) in [tuple(t.text for t in c) for c in clauses]
    alts = bp.pattern_clauses("(?:subscribe|sign up) to (?:my|our) newsletter")
    # one clause per alternation: a word of each branch (re's parser may factor out a prefix)
    assert any(len(c) == 2 and any(t.text in "subscribe" for t in c) and any(t.text in "sign up" for t in c)
               for c in alts)
    assert ("newsletter",) in [tuple(t.text for t in c) for c in alts]
    assert bp.pattern_clauses(".{0,20}关注.{0,40}") == ((bp.Token("关注"),),)


def test_a_pattern_without_words_turns_the_gate_off():
    rule = next(r for r in _rules() if r.code == "AD004")
    opts = type(rule).parse_options({"extra-patterns": [r"\d{4}"]}, "")
    custom = type(rule)(opts)
    assert custom._gate.lines(Document("text\n")) is None
    doc = Document("Intro paragraph that is long enough to be prose for the position test here.\n\n1999\n")
    assert [d.code for d in check_document(doc, [custom])] == ["AD004"]


def test_no_candidate_line_means_no_markdown_parse():
    doc = Document("---\ntitle: x\n---\n\n" + "Plain prose without any boilerplate words at all.\n\n" * 50)
    assert check_document(doc, _rules()) == []
    assert "_parsed" not in doc.__dict__


def _inputs() -> list[str]:
    texts = [case.input for rule in _rules() for case in cases_for(type(rule))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.md"))]
    return texts


def test_results_are_the_same_with_and_without_the_gate(monkeypatch):
    texts = _inputs()
    assert len(texts) > 50
    rules = _rules()

    def run():
        return [[(d.code, d.span, d.message, d.fix and d.fix.applicability) for d in check_document(Document(t), rules)]
                for t in texts]

    gated = run()
    monkeypatch.setattr(bp.LineGate, "lines", lambda self, doc: None)
    assert run() == gated
    assert sum(map(len, gated)) > 20


def test_nfkc_and_lower_keep_line_breaks():
    """The gate text keeps every line where it was: no character decomposes into a line break."""
    for text in ("Ａ\nｂ\r\nＣ\rd", "İ\nß\nﬁ"):
        doc = Document(text)
        assert bp.gate_index(doc).line_count == doc.lines.line_count
    assert not any("\n" in unicodedata.normalize("NFKC", chr(c)) for c in range(0x80, 0x3000) if chr(c) != "\x85")


def test_derived_lexicon_data_is_up_to_date():
    """lexicons/derived.json holds what the code derives from the lexicons today."""
    import json

    shipped = json.loads((bp.lexicon_dir() / bp.DERIVED_FILE).read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(bp.derive_all())), (
        'regenerate it: python -c "from tidymark.boilerplate import write_derived; write_derived()"')


@pytest.mark.parametrize("category", sorted(bp.CATEGORIES))
def test_patterns_one_by_one_answer_as_the_compiled_alternation(category, monkeypatch):
    """A matcher's first questions try only the patterns whose words the text holds; the
    answers equal those of the whole alternation, for every phrase variant and case line."""
    texts = {bp.normalize(line) for phrase in sorted(bp.matcher(category).phrases) for line in _variants(phrase)}
    texts |= {bp.normalize(line) for t in _inputs() for line in t.splitlines()}
    texts |= {line.lower() for t in _inputs() for line in t.splitlines()}  # raw lines, URLs included
    texts.discard("")
    assert len(texts) > 500

    def answers(one_by_one: int) -> list[tuple[bool, bool]]:
        monkeypatch.setattr(bp.Matcher, "ONE_BY_ONE", one_by_one)
        m = bp.Matcher(bp.matcher(category).phrases, bp.matcher(category).patterns)
        return [(m.full(t), m.search(t)) for t in sorted(texts)]

    compiled = answers(0)
    assert answers(10 ** 9) == compiled
    assert any(f or s for f, s in compiled), category  # the category's lexicon is exercised


# -- DM003's text pre-check -------------------------------------------------------------------
_DM003_LINES = ["Full Content:", "## Highlights", "# full content #", "content", "  CONTENT :", "the content here",
                "highlights of the week", "#Omnivore", "[[OMNIVORE]]", "sr-annote { all: unset; }", "原创 某人 _2024-01-02_",
                "<SidebarToggle client:idle >", "plain prose", "", "İstanbul", "***", "- - -", "Content\tx"]


@pytest.mark.parametrize("seed", range(300))
def test_dm003_pre_check_agrees_with_its_expressions(seed):
    # the substring searches (and the lower-casing fallback) say yes exactly when the
    # expressions they stand for find something in the body
    import random

    from tidymark.rules import dm003_clipper_scaffolding as dm003

    rnd = random.Random(seed)
    body = "\n".join(rnd.choice(_DM003_LINES) for _ in range(rnd.randint(1, 6)))
    doc = Document(f"---\ntitle: t\n---\n{body}\n")
    words = bool(dm003._LINE_WORD.search(doc.body_lf) or dm003._TEMPLATE_HEADING_LINE.search(doc.body_lf))
    if words:
        assert dm003.ClipperScaffolding._may_match(doc)
    else:
        lines = [ln for ln in doc.body_lf.split("\n") if ln.strip()]
        edges = {lines[0], lines[-1]} if lines else set()
        assert dm003.ClipperScaffolding._may_match(doc) == any(
            dm003._HR_LINE.fullmatch(ln.rstrip(" \t")) for ln in edges)


# -- fenced code left out of the gate text ------------------------------------------------------
_FENCE_POOL = ["```", "```sh", "~~~", "~~~~", "````", "  ```", "   ~~~", "    ```", "``` x`y", "> ```", "- ```",
               "1. ```", "  code", "end {", "Read more", "", "", "", "text", "<!--", "-->", "<pre>", "</pre>",
               "<div>", "</div>", "<?php", "?>", "<!DOCTYPE html>", "- item", "> quote", "    indented", "\t```",
               "``` ", "~~~ ~", "***", "Title", "===", "| a | b |", "|---|---|"]


def _note(lines: list[str], front_matter: bool, crlf: bool, title: str = "t") -> str:
    nl = "\r\n" if crlf else "\n"
    text = nl.join(lines) + nl
    return f"---{nl}title: {title}{nl}---{nl}" + text if front_matter else text


def _emptied_and_fence_lines(doc: Document, blanked: str) -> tuple[set[int], set[int]]:
    """The lines ``blanked`` changed, and the lines of markdown-it's fences in ``doc``."""
    emptied = {i for i, (a, b) in enumerate(zip(doc.text.split("\n"), blanked.split("\n"))) if a != b}
    return emptied, {i for t in doc.tokens if t.type == "fence" and t.map for i in range(*t.map)}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_FENCE_POOL), max_size=14), st.booleans(), st.booleans())
def test_only_lines_of_fenced_code_are_left_out(lines, front_matter, crlf):
    # whatever the structure, every line emptied is inside a fenced code block of
    # markdown-it's own parse, and the line breaks are those of the document
    text = _note(lines, front_matter, crlf)
    doc = Document(text)
    blanked = bp.fenced_code_blanked(doc)
    assert re.sub(r"[^\r\n]", "", blanked) == re.sub(r"[^\r\n]", "", text)
    emptied, fence_lines = _emptied_and_fence_lines(doc, blanked)
    after = blanked.split("\n")
    assert all(not after[i].strip("\r") for i in emptied)
    assert emptied <= fence_lines, (text, sorted(emptied - fence_lines))


@pytest.mark.parametrize("text", [
    "- item\n\n  ```\n  code\n\nprose after the list\n\n```\n",       # a list item's fence ends with the item
    "> ```\n> code\n\nprose\n\n```\n",                                 # a quote's fence ends with the quote
    "<div>\n\n<pre>\n\n```\n\nprose\n\n</pre>\n\n```\n",              # raw HTML runs across blank lines
    "Intro\n```\ncode\n```\n\nprose\n\n```\n",                         # a fence right after text
    "İİ\n\n<pre>\n\n```\n\nprose\n\n</pre>\n\n```\n",                # lower-casing moves offsets
    "<?php\n``` x`y\n\n```\nprose\n",                                   # raw HTML before a line that is no fence
])
def test_fence_lines_the_text_cannot_settle_stop_the_emptying(text):
    doc = Document(text)
    blanked = bp.fenced_code_blanked(doc)
    emptied, fence_lines = _emptied_and_fence_lines(doc, blanked)
    assert emptied <= fence_lines
    assert "prose" in blanked


def test_fenced_code_words_do_not_reach_the_gate():
    text = "---\ntitle: t\n---\n\nIntro.\n\n```powershell\nend {\n}\n```\n\nEnd\n"
    doc = Document(text)
    gate = bp.gate_text(doc)[0].split("\n")
    assert gate[7] == "" and gate[11] == "end"
    # after a fence line the text alone cannot settle, nothing is left out any more
    doc = Document("Intro.\n```\nend {\n```\n\n```\nend {\n```\n")
    assert bp.fenced_code_blanked(doc) == doc.text


# -- DM002's look at the body's first line --------------------------------------------------------
_HEADING_POOL = ["# Title", "## Title ##", "#\tTitle", "####### Title", "#Title", "# Title #b", "# Title \\#",
                 "  # Title", "# Title ###   ", "#", "# #", "#  ", "# a # # #", "###### x ######", "Text",
                 "# **Bold** [link](u)", "", "   ", "> # quoted", "- # item", "#\u00a0Title", "# Title\u00a0#",
                 "# 标题 ##", "Setext", "===", "\t# tab"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_HEADING_POOL), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_dm002_first_line_heading_is_markdown_its_first_block(lines, front_matter, crlf):
    # when the text says the body opens with an ATX heading, markdown-it's first block is
    # that heading with exactly that inline content
    from tidymark.rules.dm002_title_repeated_as_heading import _leading_atx_heading

    doc = Document(_note(lines, front_matter, crlf, title="Title"))
    got = _leading_atx_heading(doc)
    if got is None:
        return
    block = doc.blocks[0]
    assert block.kind == "heading" and block.markup.startswith("#")
    assert doc.inline_content(block) == got


def test_fence_search_builds_nothing_from_the_document(monkeypatch):
    # a fence of 100,000 backticks: the closing fence is looked for with fixed expressions
    # (an expression spelled from the fence itself took seconds and hundreds of MiB)
    real = re.compile
    built = []

    def spy(pattern, flags=0):
        built.append(pattern)
        return real(pattern, flags)

    monkeypatch.setattr(re, "compile", spy)
    fence = "`" * 100_000
    doc = Document(f"Intro\n\n{fence}\ncode\n{fence}`\n\ntext\n")
    assert bp.fenced_code_spans(doc) == (bp.Span(7, len(doc.text) - 6),)
    assert all(len(p) < 200 for p in built if isinstance(p, str))


_WIDE_RANGES = re.compile("[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf"
                          "\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\U00020000-\U0003fffd]")


_EDGES = "".join(chr(c) for lo, hi in ((0x1100, 0x115f), (0x2e80, 0x303e), (0x3041, 0x4dbf), (0x4e00, 0x9fff),
                                          (0xa000, 0xa4cf), (0xac00, 0xd7a3), (0xf900, 0xfaff), (0xfe30, 0xfe4f),
                                          (0xff00, 0xff60), (0xffe0, 0xffe6), (0x20000, 0x3fffd))
                 for c in (lo - 1, lo, hi, hi + 1))


@settings(max_examples=300)
@given(st.text(alphabet=st.one_of(st.characters(), st.sampled_from(_EDGES + "\u2019\u2014\u4e2d"))))
def test_display_width_counts_the_wide_characters_twice(text):
    # the shortcuts (no wide character; counting before the expression is compiled) agree
    # with the expression
    expected = len(text) + len(_WIDE_RANGES.findall(text))
    counted = bp._counted
    try:
        for before in (0, bp._COUNT_BEFORE_COMPILING):
            bp._counted = before
            assert bp.width(text) == expected
    finally:
        bp._counted = counted
