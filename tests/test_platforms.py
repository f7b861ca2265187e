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
