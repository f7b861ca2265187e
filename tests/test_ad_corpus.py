"""Content-loss guard for the boilerplate (AD) rules on the real corpus.

Runs only when ``../shared/corpus`` exists (it is third-party text kept outside the
repository).  Every removal a *safe* AD fix makes must be boilerplate-shaped: a short line
or a block of nothing but links and images.  A removed paragraph of long sentences means
a rule is eating article content.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from tidymark.diagnostics import Applicability
from tidymark.document import Document
from tidymark.engine import check_document, fix_document
from tidymark.registry import builtin_rules
from tidymark.source import DecodeError, decode

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
MAX_WIDTH = 120  # about 60 CJK characters or 120 latin ones

_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_LINK = re.compile(r"\[([^\]\n]*)\]\([^\n]*?\)")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_TAG = re.compile(r"<[^<>\n]*>")
_EMPH = re.compile(r"[*_~`>#|\\-]")


def _files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.rglob("*.md"))


def _rules():
    return [i.cls() for i in builtin_rules() if i.cls.code.startswith("AD")]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _visible(line: str) -> str:
    import html

    line = html.unescape(line)
    line = _IMAGE.sub("", line)
    line = _LINK.sub(r"\1", line)
    line = _URL.sub("", line)
    line = _TAG.sub("", line)
    return _EMPH.sub("", line).strip()


def _link_only(chunk: str) -> bool:
    import html

    rest = html.unescape(chunk)
    rest = _IMAGE.sub("", rest)
    rest = re.sub(r"\[(?:[^\[\]\n]|\[[^\]\n]*\])*\]\([^\n]*?\)", "", rest)
    rest = _URL.sub("", _TAG.sub("", rest))
    return not any(c.isalpha() for c in rest)


def _suspicious(removed: str) -> list[str]:
    """Chunks of removed text that look like article prose."""
    bad = []
    for chunk in re.split(r"\n[ \t]*\r?\n", removed.replace("\r\n", "\n")):
        if not chunk.strip() or _link_only(chunk):
            continue
        for line in chunk.split("\n"):
            if _width(_visible(line)) > MAX_WIDTH:
                bad.append(line[:200])
    return bad


@pytest.fixture(scope="module")
def corpus_docs():
    files = _files()
    if not files:
        pytest.skip("../shared/corpus is not available")
    docs = []
    for path in files:
        try:
            docs.append((path, decode(path.read_bytes()).text))
        except DecodeError:
            continue
    return docs


@pytest.fixture(scope="module")
def checked(corpus_docs):
    rules = _rules()
    out = []
    for path, text in corpus_docs:
        doc = Document(text, path)
        out.append((path, text, doc, check_document(doc, rules)))
    return out


def test_safe_removals_are_short_lines_or_links(checked):
    problems = []
    for path, text, doc, diags in checked:
        for d in diags:
            if d.fix is None or d.fix.applicability < Applicability.SAFE:
                continue
            removed = "".join(text[e.span.start:e.span.end] for e in d.fix.edits)
            for line in _suspicious(removed):
                problems.append(f"{path.name}:{d.line} {d.code}: {line}")
    assert not problems, "safe AD fixes remove prose:\n" + "\n".join(problems[:50])


def test_safe_fix_converges_and_keeps_most_of_the_text(corpus_docs):
    rules = _rules()
    problems = []
    for path, text in corpus_docs:
        out = fix_document(Document(text, path), rules, Applicability.SAFE)
        if out.problems:
            problems.append(f"{path.name}: {[p.message for p in out.problems]}")
            continue
        before = len("".join(_visible(ln) for ln in text.splitlines()))
        after = len("".join(_visible(ln) for ln in out.text.splitlines()))
        if before and (before - after) > max(300, 0.25 * before):
            problems.append(f"{path.name}: {before - after} of {before} visible characters removed")
        if not out.applied:
            continue
        again = fix_document(Document(out.text, path), rules, Applicability.SAFE)
        if again.text != out.text:
            problems.append(f"{path.name}: fixing twice differs from fixing once")
    assert not problems, "\n".join(problems[:50])


def test_code_and_comments_untouched(checked):
    """No AD fix (safe or unsafe) edits a fenced block, a code span or an HTML comment."""
    problems = []
    for path, text, doc, diags in checked:
        for d in diags:
            if d.fix is None:
                continue
            if any(doc.is_protected(e.span) for e in d.fix.edits if len(e.span)):
                problems.append(f"{path.name}:{d.line} {d.code}")
    assert not problems, "\n".join(problems[:50])
