"""Inline suppressions and the unused-suppression report, with the full rule set."""

from tidymark.config import Settings
from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.engine import check_document, fix_document
from tidymark.runner import RuleBook

RULES = RuleBook().rules_for(Settings())
P = "https://proxy-prod.omnivore-image-cache.app/0x0,sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE"


def codes(text):
    return [(d.line, d.code) for d in check_document(Document(text), RULES)]


def test_disable_next_line_silences_and_is_used():
    text = f"Intro.\n\n<!-- tidymark-disable-next-line IM001 -->\n![]({P}/https://img.example.org/a.png)\n"
    assert codes(text) == []


def test_next_line_skips_blank_lines():
    text = f"<!-- tidymark-disable-next-line IM -->\n\n![]({P}/https://img.example.org/a.png)\n"
    assert codes(text) == []


def test_disable_enable_range():
    img = f"![]({P}/https://img.example.org/a.png)"
    text = f"<!-- tidymark-disable IM001 -->\n{img}\n<!-- tidymark-enable IM001 -->\n\n{img}\n"
    assert codes(text) == [(5, "IM001")]


def test_disable_all_until_end():
    text = f"Para.\n\n<!-- tidymark-disable -->\n\n![]({P}/https://img.example.org/a.png)\n"
    assert codes(text) == []


def test_disable_file_by_name():
    text = f"![]({P}/https://img.example.org/a.png)\n\n<!-- tidymark-disable-file dead-image-proxy -->\n"
    assert codes(text) == []


def test_front_matter_ignore():
    text = "---\ntitle: T\ndraft: true\ntidymark:\n  ignore: [PB001]\n---\nBody.\n"
    assert codes(text) == []
    assert codes(text.replace("[PB001]", "[DM]")) == [(3, "PB001")]


def test_unused_code_reported_and_fixed():
    text = "Plain paragraph.\n\n<!-- tidymark-disable-next-line IM001 -->\nNo image here.\n"
    assert codes(text) == [(3, "TM100")]
    out = fix_document(Document(text), RULES, Applicability.SAFE)
    assert out.text == "Plain paragraph.\n\nNo image here.\n"


def test_partly_used_comment_has_no_fix():
    text = f"<!-- tidymark-disable-next-line IM001,PB001 -->\n![]({P}/https://img.example.org/a.png)\n"
    diags = check_document(Document(text), RULES)
    assert [(d.code, d.fix) for d in diags] == [("TM100", None)]
    assert "unused code PB001" in diags[0].message


def test_comment_inside_code_is_not_a_suppression():
    text = f"```\n<!-- tidymark-disable -->\n```\n\n![]({P}/https://img.example.org/a.png)\n"
    assert codes(text) == [(5, "IM001")]


def test_ignoring_tm100_keeps_suppressions_quiet():
    rules = RuleBook().rules_for(Settings(ignore=("TM100",)))
    text = "<!-- tidymark-disable-next-line IM001 -->\nNo image.\n"
    assert check_document(Document(text), rules) == []
