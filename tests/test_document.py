"""The Document model: positions, bytes <-> text, front matter, Markdown tokens, inline elements."""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import given, settings, strategies as st

from tidymark.document import Document
from tidymark.source import DecodeError, LineIndex, Span, decode, detect_newline, encode

# -- LineIndex ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "starts", "count", "lines"), [
    ("a\nb\n", [0, 2, 4], 2, ["a", "b"]),
    ("a\r\nb\r\n", [0, 3, 6], 2, ["a", "b"]),
    ("a\rb\rc", [0, 2, 4], 3, ["a", "b", "c"]),           # lone CR ends a line (as in markdown-it)
    ("a\nb", [0, 2], 2, ["a", "b"]),                       # no final newline
    ("", [0], 1, [""]),
    ("\n", [0, 1], 1, [""]),
    ("x\r\n\r\ny", [0, 3, 5], 3, ["x", "", "y"]),
    ("a\r\rb\n\r\n", [0, 2, 3, 5, 7], 4, ["a", "", "b", ""]),  # mixed
])
def test_line_index(text, starts, count, lines):
    li = LineIndex(text)
    assert li.starts == starts
    assert li.line_count == count
    assert [li.line_text(i) for i in range(count)] == lines


@given(st.text(alphabet="ab \r\n\u2028", max_size=40))
def test_line_index_starts_follow_every_line_ending(text):
    # both ways of building the index (only "\n" / "\r\n" endings, and with a lone "\r")
    expected = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]
    assert LineIndex(text).starts == expected


def test_line_index_positions_round_trip():
    text = "ab\r\ncd\ref\ngh"
    li = LineIndex(text)
    assert li.position(0) == (1, 1)
    assert li.position(2) == (1, 3)   # the \r of \r\n is still on line 1
    assert li.position(3) == (1, 4)   # so is the \n
    assert li.position(4) == (2, 1)
    assert li.position(7) == (3, 1)   # after the lone \r
    assert li.position(len(text)) == (4, 3)
    for off in range(len(text) + 1):
        assert li.offset(*li.position(off)) == off
    assert li.offset(99, 1) == len(text)


def test_line_index_line_ends():
    text = "ab\r\ncd\nef"
    li = LineIndex(text)
    assert li.line_end(0) == 4 and li.line_end(0, with_newline=False) == 2
    assert li.line_end(1) == 7 and li.line_end(1, with_newline=False) == 6
    assert li.line_end(2) == 9 and li.line_end(2, with_newline=False) == 9
    assert li.lines_span(0, 2) == Span(0, 7)
    assert li.line_start(5) == len(text)


def test_columns_count_code_points():
    li = LineIndex("标题 😀 x\n")
    assert li.position(5) == (1, 6)


# -- bytes <-> text -------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"plain\n", b"crlf\r\nlines\r\n", b"cr\ronly\r", b"no final newline", b"",
    codecs.BOM_UTF8 + b"---\r\ntitle: x\r\n---\r\n", "ünïcödé 标题\n".encode(),
    codecs.BOM_UTF8, b"mixed\r\nend\nings\r",
])
def test_decode_encode_round_trip(data):
    dec = decode(data)
    assert encode(dec.text, dec.bom) == data
    assert dec.bom == data.startswith(codecs.BOM_UTF8)
    assert not dec.text.startswith("\ufeff")


def test_detect_newline():
    assert decode(b"a\r\nb\r\nc\n").newline == "\r\n"
    assert decode(b"a\nb\nc\r\n").newline == "\n"
    assert decode(b"a\rb\r").newline == "\r"
    assert detect_newline("no newline") == "\n"


@pytest.mark.parametrize(("data", "needle"), [
    (b"caf\xe9\n", "not valid UTF-8 (byte 0xe9 at offset 3)"),
    (codecs.BOM_UTF8 + b"caf\xe9\n", "offset 6"),
    ("hi".encode("utf-16"), "UTF-16"),
    ("hi".encode("utf-32"), "UTF-32"),
    (b"ab\x00cd", "binary (NUL byte at offset 2)"),
])
def test_decode_refuses_what_it_cannot_rewrite(data, needle):
    with pytest.raises(DecodeError) as exc:
        decode(data)
    assert needle in str(exc.value)


# -- front matter location ----------------------------------------------------------------

def fm(text: str):
    return Document(text).front_matter


@pytest.mark.parametrize(("text", "kind", "content", "body"), [
    ("---\ntitle: x\n---\nbody\n", "yaml", "title: x\n", "body\n"),
    ("---\r\ntitle: x\r\n---\r\nbody\r\n", "yaml", "title: x\r\n", "body\r\n"),
    ("---\rtitle: x\r---\rbody\r", "yaml", "title: x\r", "body\r"),
    ("---  \ntitle: x\n...\nbody\n", "yaml", "title: x\n", "body\n"),
    ("---\ntitle: x\n--- \n", "yaml", "title: x\n", ""),
    ("---\ntitle: x\n---", "yaml", "title: x\n", ""),
    ("---\n---\nbody\n", "yaml", "", "body\n"),
    ('+++\ntitle = "x"\n+++\nbody\n', "toml", 'title = "x"\n', "body\n"),
    ('{\n  "title": "x"\n}\nbody\n', "json", '{\n  "title": "x"\n}', "body\n"),
])
def test_front_matter_located(text, kind, content, body):
    doc = Document(text)
    f = doc.front_matter
    assert f is not None and f.kind == kind and f.closed
    assert f.content == content
    assert doc.body == body
    assert f.error is None
    assert f.values == {"title": "x"} or (content == "" and f.values == {})


@pytest.mark.parametrize("text", [
    "# No front matter\n",
    "---\n\nA thematic break, then prose\n",          # leading hr, nothing YAML-like after it
    "```\n---\ntitle: x\n---\n```\n",                  # `---` inside a code fence
    "Text\n---\ntitle: x\n---\n",                      # not at the very start
    " ---\ntitle: x\n---\n",
    "----\ntitle: x\n----\n",
])
def test_no_front_matter(text):
    assert fm(text) is None


def test_front_matter_ends_at_the_first_closing_line():
    doc = Document("---\ntitle: x\n---\n```yaml\n---\nother: y\n---\n```\n")
    assert doc.front_matter.content == "title: x\n"
    assert doc.body.startswith("```yaml\n---\n")
    assert [t.type for t in doc.tokens] == ["fence"]
    assert doc.tokens[0].map == [3, 8]


def test_unclosed_front_matter():
    f = fm("---\ntitle: x\nBody text\n")
    assert f is not None and not f.closed
    assert "not closed" in f.error.message
    assert f.error.span == Span(0, 3)
    doc = Document("---\ntitle: x\nBody text\n")
    assert doc.body_start == 0 and doc.tokens == []


def test_yaml_error_points_into_the_file():
    text = "---\ntitle: ok\ntags: [a, b\nauthor: x\n---\nBody\n"
    doc = Document(text)
    err = doc.front_matter.error
    assert err is not None and err.message.startswith("invalid YAML in front matter")
    line, _ = doc.position(err.span.start)
    assert 3 <= line <= 5  # inside the front matter, not at offset 0 of the YAML text
    assert doc.front_matter.values == {}


def test_not_a_mapping():
    assert "not a mapping" in fm("---\n- a\n- b\n---\n").error.message
    assert "not a mapping" in fm("---\njust text\n---\n").error.message


def test_python_tags_are_refused_by_readers():
    f = fm("---\nx: !!python/object:os.system {}\n---\n")
    assert f.error is None  # ruamel composes it ...
    assert f.reader_error is not None and f.values == {}  # ... but readers refuse it


def test_invalid_toml_and_json():
    assert "invalid TOML" in fm("+++\ntitle = \n+++\n").error.message
    assert "invalid JSON" in fm('{\n  "title": \n}\n').error.message


def test_reader_values_are_yaml_1_1():
    f = fm("---\ndraft: yes\ndate: 2024-10-13\nn: 012\ntitle: a\ntitle: b\n---\n")
    assert f.values["draft"] is True
    assert str(f.values["date"]) == "2024-10-13"
    assert f.values["title"] == "b"  # last duplicate wins for PyYAML readers


# -- entries ------------------------------------------------------------------------------

def entries(text: str):
    doc = Document(text)
    return doc, doc.front_matter.entries


def test_entries_exact_spans_with_duplicates_and_nesting():
    text = "---\ntitle: a\nmeta:\n  k: 1\n  k: 2\ntitle: b\ntags:\n  - x\n  - y: z\n---\nBody\n"
    doc, es = entries(text)
    got = [(e.key, e.path, doc.slice(e.key_span), doc.slice(e.value_span), doc.slice(e.line_span)) for e in es]
    assert got == [
        ("title", (), "title", "a", "title: a\n"),
        ("meta", (), "meta", "k: 1\n  k: 2", "meta:\n  k: 1\n  k: 2\n"),
        ("k", ("meta",), "k", "1", "  k: 1\n"),
        ("k", ("meta",), "k", "2", "  k: 2\n"),
        ("title", (), "title", "b", "title: b\n"),
        ("tags", (), "tags", "- x\n  - y: z", "tags:\n  - x\n  - y: z\n"),
        ("y", ("tags", 1), "y", "z", "  - y: z\n"),
    ]
    assert [e.top_level for e in es] == [True, True, False, False, True, True, False]
    assert doc.front_matter.get("title").value_span == es[0].value_span
    assert doc.front_matter.find("TITLE") is es[0]
    assert es[6].key_starts_line is False  # `- y:` has the sequence dash before the key


def test_entry_styles_and_block_scalars():
    text = "---\ntitle: |\n  Hello\nauthor: \"A\"  # c\nq: 'b'\nf: >-\n  folded\n---\n"
    doc, es = entries(text)
    by = {e.key: e for e in es}
    assert by["title"].style == "|" and by["title"].scalar == "Hello\n"
    assert doc.slice(by["title"].value_span) == "|\n  Hello\n"
    assert doc.slice(by["title"].line_span) == "title: |\n  Hello\n"
    assert by["author"].style == '"' and doc.slice(by["author"].value_span) == '"A"'
    assert doc.slice(by["author"].line_span) == 'author: "A"  # c\n'  # the comment goes with its line
    assert by["q"].style == "'"
    assert by["f"].style == ">" and by["f"].scalar == "folded"


def test_entries_with_crlf_and_bom_offsets():
    data = codecs.BOM_UTF8 + b"---\r\n# comment\r\ntitle: x\r\nk: [1, 2]\r\n---\r\n"
    dec = decode(data)
    doc = Document(dec.text, bom=dec.bom, newline=dec.newline)
    by = {e.key: e for e in doc.front_matter.entries}
    assert doc.slice(by["title"].line_span) == "title: x\r\n"
    assert doc.position(by["title"].key_span.start) == (3, 1)
    assert doc.slice(by["k"].value_span) == "[1, 2]"
    assert doc.front_matter.newline == "\r\n"


def test_front_matter_edits_are_exact():
    from tidymark.engine import apply_edits

    text = "---\ntitle: a\ndraft: true\n---\nBody\n"
    doc = Document(text)
    f = doc.front_matter
    assert apply_edits(text, [f.delete_entry(f.get("draft"))]) == "---\ntitle: a\n---\nBody\n"
    assert apply_edits(text, [f.replace_value(f.get("title"), "b")]) == "---\ntitle: b\ndraft: true\n---\nBody\n"
    assert apply_edits(text, [f.append_entry("url", "https://x")]) == \
        "---\ntitle: a\ndraft: true\nurl: https://x\n---\nBody\n"
    crlf = Document("---\r\ntitle: a\r\n---\r\n")
    assert apply_edits(crlf.text, [crlf.front_matter.append_entry("k", "v")]) == "---\r\ntitle: a\r\nk: v\r\n---\r\n"


def test_deeply_nested_front_matter_does_not_crash():
    from tidymark.config import Settings
    from tidymark.engine import check_document
    from tidymark.runner import RuleBook

    text = "---\nk: " + "[" * 700 + "]" * 700 + "\nlist:\n" + "".join(f"{'  ' * i}- \n" for i in range(200)) + "---\n"
    doc = Document(text)
    f = doc.front_matter
    _ = f.error, f.values, f.reader_error, f.entries, f.node  # none of these may raise
    diags = check_document(doc, RuleBook().rules_for(Settings(select=("ALL",))))
    assert not [d for d in diags if d.code == "TM002"]


# -- Markdown tokens ------------------------------------------------------------------------

def test_token_lines_are_file_lines():
    text = "---\ntitle: x\ntags: [a]\n---\n# Heading\n\nPara one\nstill para\n\n```py\ncode\n```\n"
    doc = Document(text)
    lines = text.split("\n")
    maps = [(t.type, t.map) for t in doc.tokens if t.map is not None and t.nesting >= 0]
    assert maps[0] == ("heading_open", [4, 5]) and lines[4] == "# Heading"
    assert ("paragraph_open", [6, 8]) in maps and lines[6] == "Para one"
    assert ("fence", [9, 12]) in maps and lines[9] == "```py"
    # front matter is blanked, not parsed as Markdown (no hr / setext heading from `---`)
    assert not any(t.type in ("hr", "heading_open") and t.map[0] < 4 for t in doc.tokens if t.map)


@pytest.mark.parametrize("nl", ["\n", "\r\n", "\r"])
def test_token_lines_with_every_newline_style(nl):
    text = nl.join(["---", "title: x", "---", "", "## H", "", "text", ""])
    doc = Document(text)
    heads = [t.map for t in doc.tokens if t.type == "heading_open"]
    assert heads == [[4, 5]]
    b = doc.blocks
    assert [x.kind for x in b] == ["heading", "paragraph"]
    assert doc.block_text(b[0]) == "## H" + nl
    assert doc.inline_content(b[1]) == "text"


def test_blocks_cover_whole_lines():
    text = "# T\n\n- a\n- b\n\n> q\n> r\n\n---\n"
    doc = Document(text)
    # markdown-it's map of a list takes in the blank line after it
    assert [(b.kind, b.line0, b.line1) for b in doc.blocks] == [
        ("heading", 0, 1), ("bullet_list", 2, 5), ("blockquote", 5, 7), ("hr", 8, 9)]
    assert doc.block_text(doc.blocks[2]) == "> q\n> r\n"


# -- protected regions ------------------------------------------------------------------

def test_protected_regions():
    text = ("Use `code [x](u)` here.\n\n```\n[f](http://f)\n```\n\n    indented\n\n"
            "<!-- a comment\nover lines -->\n\nplain [y](v)\n")
    doc = Document(text)
    prot = [doc.slice(s) for s in doc.protected]
    assert prot == ["`code [x](u)`", "```\n[f](http://f)\n```\n", "    indented\n",
                    "<!-- a comment\nover lines -->"]
    assert doc.is_protected(text.index("[x]"))
    assert doc.is_protected(Span(text.index("indented"), text.index("indented") + 3))
    assert not doc.is_protected(text.index("[y]"))
    assert not doc.is_protected(Span(0, 3))
    assert doc.is_protected(Span(0, 5))  # overlaps the start of the code span


def test_code_spans_need_matching_backtick_runs():
    doc = Document("a ``b ` c`` d `e` f ` unclosed\n")
    assert [doc.slice(s) for s in doc.protected] == ["``b ` c``", "`e`"]
    # CommonMark: the escaped backtick is literal, so the next two runs pair up
    doc = Document("escaped \\`not code` here `yes`\n")
    assert [doc.slice(s) for s in doc.protected] == ["` here `"]


def test_code_spans_do_not_cross_paragraphs():
    doc = Document("a `b\n\nc` d\n")
    assert doc.protected == ()


# -- inline locator -------------------------------------------------------------------------

def located(text: str):
    doc = Document(text)
    return [(e.kind, doc.slice(e.span), e.url, doc.slice(e.url_span), e.text(text), e.attr) for e in doc.inline]


def test_images_and_links():
    assert located("See ![alt text](https://i.example/a.png) and [a link](https://example.com/x?y=1#z).\n") == [
        ("image", "![alt text](https://i.example/a.png)", "https://i.example/a.png", "https://i.example/a.png",
         "alt text", ""),
        ("link", "[a link](https://example.com/x?y=1#z)", "https://example.com/x?y=1#z",
         "https://example.com/x?y=1#z", "a link", ""),
    ]


def test_linked_image():
    got = located("[![a](http://i/x.png)](http://h/)\n")
    assert got == [
        ("link", "[![a](http://i/x.png)](http://h/)", "http://h/", "http://h/", "![a](http://i/x.png)", ""),
        ("image", "![a](http://i/x.png)", "http://i/x.png", "http://i/x.png", "a", ""),
    ]


def test_titles_and_angle_brackets():
    got = located('![a](<http://x/a b.png> "A title") [t](u \'single\') [p](v (paren))\n')
    assert [(g[0], g[1], g[2], g[3]) for g in got] == [
        ("image", '![a](<http://x/a b.png> "A title")', "http://x/a b.png", "http://x/a b.png"),
        ("link", "[t](u 'single')", "u", "u"),
        ("link", "[p](v (paren))", "v", "v"),
    ]


def test_url_span_is_where_the_url_is_written():
    text = "x ![a](  <http://x/y.png>  ) y\n"
    doc = Document(text)
    (img,) = doc.inline
    assert text[img.url_span.start - 1] == "<" and text[img.url_span.end] == ">"
    assert img.url == "http://x/y.png"


def test_nested_parens_brackets_and_non_ascii():
    got = located("[l](http://x/(a)(b)) [a [nested] b](http://n) [ü](https://ü.example/päth?q=标题)\n")
    assert [(g[0], g[2], g[4]) for g in got] == [
        ("link", "http://x/(a)(b)", "l"),
        ("link", "http://n", "a [nested] b"),
        ("link", "https://ü.example/päth?q=标题", "ü"),
    ]


def test_escaped_brackets_and_unbalanced_parens():
    assert located("\\[not a link](http://no)\n") == []
    # an escaped `!` leaves a link, not an image
    assert [g[:2] for g in located("\\![nor](this)\n")] == [("link", "[nor](this)")]
    assert located("[x](http://unbalanced(paren)\n") == []
    got = located("![\\[escaped\\] alt](http://e)\n")
    assert [(g[0], g[4]) for g in got] == [("image", "\\[escaped\\] alt")]


def test_reference_definitions():
    got = located('[ref]: <http://def/a b> "T"\n[r2]: http://x/y\n  [r3]:\n    http://z\n\n[use][ref]\n')
    assert [(g[0], g[1], g[2], g[4]) for g in got] == [
        ("definition", '[ref]: <http://def/a b> "T"', "http://def/a b", "ref"),
        ("definition", "[r2]: http://x/y", "http://x/y", "r2"),
        ("definition", "  [r3]:\n    http://z", "http://z", "r3"),
    ]


def test_html_images():
    text = ('<img src="http://a/b.png" srcset="http://a/1.png 1x, http://a/2.png 2x" alt="x">\n'
            "<IMG data-src='http://lazy/c.jpg' src=http://d/e.gif>\n")
    got = located(text)
    assert [(g[0], g[2], g[3], g[5]) for g in got] == [
        ("html_image", "http://a/b.png", "http://a/b.png", "src"),
        ("html_image", "http://a/1.png 1x, http://a/2.png 2x", "http://a/1.png 1x, http://a/2.png 2x", "srcset"),
        ("html_image", "http://lazy/c.jpg", "http://lazy/c.jpg", "data-src"),
        ("html_image", "http://d/e.gif", "http://d/e.gif", "src"),
    ]
    doc = Document(text)
    assert [e.kind for e in doc.images()] == ["html_image"] * 4
    assert doc.links() == []


def test_elements_in_code_and_comments_are_skipped():
    text = ("`[c](http://code)` and ``![i](http://code2)``\n\n"
            "```\n[f](http://fence)\n![g](http://fence2)\n[d]: http://fencedef\n```\n\n"
            "    [i](http://indented)\n\n"
            "<!-- [h](http://comment) <img src=\"http://c.png\"> -->\n\n"
            "real [y](http://real)\n")
    assert [g[2] for g in located(text)] == ["http://real"]


def test_front_matter_is_not_scanned():
    assert [g[2] for g in located('---\ntitle: "[x](http://fm)"\n---\n[b](http://body)\n')] == ["http://body"]


def test_link_across_a_soft_line_break_but_not_a_blank_line():
    got = located("[a\nb](http://x)\n\n[c\n\nd](http://y)\n")
    assert [(g[2], g[4]) for g in got] == [("http://x", "a\nb")]


def test_pathological_brackets_stay_linear():
    text = "[" * 5000 + "x" + "](" * 5000 + "\n"
    Document(text).inline  # must return (the test suite has a global timeout in CI)
    text = "![a](" + "(" * 5000 + ")" * 5000 + ")\n"
    Document(text).inline


# -- partial parse (Document.head) ---------------------------------------------------------------
from pathlib import Path  # noqa: E402


_ROOT = Path(__file__).resolve().parent.parent
_HEAD_LINES = ["# Title", "Title", "=====", "---", "***", "", "", "text line", "- item", "  - nested", "1. one",
               "> quote", "> # quoted heading", "```", "~~~", "    indented code", "<div>", "</div>", "<!-- c",
               "-->", "| a | b |", "|---|---|", "[ref]: https://example.com", "Para with `code` span",
               "## Heading ##", "\ttab", "lazy continuation", "- [ ] task", "<!-- one -->", "`` x ``"]


def _same_head(text: str) -> None:
    full = Document(text)
    for n in (1, 2, 3, 5, 8, 13, 40):
        doc = Document(text)
        blocks, tokens, complete = doc.head(n)
        expect = full.blocks if complete else full.blocks[:len(blocks)]
        assert [(b.kind, b.span, b.markup, b.tag) for b in blocks] == \
               [(b.kind, b.span, b.markup, b.tag) for b in expect], (n, text)
        for b, e in zip(blocks, expect):
            assert doc.inline_content(b, tokens) == full.inline_content(e)
        if blocks:
            for line0 in range(blocks[-1].line1):
                span = doc.lines.lines_span(line0, line0 + 1)
                assert doc.is_protected(span) == full.is_protected(span), (n, line0, text)
            assert "_parsed" not in doc.__dict__ or complete


def test_head_gives_the_blocks_of_the_full_parse():
    texts = [p.read_text(encoding="utf-8") for p in sorted((_ROOT / "seeds").glob("*.md"))]
    assert texts
    for text in texts:
        _same_head(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_HEAD_LINES), min_size=1, max_size=60),
       st.sampled_from(["", "---\ntitle: T\n---\n"]), st.sampled_from(["\n", "\r\n"]))
def test_head_agrees_with_the_full_parse_on_any_layout(lines, front, nl):
    text = front + "\n".join(lines) + "\n"
    _same_head(text.replace("\n", nl))
