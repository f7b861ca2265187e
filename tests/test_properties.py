"""Property tests over generated notes, with every built-in rule selected.

* ``check`` never raises and never reports an internal error (TM002);
* ``fix`` (safe and unsafe) never gives up (TM003), is idempotent, keeps parseable front
  matter parseable and keeps a file's newline style;
* a note without problems comes back byte-identical.
"""

from __future__ import annotations

import codecs

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidymark.api import document_from_bytes
from tidymark.config import Settings
from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.engine import check_document, fix_document
from tidymark.runner import RuleBook
from tidymark.source import encode

RULES = RuleBook().rules_for(Settings(select=("ALL",)))

PROFILE = settings(max_examples=150, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# -- building blocks -----------------------------------------------------------------------


def _line_text(words: list[str]) -> str:
    # a generated line never contains a line break: the newline style is chosen separately
    return " ".join(words).replace("\r", " ").replace("\n", " ").replace("\x0b", " ").replace(
        "\x0c", " ").replace("\x1c", " ").replace("\x1d", " ").replace("\x1e", " ").replace(
        "\x85", " ").replace("\u2028", " ").replace("\u2029", " ")


WORDS = ["title", "Hello", "world", "补贴", "烧不出", "忠诚度", "naïve", "café", "😀", "—", "#", "|", ">", ":",
         "-", "*", "_", "`", "[", "]", "(", ")", "!", "<", ">", "&amp;", "\\", '"', "'", "yes", "no", "true",
         "draft", "null", "2024-10-13", "http://x.example/a?b=1", "Omnivore", "Read Original", "Subscribe",
         "{{content}}", "---", "...", "+++", "\t", "  "]

word = st.one_of(st.sampled_from(WORDS),
                 st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=6))
# anything but NUL (which makes a file binary), \r and \n, for the body only: U+2028, U+0085,
# form feeds ... stay, since str.splitlines() would split there while tidymark's lines do not
raw_line = st.text(st.characters(exclude_characters="\x00\r\n", exclude_categories=("Cs",)), max_size=20)
phrase = st.lists(word, min_size=1, max_size=8).map(_line_text)
url = st.sampled_from(["https://example.com/a", "http://x.example/p?q=1&r=2#f", "https://ü.example/päth",
                       "https://proxy-prod.omnivore-image-cache.app/0x0,sAbC/https://cdn.example/i.png",
                       "<https://x.example/a b>", "https://x.example/(paren)", "data:image/png;base64,AAAA", ""])

KEYS = ["title", "author", "date", "tags", "draft", "published", "status", "url", "description", "source",
        "id", "aliases", "created", "Title", "标题", "site_name", "summary"]


@st.composite
def yaml_entry(draw) -> list[str]:
    key = draw(st.sampled_from(KEYS))
    kind = draw(st.sampled_from(["plain", "single", "double", "block", "folded", "strip", "list", "flow",
                                 "bool", "empty", "comment", "nested"]))
    v = draw(phrase).replace("'", "").replace('"', "").replace("\\", "").strip() or "x"
    if kind == "plain":
        return [f"{key}: {draw(st.sampled_from(['x', 'A title', '2024-10-13', 'yes', 'true', '12', '标题 😀']))}"]
    if kind == "single":
        return [f"{key}: '{v}'"]
    if kind == "double":
        return [f'{key}: "{v}"']
    if kind in ("block", "folded", "strip"):
        ind = {"block": "|", "folded": ">", "strip": "|-"}[kind]
        body = draw(st.lists(phrase.map(lambda p: p.strip() or "x"), min_size=1, max_size=3))
        tail = draw(st.sampled_from(["", " # comment"]))
        return [f"{key}: {ind}{tail}", *(f"  {b}" for b in body)]
    if kind == "list":
        items = draw(st.lists(st.sampled_from(["a", "b", "标签", "x y"]), min_size=0, max_size=3))
        return [f"{key}:", *(f"  - {i}" for i in items)] if items else [f"{key}: []"]
    if kind == "flow":
        return [f"{key}: [a, b]"]
    if kind == "bool":
        flag = draw(st.sampled_from(["true", "false", "yes", "no", "on", "off", '"true"']))
        return [f"{key}: {flag}"]
    if kind == "empty":
        return [f"{key}:"]
    if kind == "comment":
        return [f"# {v}"]
    return [f"{key}:", f"  inner: {draw(st.sampled_from(['1', 'x', 'yes']))}",
            f"  inner: {draw(st.sampled_from(['2', 'y']))}"]


@st.composite
def front_matter(draw) -> list[str]:
    kind = draw(st.sampled_from(["none", "yaml", "yaml", "yaml", "yaml", "empty", "toml", "unclosed", "broken"]))
    if kind == "none":
        return []
    if kind == "empty":
        return ["---", "---"]
    if kind == "toml":
        return ["+++", 'title = "A title"', f"draft = {draw(st.sampled_from(['true', 'false']))}", "+++"]
    lines = [ln for e in draw(st.lists(yaml_entry(), min_size=1, max_size=6)) for ln in e]
    if draw(st.booleans()):  # a title the body may repeat as its first heading
        lines.insert(draw(st.integers(0, len(lines))), "title: " + TITLE)
    if kind == "unclosed":
        return ["---", *lines]
    if kind == "broken":
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["k: [unclosed", "\tk: tab", "x: *a",
                                                                             ": nokey", "k: 'open"])))
    closer = draw(st.sampled_from(["---", "---", "..."]))
    return ["---", *lines, closer]


@st.composite
def body_block(draw) -> list[str]:
    kind = draw(st.sampled_from(["para", "para", "heading", "list", "quote", "fence", "indented", "comment",
                                 "hr", "image", "link", "definition", "html", "table", "blank", "scaffold",
                                 "raw"]))
    p = draw(phrase)
    if kind == "para":
        return draw(st.lists(phrase, min_size=1, max_size=3))
    if kind == "heading":
        return [f"{'#' * draw(st.integers(1, 6))} {p}"]
    if kind == "list":
        return [f"- {x}" for x in draw(st.lists(phrase, min_size=1, max_size=3))]
    if kind == "quote":
        return [f"> {p}"]
    if kind == "fence":
        inner = draw(st.lists(phrase, min_size=0, max_size=3))
        return ["```" + draw(st.sampled_from(["", "yaml", "md"])), *inner,
                *draw(st.sampled_from([["```"], ["```"], []]))]
    if kind == "indented":
        return ["", f"    {p}", ""]
    if kind == "comment":
        return [f"<!-- {p} -->"]
    if kind == "hr":
        return [draw(st.sampled_from(["---", "***", "* * *", "--- ", "___"]))]
    if kind == "image":
        return [f"![{p}]({draw(url)})"]
    if kind == "link":
        return [f"{p} [{draw(phrase)}]({draw(url)}) {draw(phrase)}"]
    if kind == "definition":
        return [f"[{draw(st.sampled_from(['a', 'ref', '1']))}]: {draw(url) or 'x'}"]
    if kind == "html":
        return [f'<img src="{draw(url)}" alt="{draw(phrase)}">']
    if kind == "table":
        return ["| a | b |", "|---|---|", f"| {p} | x |"]
    if kind == "raw":
        return [draw(raw_line)]
    if kind == "scaffold":
        return [draw(st.sampled_from(["# Full Content:", "[Read Original](https://omnivore.app/x)", "#Omnivore",
                                      "date_saved: 2024-10-13 20:31:09", "Share this post", "**END**"]))]
    return [""]


TITLE = "Subsidies cannot buy loyalty"


@st.composite
def note_bytes(draw) -> bytes:
    lines = draw(front_matter())
    if draw(st.booleans()):
        lines += [*draw(st.sampled_from([[f"# {TITLE}"], [f"## {TITLE}"], [f"# {TITLE.upper()}"], [TITLE, "==="]])), ""]
    for block in draw(st.lists(body_block(), min_size=0, max_size=8)):
        lines.extend(block)
        if draw(st.booleans()):
            lines.append("")
    nl = draw(st.sampled_from(["\n", "\n", "\r\n", "\r\n", "\r", "mixed"]))
    if nl == "mixed":
        seps = draw(st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(lines), max_size=len(lines)))
        text = "".join(ln + sep for ln, sep in zip(lines, seps))
    else:
        text = nl.join(lines) + (nl if lines and draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return data


def _newline_styles(text: str) -> set[str]:
    crlf = text.count("\r\n")
    styles = set()
    if crlf:
        styles.add("\r\n")
    if text.count("\n") > crlf:
        styles.add("\n")
    if text.count("\r") > crlf:
        styles.add("\r")
    return styles


def _fm_ok(doc: Document) -> bool:
    fm = doc.front_matter
    return fm is not None and fm.closed and fm.error is None


# -- properties ------------------------------------------------------------------------------

def test_all_builtin_rules_are_exercised():
    from tidymark.registry import builtin_rules

    assert {r.code for r in RULES} == {i.cls.code for i in builtin_rules()}


@PROFILE
@given(note_bytes())
def test_check_never_raises_or_reports_internal_errors(data):
    doc = document_from_bytes(data)
    diags = check_document(doc, RULES)
    internal = [(d.code, d.message) for d in diags if d.code.startswith("TM")]
    assert not internal, internal
    n = len(doc.text)
    for d in diags:
        assert 0 <= d.span.start <= d.span.end <= n
        assert d.line >= 1 and d.column >= 1 and (d.end_line, d.end_column) >= (d.line, d.column)


@pytest.mark.parametrize("threshold", [Applicability.SAFE, Applicability.UNSAFE], ids=["safe", "unsafe"])
@PROFILE
@given(data=note_bytes())
def test_fix_is_idempotent_and_lossless_in_form(threshold, data):
    doc = document_from_bytes(data)
    once = fix_document(doc, RULES, threshold)
    # The structure guard refusing a fix (blocks that cannot be kept apart, e.g. two lists
    # around a removed heading) is a safe outcome: nothing is applied to the file.
    refused = [p for p in once.problems if "changed the structure of untouched text" in p.message]
    if refused:
        assert once.text == doc.text and not once.applied
        return
    assert not once.problems, [p.message for p in once.problems]
    assert not [d for d in once.diagnostics if d.code.startswith("TM")]
    twice = fix_document(Document(once.text, bom=doc.bom, newline=doc.newline), RULES, threshold)
    assert not twice.problems, [p.message for p in twice.problems]
    assert twice.text == once.text, "fixing twice differs from fixing once"
    assert not twice.changed
    if once.changed:
        fixed = Document(once.text)
        if _fm_ok(doc):
            assert _fm_ok(fixed), "a fix broke the front matter"
        styles = _newline_styles(doc.text)
        if len(styles) == 1:
            assert _newline_styles(once.text) <= styles, "a fix introduced another newline style"
        # the bytes written back keep the BOM
        assert encode(once.text, doc.bom).startswith(codecs.BOM_UTF8) == doc.bom


@PROFILE
@given(note_bytes())
def test_a_note_without_problems_is_returned_byte_identical(data):
    doc = document_from_bytes(data)
    if check_document(doc, RULES):
        return
    for threshold in (Applicability.SAFE, Applicability.UNSAFE):
        out = fix_document(doc, RULES, threshold)
        assert not out.changed and not out.problems
        assert encode(out.text, doc.bom) == data


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    try:
        doc = document_from_bytes(data)
    except Exception as exc:  # only the documented refusal is allowed
        from tidymark.source import DecodeError

        assert isinstance(exc, DecodeError)
        return
    diags = check_document(doc, RULES)
    assert not [d for d in diags if d.code == "TM002"]
    fix_document(doc, RULES, Applicability.UNSAFE)
