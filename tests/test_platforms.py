"""The platform table (rules/data/platforms.yaml): validation, and every row's examples and
look-alikes run through the rules that read it (AD010 platform-template, DM010 failed-clip)."""

from __future__ import annotations

import textwrap

import pytest

from tidymark import platforms
from tidymark.api import check_text, fix_text
from tidymark.rules.ad010_platform_template import PlatformTemplate
from tidymark.rules.dm010_failed_clip import FailedClip

TABLE = platforms.load_table()

EXAMPLES = [(f"{p.id}/{t.id}/{n}", ex) for p in TABLE.platforms for t in p.templates
            for n, ex in enumerate(t.examples, 1)]
KEEPS = [(f"{p.id}/{t.id}/{n}", text) for p in TABLE.platforms for t in p.templates
         for n, text in enumerate(t.keep, 1)]
FAILED = [(f"{r.id}/{n}", ex.input) for r in TABLE.failed_clips for n, ex in enumerate(r.examples, 1)]
FAILED_KEEP = [(f"{r.id}/{n}", text) for r in TABLE.failed_clips for n, text in enumerate(r.keep, 1)]


def ad010(**options):
    return PlatformTemplate(PlatformTemplate.parse_options(options) if options else None)


@pytest.mark.parametrize(("name", "example"), EXAMPLES, ids=[n for n, _ in EXAMPLES])
def test_example_is_cleaned_as_the_row_says(name, example):
    out = fix_text(example.input, rules=[ad010()], unsafe=True)
    assert out.text == example.output, name


@pytest.mark.parametrize(("name", "text"), KEEPS, ids=[n for n, _ in KEEPS])
def test_look_alike_gives_no_finding(name, text):
    assert check_text(text, rules=[ad010()]) == []


def test_every_row_has_examples_and_every_template_is_exercised():
    for p in TABLE.platforms:
        assert any(t.examples for t in p.templates), p.id
    for r in TABLE.failed_clips:
        assert r.examples and r.keep, r.id


@pytest.mark.parametrize(("name", "text"), FAILED, ids=[n for n, _ in FAILED])
def test_failed_clip_example_is_reported(name, text):
    diags = check_text(text, rules=[FailedClip()])
    assert [d.code for d in diags] == ["DM010"], name
    assert diags[0].fix is None


@pytest.mark.parametrize(("name", "text"), FAILED_KEEP, ids=[n for n, _ in FAILED_KEEP])
def test_failed_clip_look_alike_is_not_reported(name, text):
    assert check_text(text, rules=[FailedClip()]) == []


# -- the loader ---------------------------------------------------------------------------


def _row(**changes):
    row = {"id": "acme", "name": "Acme blog", "hosts": ["blog.acme.example"],
           "templates": [{"id": "footer", "kind": "line", "pattern": "Acme footer", "applicability": "safe"}]}
    row.update(changes)
    return row


@pytest.mark.parametrize(("changes", "message"), [
    ({"templates": [{"id": "footer", "kind": "line", "pattern": "(", "applicability": "safe"}]},
     "platform template 'acme'/footer: field 'pattern': bad regular expression"),
    ({"templates": [{"id": "footer", "kind": "tail", "applicability": "safe"}]},
     "platform template 'acme'/footer: field 'start'"),
    ({"templates": [{"id": "footer", "kind": "line", "pattern": "x", "applicability": "maybe"}]},
     "field 'applicability': must be safe or unsafe"),
    ({"templates": [{"id": "footer", "kind": "line", "pattern": "x", "applicability": "safe", "colour": 1}]},
     "field 'colour': unknown key"),
    ({"hosts": [], "markers": []}, "platform 'acme': field 'hosts': a row needs hosts or markers"),
    ({"templates": []}, "platform 'acme': field 'templates': must be a non-empty list"),
    ({"extra": 1}, "platform 'acme': field 'extra': unknown key"),
    ({"templates": [{"id": "box", "kind": "between", "start": "a", "end": "b", "until": "c",
                     "applicability": "safe"}]}, "field 'until': a 'between' template takes 'end' or 'until'"),
])
def test_invalid_rows_are_refused_naming_row_and_field(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        platforms.parse_platform(_row(**changes), "#1")


def test_duplicate_ids_in_a_table_are_refused():
    with pytest.raises(ValueError, match="platform id 'acme' is used twice"):
        platforms.parse_table({"version": 1, "platforms": [_row(), _row()]}, "t.yaml")


def test_extra_rows_are_added_and_replace_rows_of_the_same_id():
    table = platforms.load_table(extra=[_row()])
    assert table.platforms[0].id == "acme" and table.by_id("wechat")
    replaced = platforms.load_table(extra=[_row(id="medium", hosts=["medium.com"])])
    assert replaced.by_id("medium").templates[0].id == "footer"
    assert len(replaced.platforms) == len(TABLE.platforms)


NOTE = textwrap.dedent("""\
    ---
    url: https://blog.acme.example/posts/1
    ---
    A paragraph of the article, long enough to be read as running text by anyone.

    Scan the code to follow Acme

    ![qr](https://blog.acme.example/qr.png)

    ![figure](https://blog.acme.example/figure.png)
    """)


def test_a_users_table_file_adds_rows_and_orphan_images_go_with_their_caption(tmp_path):
    table = tmp_path / "platforms.yaml"
    table.write_text(textwrap.dedent("""\
        platforms:
          - id: acme
            name: Acme blog
            hosts: [blog.acme.example]
            templates:
              - id: follow-qr
                kind: line
                pattern: 'Scan the code to follow Acme'
                orphans: [decoration, images]
                applicability: safe
        """), encoding="utf-8")
    out = fix_text(NOTE, rules=[ad010(table=str(table))])
    # the QR image right under the caption goes with it; the figure after it stays
    assert "Scan the code" not in out.text and "qr.png" not in out.text
    assert "![figure](https://blog.acme.example/figure.png)" in out.text
    assert out.text.startswith("---\nurl: https://blog.acme.example/posts/1\n---\nA paragraph")
    assert check_text(NOTE, rules=[ad010()]) == []  # the built-in table knows no such platform


def test_a_broken_users_table_is_an_error_naming_the_file_and_row(tmp_path):
    table = tmp_path / "platforms.yaml"
    table.write_text("platforms:\n  - id: acme\n    name: Acme\n    hosts: [acme.example]\n"
                     "    templates: [{id: f, kind: line, pattern: '(', applicability: safe}]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"platform template 'acme'/f: field 'pattern'"):
        PlatformTemplate.parse_options({"table": str(table)})


def test_unsafe_template_is_applied_only_with_unsafe_fixes():
    row = _row(templates=[{"id": "footer", "kind": "line", "pattern": "Acme footer", "applicability": "unsafe"}])
    table = platforms.load_table(extra=[row])
    text = "---\nurl: https://blog.acme.example/a\n---\nThe article text, a whole sentence of it.\n\nAcme footer\n"
    rule = ad010()
    rule.__dict__["_table"] = table
    assert fix_text(text, rules=[rule]).text == text
    assert fix_text(text, rules=[rule], unsafe=True).text == \
        "---\nurl: https://blog.acme.example/a\n---\nThe article text, a whole sentence of it.\n"
