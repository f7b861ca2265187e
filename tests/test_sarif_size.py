"""SARIF stays small: one replacement per contiguous edited region, compact JSON; the
replacements still make exactly the fix."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st

from tidymark.cli import main
from tidymark.diagnostics import Edit
from tidymark.formats import REGION_GAP, edit_regions
from tidymark.source import LineIndex

ESCAPED = ("---\ntitle: Escaped\n---\n\n"
           + "\n\n".join(f"&lt;p&gt;Paragraph {i} says it&#39;s &quot;fine&quot; &amp; more, with a long run of "
                         f"ordinary words between the entities of the line.&lt;&#x2F;p&gt;" for i in range(12))
           + "\n")


def apply_regions(text: str, reps) -> str:
    """Apply SARIF replacements (1-based lines, code-point columns) to ``text``."""
    lines = LineIndex(text)
    spans = []
    for r in reps:
        d = r["deletedRegion"]
        spans.append((lines.offset(d["startLine"], d["startColumn"]), lines.offset(d["endLine"], d["endColumn"]),
                      r["insertedContent"]["text"]))
    out = text
    for a, b, new in sorted(spans, reverse=True):
        out = out[:a] + new + out[b:]
    return out


def apply_edits(text: str, edits) -> str:
    out = text
    for a, b, new in sorted(edits, reverse=True):
        out = out[:a] + new + out[b:]
    return out


def test_an_escaped_body_is_a_few_replacements_that_make_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    (tmp_path / "n.md").write_text(ESCAPED, encoding="utf-8")
    main(["check", "--no-cache", "--select", "DM005", "--output-format", "json", "."])
    (item,) = json.loads(capsys.readouterr().out)
    lines = LineIndex(ESCAPED)
    edits = [(lines.offset(e["line"], e["column"]), lines.offset(e["end_line"], e["end_column"]), e["content"])
             for e in item["fix"]["edits"]]
    main(["check", "--no-cache", "--select", "DM005", "--output-format", "sarif", "."])
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # compact: one line
    (res,) = json.loads(out)["runs"][0]["results"]
    (change,) = res["fixes"][0]["artifactChanges"]
    reps = change["replacements"]
    assert len(edits) >= 12 * 6 and len(reps) <= 12 * 3  # not one replacement per entity
    fixed = apply_edits(ESCAPED, edits)
    assert "&lt;" not in fixed and "&#39;" not in fixed and "<p>Paragraph 3" in fixed
    assert apply_regions(ESCAPED, reps) == fixed
    # the article's text between the runs of entities is not repeated in the replacements
    assert sum(len(r["insertedContent"]["text"]) for r in reps) < len(fixed) / 2


@st.composite
def text_and_edits(draw):
    text = draw(st.text(alphabet="ab \n&;", max_size=300))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=20, unique=True)))  # no two edits at one point
    edits = []
    for a, b in zip(cuts[::2], cuts[1::2]):
        edits.append(Edit.replace(a, b, draw(st.text(alphabet="xy\n", max_size=4))))
    return text, draw(st.permutations(edits))


@given(text_and_edits())
def test_regions_apply_like_the_edits(case):
    text, edits = case
    regions = edit_regions(edits, text)
    assert apply_edits(text, regions) == apply_edits(text, [(e.span.start, e.span.end, e.text) for e in edits])
    assert len(regions) <= len(edits)
    for (_, end, _), (start, _, _) in zip(regions, regions[1:]):
        assert start - end > REGION_GAP  # regions closer than that are one
