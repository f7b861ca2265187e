"""Invariants of the default ``fix`` over real saved articles.

Runs only when ``../shared/corpus`` and ``../shared/bench-corpus`` exist (third-party text
kept outside the repository): every file of corpus/ and a fixed sample of 400 files of
bench-corpus/ are fixed in memory with the rules and guard the CLI uses by default, and
for every file:

* every paragraph that is not inside a reported removal survives (its text, with link
  destinations and HTML entities set aside, since rewrites of URLs and escapes are the
  point of some fixes);
* the number of images drops only where a removal fix took an image out (a proxy
  placeholder, a promotional image, a recommendation block's thumbnails);
* the front matter still parses, to the same keys (plus ``url`` where DM004 lifted it
  from the body);
* fixing again changes nothing;
* no fix is discarded (TM003) and no rule fails (TM002).
"""

from __future__ import annotations

import html
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from tidymark.config import Settings
from tidymark.diagnostics import Applicability, FixKind
from tidymark.document import Document
from tidymark.engine import Guard, fix_document
from tidymark.runner import RuleBook
from tidymark.source import DecodeError, Span, decode

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CORPUS = SHARED / "corpus"
BENCH = SHARED / "bench-corpus"
BENCH_SAMPLE = 400
SEED = 6  # issue 6

REMOVALS = (FixKind.REMOVE_CONTENT, FixKind.REMOVE_SCAFFOLDING)

_DEST = re.compile(r"\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:\s+\"[^\"\n]*\")?\)")
_URL = re.compile(r"(?:https?:)?//\S+")
_ATTR = re.compile(r"""\b(?:src|href|srcset|data-src)\s*=\s*(?:"[^"]*"|'[^']*'|\S+)""", re.I)
_WS = re.compile(r"\s+")
_IMAGE = re.compile(r"!\[|<img\b", re.I)


def _files() -> list[Path]:
    if not CORPUS.is_dir() or not BENCH.is_dir():
        return []
    corpus = sorted(p for p in CORPUS.rglob("*.md") if ".tidymark_cache" not in p.parts)
    bench = sorted(p for p in BENCH.rglob("*.md") if ".tidymark_cache" not in p.parts)
    sample = random.Random(SEED).sample(bench, min(BENCH_SAMPLE, len(bench)))
    return corpus + sorted(sample)


FILES = _files()
RULES = RuleBook().rules_for(Settings())  # the CLI's default selection
GUARD = Guard(max_removal=Settings().max_removal)


def norm(text: str) -> str:
    """Text as a reader sees it, set apart from what rewrite fixes legitimately change."""
    text = html.unescape(text)
    text = _DEST.sub("]", text)
    text = _ATTR.sub("", text)
    text = _URL.sub("", text)
    return _WS.sub(" ", text).strip()


def paragraphs(doc: Document) -> list[tuple[Span, str]]:
    """Every paragraph (at any depth: in lists and quotes too) with its span of whole lines."""
    out = []
    for t in doc.tokens:
        if t.type == "paragraph_open" and t.map is not None:
            span = doc.lines.lines_span(*t.map)
            out.append((span, doc.text[span.start:span.end]))
    return out


def image_count(text: str) -> int:
    return len(_IMAGE.findall(html.unescape(text)))


def fm_keys(doc: Document) -> set[str] | None:
    fm = doc.front_matter
    if fm is None:
        return set()
    if not fm.closed or fm.error is not None or fm.reader_error is not None:
        return None
    return {str(k) for k in fm.values}


def _inside(span: Span, spans: list[Span]) -> bool:
    return any(s.start < span.end and span.start < s.end for s in spans)


def check_file(path: Path) -> list[str]:
    try:
        dec = decode(path.read_bytes())
    except DecodeError:
        return []
    doc = Document(dec.text, path, bom=dec.bom, newline=dec.newline)
    out = fix_document(doc, RULES, Applicability.SAFE, guard=GUARD)
    problems = []
    engine = [d for d in out.problems + out.diagnostics if d.code in ("TM002", "TM003")]
    if engine:
        problems.append(f"engine diagnostics: {[d.message for d in engine]}")
    if not out.changed:
        if out.text != doc.text:
            problems.append("text changed without an applied fix")
        return problems
    fixed = Document(out.text, path, bom=doc.bom, newline=doc.newline)
    applied = out.applied_in_original()
    removed = [s for d, spans in applied if d.fix.kind in REMOVALS for s in spans]
    lifted = [s for d, spans in applied if d.code in ("DM004", "DM007") for s in spans]

    # paragraphs outside removals survive
    kept = Counter(norm(t) for span, t in paragraphs(doc) if not _inside(span, removed + lifted))
    body = norm(fixed.text)
    for text, n in kept.items():
        if text and body.count(text) < n:
            problems.append(f"paragraph lost: {text[:120]!r}")

    # images disappear only inside removals
    before, after = image_count(doc.text), image_count(fixed.text)
    in_removals = sum(image_count(doc.text[s.start:s.end]) for s in removed)
    if after < before - in_removals:
        problems.append(f"{before - after} images lost, only {in_removals} inside removal fixes")

    # front matter keys
    keys0, keys1 = fm_keys(doc), fm_keys(fixed)
    if keys0 is not None:
        from tidymark.lift import FACT_KEYS

        extra = {"url", "tags", *(k for ks in FACT_KEYS.values() for k in ks)} if lifted else set()
        if keys1 is None:
            problems.append("the front matter no longer parses")
        elif not (keys0 <= keys1 <= keys0 | extra):
            problems.append(f"front-matter keys changed: {sorted(keys0)} -> {sorted(keys1)}")

    # idempotent
    again = fix_document(fixed, RULES, Applicability.SAFE, guard=GUARD)
    if again.changed or again.text != out.text or again.problems:
        problems.append(f"fixing twice differs from fixing once ({[d.code for d in again.applied]}"
                        f"{[p.message for p in again.problems]})")
    return problems


@pytest.mark.slow
@pytest.mark.skipif(not FILES, reason="../shared/corpus and ../shared/bench-corpus are not available")
def test_default_fix_keeps_paragraphs_images_and_keys_over_the_corpus():
    failures = []
    changed = 0
    for path in FILES:
        problems = check_file(path)
        failures.extend(f"{path.relative_to(SHARED)}: {p}" for p in problems)
    assert not failures, f"{len(failures)} invariant violations:\n" + "\n".join(failures[:40])
    assert len(FILES) > BENCH_SAMPLE


def test_normalisation_sets_aside_only_urls_and_escapes():
    assert norm("See [the *docs*](https://x.example/a(b)c \"t\") &amp; more\n  here") == \
        "See [the *docs*] & more here"
    assert norm('<img src="https://proxy.example/x.png" alt="A cat">') == '<img alt="A cat">'
    assert image_count("![a](x) <IMG src=y> &lt;img src=z&gt; `![b](c)`") == 4
