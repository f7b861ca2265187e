from __future__ import annotations

import hashlib
import re
from functools import partial
from itertools import chain, combinations
from collections import Counter, defaultdict
from dataclasses import dataclass

from tidymark.rules._clipper import SOURCE_URL_KEYS, norm_url
from tidymark.diagnostics import Severity
from tidymark.core.project import ProjectRule

SAMPLE = 64
_WORDS = re.compile(r"[\W_]+", re.UNICODE)
# a fence line, found from the line break before it (searched for in "\n" + body): the
# expression engine then looks for line breaks, where "^" with re.M would be tried at every character
_FENCE = re.compile(r"\n {0,3}(`{3,}|~{3,})([^\n]*)")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)*\n")
_READ_ORIGINAL = re.compile(r"^\[(?:Read Original|Original)\]\((https?://[^)\s]+)\)\s*$", re.M)


class DuplicateArticle(ProjectRule):
    """The same article is saved more than once in the folder.

    ## What it does
    Compares the notes of a run with each other and reports notes that hold the same
    article: the same source URL (front-matter `url` / `source` / `original_url`, or the
    clipper's `[Read Original](…)` line, compared without scheme, `www.` and trailing
    slash), or a near-identical body (at least `min-similarity` of their substantial
    paragraphs are the same after normalising case, punctuation and whitespace).  Each
    note of a group is reported with the others named.  A paragraph here is a run of lines
    between blank lines outside fenced code, with at least 40 letters or digits; it is
    found from the text alone, so gathering it costs no Markdown parse.

    ## Why is this bad?
    Read-it-later exports and clippers save an article again when it is re-saved,
    re-synced or moved; the copies drift apart, highlights end up split between them, and
    search shows every result twice.

    ## Example
    ```markdown
    ---
    url: https://example.org/post
    ---

    The post.
    ```

    ## Fix safety
    No fix: which copy to keep (and whether to merge highlights) is the user's decision.

    ## Options
    - `min-similarity`: share of shared paragraphs that makes two bodies duplicates (default 0.8)
    - `min-paragraphs`: bodies with fewer substantial paragraphs are only compared by URL (default 3)
    """

    code = "DM006"
    name = "duplicate-article"
    summary = "The same article is saved more than once"
    default_severity = Severity.WARNING

    @dataclass(frozen=True)
    class Options:
        min_similarity: float = 0.8
        min_paragraphs: int = 3

    def facts(self, doc):
        fm = doc.front_matter
        url = None
        if fm is not None and fm.error is None:
            for k, v in fm.values.items():
                if str(k).lower() in SOURCE_URL_KEYS and isinstance(v, str) and v.startswith(("http://", "https://")):
                    url = norm_url(v)
                    break
        if url is None and "Original](" in doc.text:
            m = _READ_ORIGINAL.search(doc.text, doc.body_start)
            if m:
                url = norm_url(m.group(1))
        paras = []
        for chunk in _paragraphs(doc.body_lf):
            if len(chunk) < 40 and chunk.isascii():
                continue  # fewer than 40 letters and digits
            t = _letters_and_digits(chunk.lower())
            if len(t) >= 40:
                paras.append(int.from_bytes(hashlib.sha1(t).digest()[:6], "big"))
        # A bottom-k sketch: the SAMPLE smallest paragraph hashes.  The same paragraphs give
        # the same hashes in every note, so shared sketches estimate shared paragraphs while
        # the facts kept per note (and the memory of a whole-folder run) stay bounded.
        # kept as one string of 12 hex digits per hash: a whole-folder run holds these for
        # every note, and one string takes a tenth of the memory of a list of integers
        sketch = "".join(f"{h:012x}" for h in sorted(set(paras))[:SAMPLE])
        return {"url": url, "paras": sketch, "n": len(set(paras))}

    def check_project(self, facts):
        groups: dict[str, set[str]] = defaultdict(set)
        reasons: dict[tuple[str, str], str] = {}
        by_url = defaultdict(list)
        for key, f in facts.items():
            if f.get("url"):
                by_url[f["url"]].append(key)
        for url, keys in by_url.items():
            if len(keys) > 1:
                for k in keys:
                    for o in keys:
                        if o != k:
                            groups[k].add(o)
                            reasons[(k, o)] = "same source URL"
        # near-identical bodies: candidates share a paragraph hash.
        # Candidate pairs share a paragraph that is rare in the folder; a paragraph found in
        # many notes is boilerplate (or a versioned copy of a docs page), not an article,
        # and would make the pair count grow quadratically.  Hashes are counted in C
        # (Counter) and set intersections pick each note's shared ones: a folder's notes
        # hold about 30 hashes each, and most are found in one note only.
        sizes = {}
        compared = []
        for key, f in facts.items():
            hashes = _hashes(f["paras"])
            sizes[key] = len(hashes)
            if len(hashes) >= self.options.min_paragraphs:
                compared.append((key, hashes))
        counts = Counter(chain.from_iterable(hashes for _, hashes in compared))
        rare = {h for h, n in counts.items() if 1 < n <= 8}
        index = defaultdict(list)
        for key, hashes in compared:
            for h in rare.intersection(hashes):
                index[h].append(key)
        shared = Counter(chain.from_iterable(map(partial(combinations, r=2), index.values())))
        for (a, b), n in shared.items():
            sa, sb = sizes[a], sizes[b]  # sketch sizes (≤ SAMPLE)
            if n / max(1, min(sa, sb)) >= self.options.min_similarity and n / max(sa, sb) >= 0.5:
                for x, y in ((a, b), (b, a)):
                    groups[x].add(y)
                    reasons.setdefault((x, y), "near-identical body")
        for key in sorted(groups):
            others = sorted(groups[key])
            why = sorted({reasons[(key, o)] for o in others})
            yield key, self.at(1, f"Same article as {', '.join(others[:3])}"
                                  f"{f' and {len(others) - 3} more' if len(others) > 3 else ''} ({', '.join(why)})")


_NOT_ALNUM_ASCII = bytes(c for c in range(128) if not chr(c).isalnum())


def _letters_and_digits(text: str) -> bytes:
    """The text without what ``[\\W_]`` matches, UTF-8 encoded: for ASCII text a byte
    deletion (most paragraphs; a regular expression costs ten times as much)."""
    if text.isascii():
        return text.encode("ascii").translate(None, _NOT_ALNUM_ASCII)
    return _WORDS.sub("", text).encode()


def _hashes(sketch: str) -> list[str]:
    """The paragraph hashes of a note's sketch (12 hex digits each)."""
    return [sketch[i:i + 12] for i in range(0, len(sketch), 12)]


def _paragraphs(body: str) -> list[str]:
    """The paragraphs of a body with ``\\n`` line ends (Document.body_lf) for comparison: runs of lines between blank lines, fenced code
    left out.  Found from the text alone (no Markdown parse: facts are gathered for every note
    of a run); what counts is that the same text gives the same paragraphs in every note."""
    if "```" in body or "~~~" in body:
        kept: list[str] = []
        pos = 0
        fence = None
        for m in _FENCE.finditer("\n" + body):  # offsets in body: the match's start is its line's
            marker, rest = m.group(1), m.group(2)
            if fence is None:
                if marker[0] == "`" and "`" in rest:
                    continue  # not a fence: a backtick fence's info string has no backtick
                kept.append(body[pos:m.start()])
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence) and not rest.strip():
                pos = m.end() - 1
                fence = None
        if fence is None:
            kept.append(body[pos:])
        body = "\n\n".join(kept)
    return [c for c in _BLANK_LINES.split(body) if c.strip()]
