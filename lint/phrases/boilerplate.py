"""Shared helpers of the boilerplate (AD) rules: lexicons, line normalisation, link-only
blocks, head/tail position and removal edits.

**Lexicons** are data, not code: ``rules/data/lexicons/<lang>.yaml`` (format documented at the
top of ``common.yaml``).  They are read once and cached; :func:`matcher` combines the
selected languages and a rule's ``extra-phrases`` / ``extra-patterns`` options into one
compiled regular expression that runs over lower-cased text (no ``IGNORECASE``).

**Normalisation** (:func:`normalize`) turns one Markdown line into the text a reader sees,
in a canonical form the lexicons are written against: images, URLs and HTML tags dropped,
links reduced to their text, emphasis and escapes removed, NFKC, lower case, emoji and
symbols dropped, whitespace collapsed and punctuation trimmed from both ends.

**Position.**  :func:`analyze` classifies every top-level block of the body once per
document: is it *prose* (real running text: a paragraph of some length that no lexicon
recognises, code, a table)?  A block lies in the *head* of the body when no prose comes
before it and in the *tail* when no prose comes after it: boilerplate lives there, and
the AD rules only remove text without asking (safe fixes) in those places.

**Removal.**  :func:`removal_edit` and :func:`line_range_edit` build the edits, using the
whitespace convention of :mod:`tidymark.edits`.

**Speed.**  :class:`LineGate` finds, in one Aho-Corasick pass over the note, the few lines that
hold a word every phrase or pattern of a rule's lexicons requires; the rules look only at
those, and a note where none passes is never parsed for them.  :func:`confirm_lines` then
drops the lines whose own text cannot match.  The lexicons' parsed files, normalised phrases
and pattern requirements ship precomputed in ``lexicons/derived.json`` (see
:func:`write_derived`).
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
import weakref
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable
from urllib.parse import urlsplit

from tidymark.diagnostics import Edit
from tidymark.edits import remove_lines
from tidymark.rule import OptionsError
from tidymark.source import Span

# -- limits ---------------------------------------------------------------------------
#: A block whose unrecognised text is at least this wide is prose (CJK characters count 2).
PROSE_WIDTH = 60
#: Lines wider than this are never treated as calls to action or markers.
MAX_LINE_WIDTH = 120
#: Lines whose visible text is longer than this (characters) are only lower-cased.
MAX_MATCH_CHARS = 1000

WHOLE_LINE = frozenset({"recommendation", "recommendation_weak", "call_to_action", "call_to_action_template",
                        "call_to_action_end", "republication", "cta_link_text", "scaffolding"})
TERMS = frozenset({"call_to_action_gated", "call_to_action_keep", "share_words", "share_words_weak", "cta_link_urls",
                   "share_urls", "ad_domains", "shop_host_prefixes", "promo_paths", "promo_exempt_hosts"})
CATEGORIES = WHOLE_LINE | TERMS
_CATEGORY_KEYS = {"phrases", "patterns"}


# -- lexicons -----------------------------------------------------------------------------
def lexicon_dir() -> Path:
    import tidymark.rules

    return Path(tidymark.rules.__file__).resolve().parent / "data" / "lexicons"


def _lexicon_sources() -> tuple[dict[str, bytes], str]:
    """The lexicon files' bytes by file name, and a digest of all of them."""
    import hashlib

    raw = {path.name: path.read_bytes() for path in sorted(lexicon_dir().glob("*.yaml"))}
    h = hashlib.sha256()
    for name, data in raw.items():
        h.update(name.encode() + b"\0" + data + b"\0")
    return raw, h.hexdigest()


def _parse_lexicons(raw: dict[str, bytes]) -> dict[str, dict]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return {name: yaml.load(data.decode("utf-8"), Loader=loader) or {} for name, data in raw.items()}


@lru_cache(maxsize=None)
def _files() -> dict[str, dict]:
    """Every lexicon file by language code, validated.  The parsed files ship in
    derived.json too: when the YAML is unchanged (same digest) they are taken from there."""
    raw, digest = _lexicon_sources()
    snap = _derived().get("lexicons") or {}
    parsed = snap["files"] if snap.get("source") == digest else _parse_lexicons(raw)
    out: dict[str, dict] = {}
    for name, data in parsed.items():
        if not isinstance(data, dict):
            raise ValueError(f"{name}: a lexicon is a mapping of categories")
        lang = str(data.get("language", name.rsplit(".", 1)[0]))
        data = {k: v for k, v in data.items() if k != "language"}  # the shared parse stays intact
        for cat, body in data.items():
            if cat not in CATEGORIES:
                raise ValueError(f"{name}: unknown category {cat!r}")
            if not isinstance(body, dict) or set(body) - _CATEGORY_KEYS:
                raise ValueError(f"{name}: category {cat!r} takes only {sorted(_CATEGORY_KEYS)}")
            for key in _CATEGORY_KEYS:
                items = body.get(key) or []
                if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                    raise ValueError(f"{name}: {cat}.{key} must be a list of strings")
        out[lang] = data
    return out


def languages() -> tuple[str, ...]:
    """Language codes with a lexicon file (``common`` excluded: it is always used)."""
    return tuple(k for k in _files() if k != "common")


def _selected(langs: tuple[str, ...]) -> list[dict]:
    files = _files()
    unknown = [x for x in langs if x not in files]
    if unknown:
        raise OptionsError(f"no boilerplate lexicon for {', '.join(unknown)}; available: {', '.join(languages())}")
    chosen = langs or tuple(files)
    return [files[k] for k in files if k in chosen or k == "common"]


def check_patterns(patterns: Iterable[str], what: str) -> None:
    """Raise :class:`OptionsError` for a user pattern that does not compile."""
    for pat in patterns:
        try:
            re.compile(f"(?:{pat})")  # the way it is combined with the lexicon
        except re.error as exc:
            raise OptionsError(f"{what}: bad regular expression {pat!r}: {exc}") from None


def check_languages(langs: Iterable[str], what: str) -> None:
    unknown = [x for x in langs if x not in _files() or x == "common"]
    if unknown:
        raise OptionsError(f"{what}: no boilerplate lexicon for {', '.join(map(repr, unknown))}; "
                           f"available: {', '.join(languages())}")


class Matcher:
    """One lexicon category: exact phrases plus regular expressions.

    :meth:`full` looks phrases up in a set and only runs the patterns as a regular
    expression; :meth:`search` runs one alternation of both.  Compiling a lexicon's
    alternation costs milliseconds, more than a one-file run spends on its candidate lines:
    the first :attr:`ONE_BY_ONE` questions try only the patterns whose required words (see
    :func:`pattern_clauses`) the text holds, each on its own; after that the alternation is
    compiled once.  Both ways give the same answers.
    """

    __slots__ = ("phrases", "patterns", "_full", "_search", "_asked")
    ONE_BY_ONE = 64

    def __init__(self, phrases: frozenset[str], patterns: tuple[str, ...] = ()):
        self.phrases = phrases
        self.patterns = patterns
        self._full: re.Pattern | None = None
        self._search: re.Pattern | None = None
        self._asked = 0

    def _one_by_one(self) -> bool:
        self._asked += 1
        return self._asked <= self.ONE_BY_ONE

    def _may_match(self, text: str) -> Iterable[str]:
        """The patterns a match of which ``text`` could hold (it holds every word they require)."""
        for p in self.patterns:
            clauses = pattern_clauses(p)
            if clauses is None or all(any(t.text in text for t in cl) for cl in clauses):
                yield p

    @property
    def source(self) -> str | None:
        """The alternation of phrases (longest first) and patterns, or None when empty."""
        alts = [re.escape(p) for p in sorted(self.phrases, key=lambda s: (-len(s), s))]
        alts += [f"(?:{p})" for p in self.patterns]
        return "|".join(alts) if alts else None

    @property
    def regex(self) -> "re.Pattern | None":
        """Phrases and patterns as one expression, for searching inside a text."""
        if self._search is None and (self.phrases or self.patterns):
            self._search = re.compile(self.source)
        return self._search

    def full(self, norm: str) -> bool:
        """Is the whole normalised text one of the phrases or patterns?"""
        if not norm:
            return False
        if norm in self.phrases:
            return True
        if not self.patterns:
            return False
        if self._full is None:
            if self._one_by_one():
                return any(re.fullmatch(p, norm) for p in self._may_match(norm))
            self._full = re.compile("|".join(f"(?:{p})" for p in self.patterns))
        return self._full.fullmatch(norm) is not None

    def search(self, text: str) -> bool:
        """Does the text contain one of the phrases or patterns?"""
        if not text or not self:
            return False
        if self._search is None and self._one_by_one():
            return any(p in text for p in self.phrases) or any(re.search(p, text) for p in self._may_match(text))
        return self.regex.search(text) is not None

    def __bool__(self) -> bool:
        return bool(self.phrases) or bool(self.patterns)


@lru_cache(maxsize=256)
def matcher(category: str, langs: tuple[str, ...] = (), extra_phrases: tuple[str, ...] = (),
            extra_patterns: tuple[str, ...] = ()) -> Matcher:
    """The matcher of ``category`` over the selected languages (all when empty)."""
    if category not in CATEGORIES:
        raise KeyError(category)
    phrases: list[str] = []
    patterns: list[str] = []
    for data in _selected(langs):
        body = data.get(category) or {}
        phrases.extend(normalize_phrase(p) if category in WHOLE_LINE else p.lower() for p in body.get("phrases") or [])
        patterns.extend(body.get("patterns") or [])
    phrases.extend(normalize_phrase(p) if category in WHOLE_LINE else p.lower() for p in extra_phrases)
    patterns.extend(extra_patterns)
    return Matcher(frozenset(p for p in phrases if p), tuple(dict.fromkeys(patterns)))


def terms(category: str, langs: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The literal phrases of a term category (lower case), e.g. the ad domains."""
    out: list[str] = []
    for data in _selected(langs):
        out.extend(p.lower() for p in (data.get(category) or {}).get("phrases") or [])
    out.extend(p.lower() for p in extra)
    return tuple(dict.fromkeys(out))


# -- line gate ----------------------------------------------------------------------------
@dataclass(frozen=True, order=True)
class Token:
    """A word a matching line contains, in the gate text (see :class:`LineGate`).

    ``left`` / ``right``: the word is whole on that side, so an ASCII letter or digit next
    to it in the gate text rules the hit out.
    """

    text: str
    left: bool = False
    right: bool = False

    def score(self) -> int:
        """How selective the word is: longer is rarer, common words count less."""
        n = len(self.text) if self.text.isascii() else 2 * len(self.text)
        return n - 4 if self.text in _COMMON_WORDS else n


#: Words too common in ordinary prose to pick as the first thing a line must contain.
_COMMON_WORDS = frozenset(
    "a also and any are article at be blog by end for from get in is it like line link mail more most "
    "my new next of on or other our post posts print read s the this to up view want what with would "
    "you your".split())
_WORD = re.compile(r"[^\W_]+")
Clause = tuple  # tuple[Token, ...]: the line contains one of them


def _words(literal: str, bounded: bool) -> list[Token]:
    """Every word of a literal; ``bounded``: the literal is bounded on both sides."""
    out = []
    for m in _WORD.finditer(literal):
        word = m.group()
        ascii_word = word.isascii()
        # the gate text deletes emphasis and bracket characters, so only another character
        # (or the end of a whole-line phrase) is a boundary there
        before = literal[m.start() - 1] if m.start() else ""
        after = literal[m.end()] if m.end() < len(literal) else ""
        left = (before not in _GATE_DELETE) if before else bounded
        right = (after not in _GATE_DELETE) if after else bounded
        out.append(Token(word, ascii_word and left, ascii_word and right))
    return out


def _best(tokens) -> Token:
    return max(tokens, key=lambda t: (t.score(), t.text))


def _required(items) -> list[set[str]] | None:
    """Requirements of a parsed pattern: each set holds literals one of which every match
    contains (None: nothing is required)."""
    from re import _constants as c

    options: list[set[str]] = []
    run: list[str] = []

    def flush():
        if run:
            options.append({"".join(run)})
            run.clear()

    def lead(branch) -> str:
        out = []
        for bop, bav in branch:
            if bop is not c.LITERAL:
                break
            out.append(chr(bav))
        return "".join(out)

    for op, av in items:
        if op is c.LITERAL:
            run.append(chr(av))
            continue
        if op is c.BRANCH and run:
            # re's parser moves a prefix the branches share in front of them ("s" of
            # "subscribe|sign up"): put it back, the words are what the gate looks for
            options.append({"".join(run) + lead(b) for b in av[1]})
        flush()
        if op is c.SUBPATTERN:
            options.extend(_required(av[-1]) or ())
        elif op is c.ATOMIC_GROUP:
            options.extend(_required(av) or ())
        elif op is c.BRANCH:
            subs = [_required(b) for b in av[1]]
            if all(subs):
                alts: set[str] = set()
                for s in subs:
                    best = max(s, key=lambda o: min(_best(_words(lit, False)).score() for lit in o))
                    alts |= best
                options.append(alts)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            options.extend(_required(av[2]) or ())
        elif op is c.ASSERT and av[0] == 1:  # a lookahead: its text is in the line too
            options.extend(_required(av[1]) or ())
    flush()
    usable = [o for o in options if all(_WORD.search(s) for s in o)]
    return usable or None


def _literal_clauses(literal: str, bounded: bool) -> list[Clause]:
    return [(t,) for t in _words(literal, bounded) if len(t.text) > 1 or not t.text.isascii()] \
        or [(t,) for t in _words(literal, bounded)]


@lru_cache(maxsize=1024)
def pattern_clauses(pattern: str) -> tuple[Clause, ...] | None:
    """Clauses a line matching ``pattern`` satisfies, or None when it requires no word (the
    pattern then disables the gate of its category)."""
    known = _derived()["clauses"]
    if pattern in known:
        found = known[pattern]
        return None if found is None else tuple(tuple(Token(*t) for t in cl) for cl in found)
    return derive_pattern_clauses(pattern)


def derive_pattern_clauses(pattern: str) -> tuple[Clause, ...] | None:
    from re import _parser

    try:
        req = _required(_parser.parse(pattern.lower()))
    except Exception:  # noqa: BLE001 - an unparseable pattern just has no gate
        return None
    if req is None:
        return None
    clauses: list[Clause] = []
    for option in req:
        if len(option) == 1:
            clauses.extend(_literal_clauses(next(iter(option)), False))
        else:
            clauses.append(tuple(sorted(_best(_words(lit, False)) for lit in option)))
    return tuple(dict.fromkeys(clauses))


def phrase_clauses(phrase: str) -> tuple[Clause, ...] | None:
    return tuple(_literal_clauses(phrase, True)) or None


class LineGate:
    """Which lines of a document can match some matchers at all, without parsing it.

    Each phrase and pattern becomes a *requirement*: clauses of words that any line whose
    normalised text matches contains (every word of a phrase; for a pattern, the literal
    text every match contains, found from the parsed expression).  The gate text is the
    document with HTML entities decoded, NFKC, lower-cased, with images, HTML tags and link
    destinations blanked and emphasis, escapes, brackets and zero-width characters deleted:
    what :func:`normalize` drops, so the words of the normalised line are still there.  The
    most selective clause of each requirement is searched for in the whole text; only its
    lines are checked for the other clauses.  A rule asks only the lines that pass, and a
    document where none passes needs no Markdown parse for it.

    ``min_hits``: instead, a line passes when it holds that many words of the requirements
    (for lines made of several short items, such as a row of share buttons).  ``urls``:
    substrings of the lower-cased raw text (link targets) whose lines pass too.

    A pattern that requires no word (a user's ``.{1,40}``) disables the gate: :meth:`lines`
    then returns None, meaning every line.
    """

    def __init__(self, *matchers: Matcher, urls: tuple[str, ...] = (), min_hits: int = 1):
        reqs: dict[tuple[Clause, ...], None] = {}
        self.total = True
        for m in matchers:
            found = [phrase_clauses(ph) for ph in sorted(m.phrases)] + [pattern_clauses(pt) for pt in m.patterns]
            if any(r is None for r in found):
                self.total = False
            reqs.update(dict.fromkeys(r for r in found if r))
        self.min_hits = min_hits
        by_anchor: dict[Token, list[tuple[Clause, ...]]] = {}
        for req in reqs:
            anchor = max(req, key=lambda cl: (min(t.score() for t in cl), cl))
            rest = tuple(cl for cl in req if cl is not anchor)
            for t in anchor:
                by_anchor.setdefault(t, []).append(rest)
        # one empty rest: the anchor alone is enough
        self._anchors = {t: (() if () in rests else tuple(dict.fromkeys(rests))) for t, rests in by_anchor.items()}
        self._by_word: dict[str, list[tuple[Token, tuple]]] = {}
        for t, rests in self._anchors.items():
            self._by_word.setdefault(t.text, []).append((t, rests))
        self.urls = tuple(dict.fromkeys(u.lower() for u in urls))
        self._key = ("line_gate", id(self))
        _register(set(self._by_word), "gate")
        _register(set(self.urls), "raw")

    def lines(self, doc) -> frozenset[int] | None:
        """0-based lines that may match (None: the gate is off, every line may)."""
        if not self.total:
            return None
        return doc.memo(self._key, lambda: self._lines(doc))

    @staticmethod
    def _whole(gate: str, t: Token, i: int) -> bool:
        """Is the hit of ``t`` at ``i`` a whole word where the token requires it?"""
        if t.left and i > 0 and gate[i - 1] in _ASCII_ALNUM:
            return False
        j = i + len(t.text)
        return not (t.right and j < len(gate) and gate[j] in _ASCII_ALNUM)

    def _on_line(self, gate: str, t: Token, a: int, b: int) -> bool:
        i = gate.find(t.text, a, b)
        while i != -1:
            if self._whole(gate, t, i):
                return True
            i = gate.find(t.text, i + 1, b)
        return False

    def _lines(self, doc) -> frozenset[int]:
        gate, always = gate_text(doc)
        hits = word_hits(doc, "gate")
        found: set[int] = set(always)
        if not hits and not self.urls:
            return frozenset(found)
        index = gate_index(doc)
        line_of = index.line_of
        counts: dict[int, int] = {}
        by_word = self._by_word
        for word, positions in hits.items():
            anchors = by_word.get(word)
            if anchors is None:
                continue
            for t, rests in anchors:
                for i in positions:
                    if not self._whole(gate, t, i):
                        continue
                    line = line_of(i)
                    if self.min_hits > 1:
                        counts[line] = counts.get(line, 0) + 1
                    elif line not in found:
                        if not rests:
                            found.add(line)
                            continue
                        a, b = index.line_start(line), index.line_start(line + 1)
                        if any(all(any(self._on_line(gate, x, a, b) for x in cl) for cl in rest) for rest in rests):
                            found.add(line)
        if counts:
            found.update(line for line, k in counts.items() if k >= self.min_hits)
        if self.urls and ("](" in doc.text or "<" in doc.text or "][" in doc.text):
            low, low_index = raw_lower(doc)
            raw_hits = word_hits(doc, "raw")
            for word in self.urls:
                for i in raw_hits.get(word, ()):
                    found.add(low_index.line_of(i))
        return frozenset(found)


class _Scanner:
    """Every word the gates look for, found in one pass (Aho-Corasick) per text: "gate" words
    in the gate text, "raw" ones (link targets) in the lower-cased document."""

    words: dict[str, set[str]] = {"gate": set(), "raw": set()}
    automaton: dict = {}
    version = 0


def _register(words: set[str], kind: str) -> None:
    if not words <= _Scanner.words[kind]:
        _Scanner.words = {**_Scanner.words, kind: _Scanner.words[kind] | words}
        _Scanner.automaton = {}
        _Scanner.version += 1


def word_hits(doc, kind: str = "gate") -> dict[str, list[int]]:
    """Start offsets of every registered word in the ``kind`` text (sorted, overlaps included)."""
    def compute():
        import ahocorasick

        out: dict[str, list[int]] = {}
        if not _Scanner.words[kind]:
            return out
        auto = _Scanner.automaton.get(kind)
        if auto is None:
            auto = ahocorasick.Automaton()
            for w in _Scanner.words[kind]:
                auto.add_word(w, (w, len(w) - 1))
            auto.make_automaton()
            _Scanner.automaton[kind] = auto
        text = gate_text(doc)[0] if kind == "gate" else raw_lower(doc)[0]
        for end, (w, back) in auto.iter(text):
            lst = out.get(w)
            if lst is None:
                out[w] = [end - back]
            else:
                lst.append(end - back)
        return out
    return doc.memo(("word_hits", kind, _Scanner.version), compute)


_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")


def confirm_lines(doc, lines: frozenset[int] | None, matches) -> frozenset[int] | None:
    """Of the lines a gate let through, those that can still match once the text itself is
    looked at, before any Markdown parse: ``matches(raw_line)`` decides for a line without
    link or HTML syntax; a line with links, or one that may be part of a multi-line setext
    heading, is kept (only the document's structure can decide)."""
    if not lines:
        return lines
    index = doc.lines
    n = index.line_count
    kept = set()
    for line0 in lines:
        raw = index.line_text(line0)
        if "](" in raw or "][" in raw or "]:" in raw or "<" in raw:
            kept.add(line0)
            continue
        k = line0 + 1
        while k < n and k <= line0 + 20:
            nxt = index.line_text(k)
            if not nxt.strip():
                break
            if _SETEXT_UNDERLINE.match(nxt):
                kept.add(line0)
                break
            k += 1
        if line0 not in kept and matches(raw):
            kept.add(line0)
    return frozenset(kept)


_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_GATE_IMAGE = re.compile(r"!\[[^\[\]\r\n]{0,500}\]\([^()\s]{0,2000}\)")
_GATE_LINK = re.compile(r"(\[[^\[\]\r\n]{0,500})\]\([^()\s]{0,2000}(?:[ \t]+\"[^\"\r\n]{0,300}\")?\)")
_GATE_TAG = re.compile(r"</?[A-Za-z][^<>\r\n]{0,1000}>")
_GATE_DELETE = "*_~=\\[]"
_GATE_DELETE_WIDE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")


_FENCE_LINE = re.compile(r"( {0,3})(`{3,}|~{3,})([^\r\n]*)")
_RAW_HTML_OPENERS = ("<!--", "<?", "<![cdata[", "<!", "<pre", "<script", "<style", "<textarea")
_RAW_HTML_END = {"<!--": "-->", "<?": "?>", "<![cdata[": "]]>", "<!": ">"}
_NOT_LINE_BREAK = re.compile(r"[^\r\n]+")


_FENCE_CLOSER = {c: re.compile(rf" {{0,3}}({re.escape(c)}+)[ \t]*\r?$", re.M) for c in "`~"}


def _closing_fence(text: str, pos: int, marker: str) -> int:
    """The end of the line that closes a fence opened with ``marker`` (searched from
    ``pos``), or the end of the text."""
    closer = _FENCE_CLOSER[marker[0]]
    i = text.find(marker, pos)
    while i != -1:
        ls = _at_line_start(text, i)
        if ls != -1:
            m = closer.match(text, ls)
            if m is not None and len(m.group(1)) >= len(marker):
                return m.end()
        i = text.find(marker, i + len(marker))
    return len(text)


def _at_line_start(text: str, i: int) -> int:
    """Where the line holding offset ``i`` starts, or -1 when more than three spaces or
    anything else stands before ``i`` on it."""
    ls = text.rfind("\n", 0, i) + 1
    return ls if i - ls <= 3 and text.startswith(" " * (i - ls), ls) else -1


def _raw_html_open_at(text: str, low: str, pos: int, at: int) -> bool:
    """Can an HTML block that runs across blank lines (<pre>, <script>, <style>, <textarea>,
    a comment, <?…?>, <!…>, CDATA) opened on a line between ``pos`` and ``at`` still be
    open at ``at``?  (Such a line may be no block at all, inside code: only ever used to
    hold back.)"""
    ends: dict[str, int] = {}  # the end marker found for an earlier opener of the same kind
    i = text.find("<", pos, at)
    while i != -1:
        if _at_line_start(text, i) != -1:
            for opener in _RAW_HTML_OPENERS:
                if low.startswith(opener, i):
                    nxt = low[i + len(opener):i + len(opener) + 1]
                    if opener == "<!" and not nxt.isalpha():
                        continue
                    if opener[1] not in "!?" and nxt not in ("", " ", "\t", "\r", "\n", ">"):
                        continue
                    end = ends.get(opener, -1)
                    if end < i + len(opener):  # (no end marker lies between: the same end)
                        end = ends[opener] = low.find(_RAW_HTML_END.get(opener, f"</{opener[1:]}>"),
                                                      i + len(opener))
                    if end == -1 or end >= at:
                        return True
                    break
        i = text.find("<", i + 1, at)
    return False


def _fence_lines(text: str, start: int) -> list[int]:
    """Starts of the lines from ``start`` on that begin (after at most three spaces) with
    ``` or ~~~, in order."""
    found = []
    for marker in ("```", "~~~"):
        i = text.find(marker, start)
        while i != -1:
            ls = _at_line_start(text, i)
            if ls != -1:
                found.append(ls)
            nl = text.find("\n", i)
            if nl == -1:
                break
            i = text.find(marker, nl + 1)
    found.sort()
    return found


def fenced_code_spans(doc) -> tuple[Span, ...]:
    """Spans (whole lines) of the top-level fenced code blocks of the body, as far as the
    text alone tells for certain: a fence that opens at the start of a line after a blank
    line (or as the body's first line), outside any HTML block that runs across blank
    lines, up to its closing fence.  At the first fence line the text alone cannot settle
    (indented, right after text, inside raw HTML) the list ends, since what follows may or
    may not be code.  Rules use it to rule out lines without a Markdown parse."""
    return doc.memo("fenced_code_spans", lambda: _fenced_code_spans(doc))


def _fenced_code_spans(doc) -> tuple[Span, ...]:
    text = doc.text
    if "```" not in text and "~~~" not in text:
        return ()
    fm = doc.front_matter
    if fm is not None and not fm.closed:
        return ()
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return ()  # a lone CR ends a line too: leave such notes alone
    start = doc.body_start
    low = text.lower() if "<" in text else None
    if low is not None and len(low) != len(text):
        return ()  # lower-casing moved offsets: raw HTML cannot be told apart from here
    out: list[Span] = []
    pos = start
    html_from = start  # raw HTML opened from here on may still be open (before: checked already)
    for ls in _fence_lines(text, start):
        if ls < pos:
            continue  # inside a fence already found
        m = _FENCE_LINE.match(text, ls)
        indent, marker, info = m.groups()
        a = m.start()
        if marker[0] == "`" and "`" in info:
            pos = m.end()  # not a fence line at all (an HTML block opened before it is still looked for)
            continue
        before = text[text.rfind("\n", 0, a - 1) + 1:a] if a > start else ""
        # (an HTML block opened before the last fence found would have ended the list there)
        if indent or before.strip() or (low is not None and _raw_html_open_at(text, low, html_from, a)):
            break  # the text alone cannot tell where code is from here on
        pos = html_from = _closing_fence(text, m.end(), marker)
        if text.startswith("\n", pos):
            pos += 1
            html_from = pos
        out.append(Span(a, pos))
    return tuple(out)


def in_fenced_code(doc, offset: int) -> bool:
    """Is ``offset`` inside one of :func:`fenced_code_spans`?"""
    spans = fenced_code_spans(doc)
    if not spans:
        return False
    i = bisect.bisect_right(doc.memo("fenced_code_starts", lambda: [sp.start for sp in spans]), offset) - 1
    return i >= 0 and offset < spans[i].end


def fenced_code_blanked(doc) -> str:
    """The document with the lines of :func:`fenced_code_spans` emptied (line breaks kept).
    No rule of the line gate finds anything in code, so its words there would only cost a
    Markdown parse to rule out."""
    text = doc.text
    spans = fenced_code_spans(doc)
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for sp in spans:
        parts.append(text[last:sp.start])
        parts.append(_NOT_LINE_BREAK.sub("", text[sp.start:sp.end]))
        last = sp.end
    parts.append(text[last:])
    return "".join(parts)


def gate_text(doc) -> tuple[str, frozenset[int]]:
    """The document as :class:`LineGate` searches it (same line breaks), and the lines that
    always pass (HTML entities that could not be decoded in place)."""
    def compute():
        text = fenced_code_blanked(doc)
        always: frozenset[int] = frozenset()
        if "&" in text:
            decoded = html.unescape(text)
            if decoded.count("\n") == text.count("\n") and decoded.count("\r") == text.count("\r"):
                text = decoded
            else:  # an entity encodes a line break: keep such lines whole
                always = frozenset(doc.lines.line_of(m.start()) for m in re.finditer("&", doc.text))
        # markup first, as normalize() does, then case and compatibility forms
        if "](" in text:
            text = _GATE_IMAGE.sub(" ", text)
            text = _GATE_LINK.sub(r"\1", text)
        if "<" in text:
            text = _GATE_TAG.sub(" ", text)
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text)
        text = text.lower()
        for ch in _GATE_DELETE:
            if ch in text:
                text = text.replace(ch, "")
        if not text.isascii():
            text = _GATE_DELETE_WIDE.sub("", text)
        return text, always
    return doc.memo("gate_text", compute)


def gate_index(doc) -> "LineIndex":
    """Line index of the gate text (its lines are the document's lines)."""
    from tidymark.source import LineIndex

    return doc.memo("gate_index", lambda: LineIndex(gate_text(doc)[0]))


def raw_lower(doc) -> tuple[str, "LineIndex"]:
    """The document lower-cased (for URL fragments), with its line index."""
    def compute():
        from tidymark.source import LineIndex

        low = doc.text.lower()
        return (low, doc.lines) if len(low) == len(doc.text) else (low, LineIndex(low))
    return doc.memo("raw_lower", compute)


# -- normalisation ------------------------------------------------------------------------
_IMAGE = re.compile(r"!\[(?:[^\[\]\\]|\\.){0,500}+\]\((?:[^()\s]|\([^()\s]{0,200}\)){0,2000}+(?:\s+(?:\"[^\"]{0,300}\"|'[^']{0,300}'))?\s*\)")
_LINK = re.compile(r"\[((?:[^\[\]\\]|\\.){0,500}+)\]\((?:[^()\s]|\([^()\s]{0,200}\)){0,2000}+(?:\s+(?:\"[^\"]{0,300}\"|'[^']{0,300}'))?\s*\)")
_REF_LINK = re.compile(r"\[((?:[^\[\]\\]|\\.){1,500})\]\[[^\[\]]{0,100}\]")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_TAG = re.compile(r"</?[A-Za-z][^<>]{0,1000}>")
_AUTOLINK = re.compile(r"<(?:https?|mailto|ftp):[^<>\s]{0,2000}>", re.I)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]{1,2000}", re.I)
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_EMPH = re.compile(r"\*+|~~|==|(?<![0-9A-Za-z])_+|_+(?![0-9A-Za-z])")
_LEAD = re.compile(r"^\s{0,3}(?:>\s?)*(?:#{1,6}\s+|[-*+]\s+(?:\[[ xX]\]\s+)?|\d{1,9}[.)]\s+)?")
_SPACE = re.compile(r"\s+")
_IMAGE_LINE = re.compile(r"^\s{0,3}(?:>\s?)*(?:[*_]{1,3})?\[?\s?!\[")
_SECTION_NO = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*[.、)\s]?|[一二三四五六七八九十]{1,3}[、.])\s*")


_DROP_CATEGORIES = frozenset(("So", "Sk", "Cf", "Co", "Cs", "Me", "Cc"))


def _drop_char(c: str) -> bool:
    """Emoji, pictographs, format characters (zero-width space, joiners) and variation
    selectors: decoration that says nothing about what a line means."""
    o = ord(c)
    if 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF or 0x1F3FB <= o <= 0x1F3FF:
        return True
    return unicodedata.category(c) in _DROP_CATEGORIES and c not in "\t\n"


class _DropTable(dict):
    """``str.translate`` table deleting emoji, symbols and format characters (memoised)."""

    def __missing__(self, code: int):
        value = None if _drop_char(chr(code)) else code
        self[code] = value
        return value


_DROP = _DropTable()


def _is_punct_or_space(c: str) -> bool:
    if c.isspace():
        return True
    cat = unicodedata.category(c)
    return cat[0] in "PS"


def strip_markup(line: str) -> str:
    """The visible text of a Markdown line: links become their text, images and URLs go."""
    if "&" in line:
        line = html.unescape(line)
    if "<" in line:
        line = _COMMENT.sub(" ", line)
        line = _AUTOLINK.sub(" ", line)
        line = _TAG.sub(" ", line)
    if "\\" in line:
        line = _ESCAPE.sub(r"\1", line)
    if "](" in line:
        line = _IMAGE.sub(" ", line)
        for _ in range(3):  # nested links (rare): innermost first
            prev = line
            line = _LINK.sub(r"\1", line)
            if line == prev or "](" not in line:
                break
    if "][" in line:
        line = _REF_LINK.sub(r"\1", line)
    if "://" in line or "www." in line:
        line = _URL.sub(" ", line)
    line = _LEAD.sub("", line, count=1)
    line = _EMPH.sub("", line)
    return line


def normalize(line: str) -> str:
    """The canonical form lexicons match against (see the module docstring).

    A line whose visible text is very long is only lower-cased: it is too wide to match
    any lexicon entry, and only its width matters.
    """
    text = strip_markup(line)
    if len(text) > MAX_MATCH_CHARS:
        return _SPACE.sub(" ", text).strip().lower()
    text = unicodedata.normalize("NFKC", text).lower().translate(_DROP)
    text = _SPACE.sub(" ", text)
    i, j = 0, len(text)
    while i < j and _is_punct_or_space(text[i]):
        i += 1
    while j > i and _is_punct_or_space(text[j - 1]):
        j -= 1
    return text[i:j]


@lru_cache(maxsize=4096)
def normalize_phrase(phrase: str) -> str:
    known = _derived()["phrases"].get(phrase)
    return normalize(phrase) if known is None else known


# -- derived lexicon data ------------------------------------------------------------------------
# Normalising every phrase and parsing every pattern of the built-in lexicons costs more than
# checking a small note, so the results ship beside the lexicons (lexicons/derived.json).  They
# are looked up by the phrase or pattern itself: an edited lexicon still works (new entries are
# derived when met); tests/test_line_gate.py fails until the file is regenerated with
# ``python -c "from tidymark.boilerplate import write_derived; write_derived()"``.
DERIVED_FILE = "derived.json"


@lru_cache(maxsize=1)
def _derived() -> dict:
    import json

    try:
        data = json.loads((lexicon_dir() / DERIVED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"phrases": {}, "clauses": {}}
    return {"phrases": data.get("phrases") or {}, "clauses": data.get("clauses") or {},
            "lexicons": data.get("lexicons") or {}}


def derive_all() -> dict:
    """What :data:`DERIVED_FILE` holds, computed from the lexicon files."""
    phrases: dict[str, str] = {}
    clauses: dict[str, list | None] = {}
    for data in _files().values():
        for cat, body in data.items():
            if cat in WHOLE_LINE:
                for ph in body.get("phrases") or []:
                    phrases[ph] = normalize(ph)
            for pat in body.get("patterns") or []:
                found = derive_pattern_clauses(pat)
                clauses[pat] = None if found is None else [[[t.text, t.left, t.right] for t in cl] for cl in found]
    raw, digest = _lexicon_sources()
    return {"phrases": dict(sorted(phrases.items())), "clauses": dict(sorted(clauses.items())),
            "lexicons": {"source": digest, "files": _parse_lexicons(raw)}}


def write_derived() -> Path:
    import json

    path = lexicon_dir() / DERIVED_FILE
    path.write_text(json.dumps(derive_all(), ensure_ascii=False, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    _derived.cache_clear()
    return path


def marker_form(norm: str) -> str:
    """A normalised heading without its section number ("4往期推荐", "2. Related posts")."""
    if norm[:1].isdigit() or norm[:1] in "一二三四五六七八九十":
        return _SECTION_NO.sub("", norm, count=1)
    return norm


#: The wide (CJK) characters, as inclusive ranges of code points.
WIDE_RANGES = ((0x1100, 0x115F), (0x2E80, 0x303E), (0x3041, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xA4CF),
               (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFF60), (0xFFE0, 0xFFE6),
               (0x20000, 0x3FFFD))
#: Range starts and ends (exclusive) in order: a code point is wide when it falls after an odd
#: number of them.
_WIDE_BOUNDS = tuple(b for lo, hi in WIDE_RANGES for b in (lo, hi + 1))
#: Characters counted one by one before the expression is worth compiling (its compiler visits
#: each of the 44,000 characters: ~5 ms, which a one-file run would mostly spend on it).
_COUNT_BEFORE_COMPILING = 50_000
_counted = 0


@lru_cache(maxsize=1)
def _wide() -> re.Pattern:
    return re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in WIDE_RANGES) + "]")


def _wide_count(text: str) -> int:
    """How many wide characters ``text`` holds."""
    global _counted
    if _counted < _COUNT_BEFORE_COMPILING:
        _counted += len(text)
        right = bisect.bisect_right
        return sum(n for ch, n in Counter(text).items() if right(_WIDE_BOUNDS, ord(ch)) & 1)
    return len(_wide().findall(text))


_HANGUL_JAMO = re.compile("[\u1100-\u115f]")  # the only wide characters below U+2E80


def width(text: str) -> int:
    """Display width: wide (CJK) characters count 2."""
    if text.isascii():
        return len(text)
    top = max(text)
    if top < "\u1100" or (top < "\u2e80" and _HANGUL_JAMO.search(text) is None):
        return len(text)  # no wide character (typographic quotes and dashes are not)
    return len(text) + _wide_count(text)


def visible_width(line: str) -> int:
    """Width of a line as the reader sees it (before NFKC: full-width punctuation counts 2)."""
    return width(_SPACE.sub(" ", strip_markup(line).translate(_DROP)).strip())


def display(line: str, limit: int = 40) -> str:
    """A short, readable form of a line for messages (original case and punctuation)."""
    text = _SPACE.sub(" ", strip_markup(line).translate(_DROP)).strip()
    text = text.strip("*_-–—·|~ ")
    if len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text


def has_letters(text: str) -> bool:
    return any(c.isalpha() for c in text)


# -- URLs -----------------------------------------------------------------------------------
def split_url(url: str) -> tuple[str, str]:
    """(host without ``www.``, lower-cased path) of a URL; ("", "") when it has no host."""
    if "&" in url:
        url = html.unescape(url)
    url = url.strip().strip("<>")
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", ""
    if host.startswith("www."):
        host = host[4:]
    return host, (parts.path or "/").lower()


def host_matches(host: str, domains: Iterable[str]) -> bool:
    """Is ``host`` one of ``domains`` or a sub-domain of one?"""
    for d in domains:
        d = d.lstrip(".")
        if host == d or host.endswith("." + d):
            return True
    return False


_OWN_KEYS = ("url", "source", "original_url", "originalurl", "link", "canonical", "canonical_url", "source_url",
             "origin", "href", "website")
_READ_ORIGINAL = re.compile(r"^\[(?:read original|原文链接|阅读原文|原文|original)\]\(([^()\s]+)\)", re.I | re.M)


def own_hosts(doc) -> frozenset[str]:
    """Hosts of the article itself: front-matter ``url``/``source``/``original_url`` … and a
    ``[Read Original](…)`` line."""
    hosts: set[str] = set()
    fm = doc.front_matter
    values = getattr(fm, "values", None) if fm is not None else None
    if isinstance(values, dict):
        for k, v in values.items():
            if str(k).lower() not in _OWN_KEYS:
                continue
            for item in (v if isinstance(v, list) else [v]):
                if isinstance(item, str) and ("://" in item or item.startswith("www.")):
                    h, _ = split_url(item if "://" in item else "https://" + item)
                    if h:
                        hosts.add(h)
    body = doc.text[doc.body_start:]
    if "](" in body:
        for m in _READ_ORIGINAL.finditer(body):
            h, _ = split_url(m.group(1))
            if h:
                hosts.add(h)
    return frozenset(hosts)


# -- inline elements of a span -----------------------------------------------------------------
def inlines_in(doc, span: Span) -> list:
    """Links, images and HTML images that start inside ``span``."""
    items = doc.inline
    if not items:
        return []
    starts = _inline_starts(doc)
    i = bisect.bisect_left(starts, span.start)
    out = []
    while i < len(items) and items[i].span.start < span.end:
        if items[i].kind != "definition":
            out.append(items[i])
        i += 1
    return out


_STARTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _inline_starts(doc) -> list[int]:
    s = _STARTS.get(doc)
    if s is None:
        s = _STARTS[doc] = [e.span.start for e in doc.inline]
    return s


def residue(doc, span: Span, items: list | None = None) -> str:
    """The text of ``span`` with its links, images, URLs and HTML tags cut out."""
    text = doc.text
    items = inlines_in(doc, span) if items is None else items
    parts: list[str] = []
    pos = span.start
    for e in items:
        if e.span.start < pos:  # nested inside the previous element (a linked image)
            continue
        parts.append(text[pos:e.span.start])
        pos = min(e.span.end, span.end)
    parts.append(text[pos:span.end])
    rest = "".join(parts)
    if "&" in rest:
        rest = html.unescape(rest)
    if "<" in rest:
        rest = _COMMENT.sub(" ", rest)
        rest = _AUTOLINK.sub(" ", rest)
        rest = _TAG.sub(" ", rest)
    if "://" in rest or "www." in rest:
        rest = _URL.sub(" ", rest)
    return rest


@dataclass(frozen=True)
class LinkInfo:
    links: int          # links (including linked images)
    images: int         # images (plain or linked)
    only: bool          # nothing but links / images / markup / punctuation


def link_info(doc, span: Span) -> LinkInfo:
    raw = doc.text[span.start:span.end]
    if "](" not in raw and "]:" not in raw and "<" not in raw:
        # no link, image, definition, <img> or autolink can start here: skip the look-ups
        return LinkInfo(0, 0, not has_letters(residue(doc, span, [])))
    items = inlines_in(doc, span)
    rest = residue(doc, span, items)
    links = sum(1 for e in items if e.kind == "link")
    links += len(_AUTOLINK.findall(doc.text, span.start, span.end))
    images = sum(1 for e in items if e.kind in ("image", "html_image"))
    return LinkInfo(links, images, not has_letters(rest))


def is_link_only(doc, span: Span) -> bool:
    """At least one link and nothing else but images, markup and punctuation."""
    info = link_info(doc, span)
    return info.only and info.links > 0


# -- per-document analysis ---------------------------------------------------------------------
_TEXT_KINDS = {"paragraph", "blockquote", "bullet_list", "ordered_list"}
_CONTENT_KINDS = {"fence", "code_block", "table"}


@lru_cache(maxsize=1)
def _boilerplate_line() -> Matcher:
    """Every whole-line boilerplate category of every language, as one matcher."""
    mats = [matcher(c) for c in ("recommendation", "recommendation_weak", "call_to_action",
                                 "call_to_action_template", "call_to_action_end", "republication", "scaffolding")]
    phrases = frozenset().union(*(m.phrases for m in mats))
    return Matcher(phrases, tuple(dict.fromkeys(pat for m in mats for pat in m.patterns)))


def is_boilerplate_line(norm: str) -> bool:
    return width(norm) <= 2 * MAX_LINE_WIDTH and _boilerplate_line().full(norm)


class Body:
    """Top-level blocks of a document's body with prose flags and positions."""

    def __init__(self, doc):
        # Only a weak reference to ``doc`` is kept (bodies are cached in a WeakKeyDictionary
        # keyed by it).  Classifying blocks as prose is the expensive part, so it happens on
        # the first question about position: documents without any candidate never pay it.
        self._doc = weakref.ref(doc)
        self._lines = doc.lines
        self.blocks = doc.blocks
        self._norms: dict[int, str] = {}
        self._line0 = [b.line0 for b in self.blocks]
        self._classified = False

    def _classify_all(self) -> None:
        if self._classified:
            return
        doc = self._doc()
        n = len(self.blocks)
        self._prose = [False] * n
        self._weight = [0] * n
        for i, b in enumerate(self.blocks):
            self._prose[i], self._weight[i] = self._classify(doc, b)
        # before[i]: a prose block among blocks[:i]; after[i]: among blocks[i+1:]
        self._before = [False] * (n + 1)
        for i in range(n):
            self._before[i + 1] = self._before[i] or self._prose[i]
        self._after = [False] * (n + 1)
        for i in range(n - 1, -1, -1):
            self._after[i] = self._after[i + 1] or self._prose[i]
        self._cum = [0] * (n + 1)
        for i in range(n):
            self._cum[i + 1] = self._cum[i] + self._weight[i]
        self._classified = True

    @property
    def prose(self) -> list[bool]:
        self._classify_all()
        return self._prose

    @property
    def weight(self) -> list[int]:
        self._classify_all()
        return self._weight

    def norm(self, line0: int) -> str:
        """:func:`normalize` of 0-based line ``line0`` (memoised)."""
        v = self._norms.get(line0)
        if v is None:
            v = self._norms[line0] = normalize(self._lines.line_text(line0))
        return v

    def _classify(self, doc, b) -> tuple[bool, int]:
        if b.kind in _CONTENT_KINDS:
            if b.kind == "table" and is_link_only(doc, b.span):
                return False, 0
            return True, max(PROSE_WIDTH, len(doc.text[b.span.start:b.span.end]) // 2)
        if b.kind in ("hr", "heading"):
            return False, width(normalize(doc.inline_content(b))) if b.kind == "heading" else 0
        if b.kind == "html_block":
            w = width(normalize(doc.text[b.span.start:b.span.end].replace("\n", " ")))
            return w >= 2 * PROSE_WIDTH, w
        if b.kind not in _TEXT_KINDS:
            return False, 0
        if is_link_only(doc, b.span):
            return False, 0
        total = 0
        kept = 0
        for line0 in range(b.line0, b.line1):
            if kept >= PROSE_WIDTH:  # prose already: estimate the rest of the weight
                total += len(doc.lines.line_text(line0)) // 2
                continue
            norm = self.norm(line0)
            if not norm or _IMAGE_LINE.match(doc.lines.line_text(line0)):
                continue  # an image line, even one whose URL the parser rejects, is no prose
            w = width(norm)
            total += w
            if w > 2 * MAX_LINE_WIDTH or not is_boilerplate_line(norm):
                kept += w
        return kept >= PROSE_WIDTH, total

    def index_of_line(self, line0: int) -> int:
        """Index of the block containing 0-based line ``line0`` (or -1)."""
        i = bisect.bisect_right(self._line0, line0) - 1
        if i >= 0 and self.blocks[i].line0 <= line0 < self.blocks[i].line1:
            return i
        return -1

    def prose_before(self, i: int) -> bool:
        self._classify_all()
        return self._before[i]

    def prose_after(self, i: int) -> bool:
        self._classify_all()
        return self._after[i + 1]

    @property
    def has_prose(self) -> bool:
        """Without any prose the body has no head or tail to speak of."""
        self._classify_all()
        return self._before[-1]

    def in_head(self, i: int) -> bool:
        return self.has_prose and not self._before[i]

    def in_tail(self, i: int) -> bool:
        return self.has_prose and not self._after[i + 1]

    def fraction(self, i: int) -> float:
        """How far into the body block ``i`` starts, by visible text (0 … 1)."""
        self._classify_all()
        total = self._cum[-1]
        return self._cum[i] / total if total else 0.0


_BODIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def analyze(doc) -> Body:
    """The :class:`Body` of ``doc``, computed once and shared by the AD rules."""
    b = _BODIES.get(doc)
    if b is None:
        b = _BODIES[doc] = Body(doc)
    return b


# -- lines of a block ----------------------------------------------------------------------------
_HARD_BREAK = re.compile(r"(?: {2,}|\t|\\)$")
_TERMINAL = set("。！？!?.:：;；…」』”\"')）】")


def line_ends_sentence(raw: str) -> bool:
    """Does a raw line end a sentence or carry a hard break (so the next line stands alone)?"""
    if _HARD_BREAK.search(raw.rstrip("\r\n")):
        return True
    s = raw.rstrip()
    s = s.rstrip("*_~ ")
    return bool(s) and (s[-1] in _TERMINAL or _drop_char(s[-1]))


def standalone_lines(doc, block, flags: list[bool]) -> list[bool]:
    """Which flagged lines of a paragraph stand on their own (not a fragment of a wrapped
    sentence): the line before ends a sentence / has a hard break or is flagged too, and
    the line itself ends one or is followed by a flagged line."""
    n = block.line1 - block.line0
    raws = [doc.lines.line_text(block.line0 + k) for k in range(n)]
    out = []
    for k in range(n):
        if not flags[k]:
            out.append(False)
            continue
        before_ok = (k == 0 or flags[k - 1] or line_ends_sentence(raws[k - 1])
                     or _is_link_or_image_line(doc, block.line0 + k - 1))
        after_ok = (k == n - 1 or flags[k + 1] or line_ends_sentence(raws[k])
                    or _is_link_or_image_line(doc, block.line0 + k + 1))
        out.append(before_ok and after_ok)
    return out


def _is_link_or_image_line(doc, line0: int) -> bool:
    span = doc.lines.lines_span(line0, line0 + 1)
    info = link_info(doc, span)
    return info.only and (info.links + info.images) > 0


# -- removal -------------------------------------------------------------------------------------
def _blank(doc, line0: int) -> bool:
    return not doc.lines.line_text(line0).strip()


def removal_edit(doc, first0: int, last0_excl: int, body: Body | None = None) -> tuple[Edit, int, int]:
    """Remove whole blocks on lines ``[first0, last0_excl)``.

    When the removal reaches the end of the document (nothing but blank lines and
    thematic breaks follows), the thematic breaks after it and the one directly before it
    go too: a rule that separated the article from its footer would be left dangling.
    Returns the edit and the (possibly widened) 0-based line range of removed content.
    """
    body = body or analyze(doc)
    blocks = body.blocks
    n = len(blocks)
    k = body.index_of_line(last0_excl - 1)
    j = k + 1
    while j < n and blocks[j].kind == "hr" and not doc.is_protected(blocks[j].span):
        j += 1
    end = blocks[j - 1].line1 if j > k + 1 else last0_excl
    if k >= 0 and j == n and all(_blank(doc, x) for x in range(end, doc.lines.line_count)):
        i = body.index_of_line(first0)
        if i > 0 and blocks[i - 1].kind == "hr" and not doc.is_protected(blocks[i - 1].span):
            first0 = blocks[i - 1].line0
    else:
        end = last0_excl
    return remove_lines(doc, first0, end), first0, end


def line_range_edit(doc, block, first0: int, last0_excl: int) -> Edit:
    """Remove lines ``[first0, last0_excl)`` of ``block`` (all of it or some of its lines).

    Removing the *last* lines of a paragraph keeps the blank line after it, so the rest
    of the paragraph does not run into the next block.
    """
    if first0 == block.line0 and last0_excl == block.line1:
        return remove_lines(doc, first0, last0_excl)
    if first0 > block.line0 and last0_excl == block.line1 and last0_excl < doc.lines.line_count:
        return Edit(doc.lines.lines_span(first0, last0_excl), "")
    return remove_lines(doc, first0, last0_excl)


def lines_label(first0: int, last0_excl: int) -> str:
    """``line 5`` or ``lines 5-9`` (1-based) for messages."""
    a, b = first0 + 1, last0_excl
    return f"line {a}" if a >= b else f"lines {a}-{b}"


def content_span(doc, first0: int, last0_excl: int) -> Span:
    """The span of lines ``[first0, last0_excl)`` for a diagnostic."""
    return doc.lines.lines_span(first0, last0_excl)


# -- candidates and groups -----------------------------------------------------------------------
@dataclass
class Candidate:
    """Lines ``[first0, last0)`` of block ``block`` found by a rule."""

    first0: int
    last0: int            # exclusive
    block: int            # index into Body.blocks
    whole: bool           # the whole block (else some lines of a paragraph)
    level: object         # the fix's Applicability
    label: str
    count: int = 1        # how many findings (lines) it stands for


def merge_candidates(body: Body, cands: list[Candidate]) -> list[list[Candidate]]:
    """Group candidates removed together: whole blocks with only thematic breaks between
    them, or adjacent lines of one paragraph, with the same applicability."""
    cands = sorted(cands, key=lambda c: (c.first0, c.last0))
    groups: list[list[Candidate]] = []
    for c in cands:
        if groups:
            p = groups[-1][-1]
            if p.level == c.level and c.first0 >= p.last0:
                if p.whole and c.whole and c.block > p.block and \
                        all(body.blocks[k].kind == "hr" for k in range(p.block + 1, c.block)):
                    groups[-1].append(c)
                    continue
                if not p.whole and not c.whole and p.block == c.block and p.last0 == c.first0:
                    groups[-1].append(c)
                    continue
        groups.append([c])
    return groups


def group_edit(doc, body: Body, group: list[Candidate], orphans: bool = True) -> tuple[Edit, int, int]:
    """The edit removing a group, and the 0-based line range it removes.

    A group of whole blocks with words in it takes its orphans (see :mod:`tidymark.rules.ad._orphans`):
    the separators and empty links around it, the lone buttons below it and, in the tail of
    the body, the images below it (the QR code under "scan to follow")."""
    first0, last0 = group[0].first0, group[-1].last0
    if group[0].whole:
        from tidymark.rules.ad import _orphans as remains

        if orphans and any(doc.lines.line_text(i).strip() and not remains.orphan_shape(doc.lines.line_text(i))
               for i in range(first0, last0)):
            k = body.index_of_line(last0 - 1)
            first0, last0 = remains.widen(doc, first0, last0, images=k >= 0 and body.in_tail(k))
        return removal_edit(doc, first0, last0, body)
    block = body.blocks[group[0].block]
    return line_range_edit(doc, block, first0, last0), first0, last0
