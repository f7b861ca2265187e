"""Fuzzing the whole per-file pipeline: read -> check -> fix -> write, on real files.

Random bytes and random Markdown-ish notes (front matter or not, CRLF / CR / mixed
newlines, a BOM or not, clipper scaffolding, proxied images, code, HTML) are written to a
file and run through the pipeline the CLI uses (with a journal).  For every input:

* no exception escapes; an undecodable file gets TM001 and is left byte for byte;
* the bytes written are what the engine computed, and fixing again changes nothing;
* no text outside the applied fixes' spans changes;
* with no fixable problem the bytes are identical;
* the journal keeps the original bytes of every file written.

``benchmarks/fuzz_atheris.py`` is the same target for a coverage-guided fuzzer.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tidymark.config import Settings
from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.engine import Guard, fix_document
from tidymark.pipeline import RunOptions, Worker
from tidymark.runner import RuleBook
from tidymark.source import DecodeError, Span, decode, encode

# TIDYMARK_FUZZ_EXAMPLES=5000 for a longer run (docs/reliability.md reports one)
PROFILE = settings(max_examples=int(os.environ.get("TIDYMARK_FUZZ_EXAMPLES", "200")), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])

PIECES = [
    "---", "...", "+++", "title: |", "  A title", "title: 'x'", "draft: true", "tags: [a, b]", "url: https://x.example/",
    "title: Subsidies cannot buy loyalty", "date_saved: 2024-10-13 20:31:09", "k: &a [1]", "r: *a", "\tk: tab",
    "# Subsidies cannot buy loyalty", "## Heading", "Paragraph with *emphasis* and `code`.", "> quote", "- item",
    "1. item", "    indented code", "```", "```yaml", "~~~", "<!-- comment -->", "<!-- tidymark-disable DM003 -->",
    "<!-- tidymark-enable -->", "<div>", "</div>", "| a | b |", "|---|---|", "***", "",
    "#Omnivore", "[Read Original](https://omnivore.app/me/x)", "[Read on Omnivore](https://omnivore.app/me/y)",
    "Read Original", "**END**", "Share this post", "Subscribe to our newsletter", "{{content}}",
    "![img](https://proxy-prod.omnivore-image-cache.app/0x0,sAbC/https://cdn.example/i.png)",
    "![](https://proxy-prod.omnivore-image-cache.app/0x0,s1/https://x.example/placeholder.gif)",
    '<img src="https://i0.wp.com/x.example/a.png?ssl=1" alt="a">', "[![thumb](https://x.example/t.png)](https://shop.example)",
    "&lt;p&gt;escaped &amp;amp; body&lt;/p&gt;", "&#x2F;&#x2F;", "[ref]: https://x.example/r", "[link][ref]",
    "补贴烧不出忠诚度", "naïve café 😀", "\u2028", "\x85", "\x0c", "\\", "[", "](", "<", "&", "*", "_",
]

piece = st.one_of(st.sampled_from(PIECES), st.sampled_from(PIECES), st.sampled_from(PIECES), st.text(st.characters(exclude_categories=("Cs",),
                                                                 exclude_characters="\x00"), max_size=12))


@st.composite
def note_bytes(draw) -> bytes:
    lines = draw(st.lists(piece, max_size=30))
    if draw(st.booleans()):
        lines = ["---", *draw(st.lists(st.sampled_from(PIECES[3:14] + ["title: |\n  A title"] * 3), max_size=6)),
                 draw(st.sampled_from(["---", "---", "...", ""])), *lines]
    nl = draw(st.sampled_from(["\n", "\n", "\r\n", "\r", "mixed"]))
    if nl == "mixed":
        text = "".join(ln + draw(st.sampled_from(["\n", "\r\n", "\r"])) for ln in lines)
    else:
        text = nl.join(lines) + (nl if draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = codecs.BOM_UTF8 + data
    return data


any_bytes = st.one_of(note_bytes(), note_bytes(), note_bytes(), note_bytes(), st.binary(max_size=400),
                      note_bytes().map(lambda b: b.replace(b"e", b"\xe9", 1)))  # one Latin-1 byte

RULES = RuleBook().rules_for(Settings())


def _segments_kept(original: str, fixed: str, spans: list[Span]) -> bool:
    """Is every stretch of ``original`` outside ``spans`` in ``fixed``, in order and whole?"""
    spans = sorted(spans)
    merged: list[Span] = []
    for s in spans:
        if merged and s.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, s.end))
        else:
            merged.append(s)
    cuts = [0] + [p for s in merged for p in (s.start, s.end)] + [len(original)]
    segments = [original[cuts[i]:cuts[i + 1]] for i in range(0, len(cuts), 2)]
    if not fixed.startswith(segments[0]) or not fixed.endswith(segments[-1]):
        return False
    pos = len(segments[0])
    for seg in segments[1:-1]:
        found = fixed.find(seg, pos)
        if found == -1:
            return False
        pos = found + len(seg)
    return pos <= len(fixed) - len(segments[-1]) or len(segments) == 1


@PROFILE
@given(data=any_bytes)
def test_pipeline_fix_is_safe_on_any_input(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    f = folder / "note.md"
    f.write_bytes(data)
    journal = folder / "journal"
    worker = Worker(RunOptions(mode="fix", use_cache=False, config=folder / ".tidymark.yaml", journal=journal))
    res = worker.process(f, "note.md")  # must not raise
    after = f.read_bytes()
    try:
        dec = decode(data)
    except DecodeError:
        event("undecodable: TM001, untouched")
        assert [d.code for d in res.diagnostics] == ["TM001"] and after == data
        return
    # a rule failing is a bug; the content-loss guard refusing a fix is the safety net working
    # (reported, nothing written), and is counted so the rule can be fixed
    refused = [d for d in res.diagnostics if d.code == "TM002" and "changed the structure" in d.message]
    if refused:
        event(f"guard refused a fix: {refused[0].message.split(' changed')[0]}")
        assert not res.changed and after == data
        return
    assert not [d for d in res.diagnostics if d.code in ("TM001", "TM002")], \
        [d.message for d in res.diagnostics if d.code.startswith("TM")]

    doc = Document(dec.text, f, bom=dec.bom, newline=dec.newline)
    out = fix_document(doc, RULES, Applicability.SAFE, guard=Guard())
    fixable = [d for d in out.diagnostics if d.fix is not None and d.fix.applicability >= Applicability.SAFE]
    event("fixed" if res.changed else ("discarded (TM003)" if out.problems else "nothing to fix"))
    if not res.changed:
        assert after == data
        if not out.applied:
            assert not fixable or out.problems or res.diagnostics
        return
    # what was written is what the engine computed, keeping the BOM
    assert after == encode(out.text, dec.bom)
    # nothing outside the applied edits changed
    assert _segments_kept(dec.text, out.text, out.original_spans())
    # the journal kept the original
    [record] = [json.loads(p.read_text()) for p in (journal / "files").glob("*.json")]
    assert (journal / record["backup"]).read_bytes() == data
    # idempotent, through the pipeline again
    again = Worker(RunOptions(mode="fix", use_cache=False, config=folder / ".tidymark.yaml")).process(f, "note.md")
    assert not again.changed and f.read_bytes() == after


@PROFILE
@given(data=note_bytes())
def test_check_then_fix_agree_on_files_without_fixable_problems(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    f = folder / "note.md"
    f.write_bytes(data)
    opts = dict(use_cache=False, config=folder / ".tidymark.yaml")
    checked = Worker(RunOptions(mode="check", **opts)).process(f, "note.md")
    if any(d.fix is not None and d.fix.applicability >= Applicability.SAFE for d in checked.diagnostics):
        return
    fixed = Worker(RunOptions(mode="fix", journal=folder / "journal", **opts)).process(f, "note.md")
    assert not fixed.changed
    assert f.read_bytes() == data
    assert not (folder / "journal").exists()


def test_a_fix_that_would_turn_body_text_into_front_matter_is_refused(tmp_path):
    """Found by this fuzzer: removing a stray leading ``---`` made ``+++`` lines the start of
    a TOML front matter, so a paragraph would have vanished.  The guard refuses it."""
    f = tmp_path / "note.md"
    f.write_bytes(b"---\n\n+++\n+++")
    (tmp_path / ".tidymark.yaml").write_text("# defaults\n", encoding="utf-8")
    res = Worker(RunOptions(mode="fix", use_cache=False, config=tmp_path / ".tidymark.yaml")).process(f, "note.md")
    assert not res.changed and f.read_bytes() == b"---\n\n+++\n+++"


def test_segments_kept_helper():
    assert _segments_kept("abcdef", "aXcdef", [Span(1, 2)])
    assert not _segments_kept("abcdef", "aXcdf", [Span(1, 2)])
    assert _segments_kept("abc", "abc", [])
    assert _segments_kept("abc", "", [Span(0, 3)])
