"""The golden corpus: every seed's check output and default-fix output.

``seeds/<name>.md`` is fixed with the default (safe) fixes and must give exactly
``seeds/<name>.fixed.md``; its diagnostics (line and code) must equal
``seeds/<name>.check.json``.  Set ``TIDYMARK_UPDATE_SEEDS=1`` to rewrite the check files
after reviewing a change.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from tidymark.api import document_from_bytes
from tidymark.diagnostics import Applicability
from tidymark.engine import check_document, fix_document
from tidymark.runner import RuleBook
from tidymark.config import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
NAMES = sorted(p.name[:-3] for p in SEEDS.glob("*.md")
               if not p.name.endswith(".fixed.md") and p.name != "README.md")
RULES = RuleBook().rules_for(Settings())
UPDATE = os.environ.get("TIDYMARK_UPDATE_SEEDS") == "1"


def _doc(path: Path):
    return document_from_bytes(path.read_bytes(), path)


def test_seeds_present():
    assert len(NAMES) >= 8


@pytest.mark.parametrize("name", NAMES)
def test_fix_output(name):
    doc = _doc(SEEDS / f"{name}.md")
    out = fix_document(doc, RULES, Applicability.SAFE)
    assert not out.problems, [p.message for p in out.problems]
    expected = _doc(SEEDS / f"{name}.fixed.md").text
    assert out.text == expected


@pytest.mark.parametrize("name", NAMES)
def test_check_output(name):
    doc = _doc(SEEDS / f"{name}.md")
    got = [[d.line, d.code] for d in check_document(doc, RULES)]
    path = SEEDS / f"{name}.check.json"
    if UPDATE:
        path.write_text(json.dumps(got) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_fixed_output_is_stable(name):
    """The expected output has nothing left for the default fix, and no engine error."""
    doc = _doc(SEEDS / f"{name}.fixed.md")
    diags = check_document(doc, RULES)
    assert not [d for d in diags if d.code.startswith("TM")]
    assert not [(d.line, d.code) for d in diags if d.fix is not None and d.fix.applicability >= Applicability.SAFE]


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("clean-")])
def test_clean_notes_have_no_problems(name):
    assert check_document(_doc(SEEDS / f"{name}.md"), RULES) == []


REFERENCE = ROOT.parent / "shared" / "seeds" / "000_14519530f68e9328.txt"


@pytest.mark.skipif(not REFERENCE.exists(), reason="../shared is not present")
def test_reference_seed(tmp_path):
    """The document tidymark was designed from: every defect found, the safe fix leaves the article."""
    from tidymark.cli import main

    target = tmp_path / "reference.md"
    shutil.copyfile(REFERENCE, target)
    doc = _doc(target)
    codes = {d.code[:2] for d in check_document(doc, RULES)}
    assert {"FM", "PB", "DM", "AD", "IM"} <= codes
    assert main(["fix", str(target)]) == 1  # the draft flag and notices remain (unsafe fixes)
    text = target.read_text(encoding="utf-8")
    for gone in ("#Omnivore", "Read on Omnivore", "Read Original", "Full Content", "omnivore-image-cache",
                 "\ndate_saved:", "为你推荐", "更多精彩内容", "courses/tobpm"):
        body = text.split("\n---\n", 1)[1]
        assert gone not in body, gone
    assert text.startswith("---\nid: ")
    assert "\ntitle: 补贴烧不出忠诚度" in text and "\nurl: https://www.woshipm.com/it/6126081.html\n" in text
    assert "作者丨茯神 编辑丨蕨影" in text
    assert "https://image.woshipm.com/2024/10/13/32de5940-895d-11ef-b0e5-00163e142b65.png" in text
    assert not text.rstrip("\n").endswith("---")
