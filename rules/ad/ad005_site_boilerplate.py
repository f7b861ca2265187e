from __future__ import annotations

import hashlib
import html
import os
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from urllib.parse import urlsplit

from tidymark.rules._clipper import SOURCE_URL_KEYS
from tidymark.diagnostics import Fix, FixKind, Severity
from tidymark.edits import remove_lines
from tidymark.rules.ad._orphans import BUTTON, BYLINE_URL, EMPTY_LINK, IMAGE_ONLY, MAX_ORPHANS, below, is_decoration, orphan_shape
from tidymark.core.project import ProjectRule
from tidymark.rule import FixAvailability

_READ_ORIGINAL = re.compile(r"^\[(?:Read Original|Original)\]\((https?://[^)\s]+)\)\s*$", re.M)
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_ALNUM = re.compile(r"[^\W_]", re.UNICODE)
_WS = re.compile(r"\s+")
_LINK = re.compile(r"!?\[([^\[\]]*)\]\([^()\s]*(?:\s+\"[^\"]*\")?\)")
_LIST_ITEM = re.compile(r"^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+")
_TERMINAL = tuple(".!?。！？…")
_FIELD = re.compile(r"^(?:[-*+]\s+)?[^\s:：\[\]()]{1,24}(?: [^\s:：\[\]()]{1,24}){0,2}[:：]\s*\S")
_LABEL_END = tuple(":：")
# words of a call to action (follow, subscribe, share, sign up, donate, app, QR code...) in the
# languages of the lexicons; a repeated sentence that has none of them may be the author's own
_CTA = re.compile(
    r"subscri|newsletter|sign[ -]?(?:up|in)|log[ -]?in|follow|share|donat|support|sponsor|upgrade|"
    r"member|paid|free|\bapp\b|download|comment|repl(?:y|ies)|\blike|clap|unsubscri|preferences|"
    r"receiv|e-?mail|inbox|podcast|course|join|關注|关注|订阅|訂閱|点赞|在看|转发|分享|扫码|二维码|公众号|"
    r"星球|加入|赞赏|留言|点击|阅读原文|登录|注册|下载|社群|交流群|转载|フォロー|登録|シェア|いいね|サポート|"
    r"abonn|inscri|partag|publicit", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")

HEAD_SHARE, HEAD_MIN = 0.2, 12   # the head zone: the first max(12, 20%) non-blank body lines
TAIL_SHARE, TAIL_MIN = 0.35, 40  # the tail zone: the last max(40, 35%)
MAX_FACT_LINES = 3000            # lines of a note whose hashes are kept
MAX_LINE = 1000                  # longer lines are never boilerplate


def _site(doc) -> str | None:
    fm = doc.front_matter
    urls = []
    if fm is not None and fm.error is None:
        urls = [v for k, v in fm.values.items() if str(k).lower() in SOURCE_URL_KEYS and isinstance(v, str)]
    if not urls and "Original](" in doc.text:  # (the line-anchored search is tried at every character)
        m = _READ_ORIGINAL.search(doc.text, doc.body_start)
        urls = [m.group(1)] if m else []
    for u in urls:
        host = urlsplit(u.strip()).hostname
        if host:
            return host[4:] if host.startswith("www.") else host
    return None


def normalize_line(line: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", html.unescape(line))).strip()


def line_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def zone_lines(doc) -> list[int]:
    """0-based body lines of the head and tail zones, outside code, fences and HTML comments,
    in order (a short note is all zone)."""
    return _zones(doc)[0]


def _zones(doc, whole: bool = False, protect: bool = True) -> tuple[list[int], int]:
    """:func:`zone_lines` (``whole``: every such line of the body, zone or not) and the first
    0-based line of the tail zone."""
    code = set()
    for b in doc.blocks:
        if b.kind in ("fence", "code_block"):
            code.update(range(b.line0, b.line1))
    lines = doc.lines
    first = lines.line_of(doc.body_start) if doc.body_start < len(doc.text) else lines.line_count
    body = [i for i in range(first, lines.line_count) if lines.line_text(i).strip()]
    head = max(HEAD_MIN, int(len(body) * HEAD_SHARE))
    tail = max(TAIL_MIN, int(len(body) * TAIL_SHARE))
    picked = body if whole or head + tail >= len(body) else body[:head] + body[len(body) - tail:]
    tail_start = body[max(len(body) - tail, len(body) // 2)] if body else 0
    out = []
    math = False
    for i in picked:
        t = lines.line_text(i).strip()
        if t.startswith("$$") or (math and t.endswith("$$")):  # display math: $$ … $$
            if not (len(t) > 2 and t.startswith("$$") and t.endswith("$$")):
                math = not math
            continue
        if math or i in code or len(t) > MAX_LINE or (protect and doc.is_protected(lines.line_start(i))):
            continue  # (a line longer than any boilerplate is left out before the costlier test)
        out.append(i)
    return out, tail_start


def _visible(t: str) -> str:
    """The text a reader sees on a line: link and image targets left out."""
    return _LINK.sub(lambda m: m.group(1), t)


def is_prose_like(t: str) -> bool:
    """A sentence: ends like one and has the words of one (or is long), outside links."""
    v = _visible(t).strip(" *_>#-")
    words = len(v.split()) + len(_CJK.findall(v)) // 2
    return (v.endswith(_TERMINAL) and words >= 4) or words >= 16


def _running(raw: str) -> bool:
    """Running text: a line of at least six words (or twenty CJK characters), not a link list."""
    v = _visible(normalize_line(raw))
    return len(v.split()) >= 6 or len(_CJK.findall(v)) >= 20


def _sentence(t: str) -> bool:
    """Prose-like, or a line that ends as a sentence does."""
    v = _visible(t).strip(" *_>")
    return is_prose_like(t) or v.endswith(_TERMINAL)


class SiteBoilerplate(ProjectRule):
    """A line repeats unchanged at the start or end of many notes from the same source.

    ## What it does
    Learns boilerplate from the vault.  Groups the notes of a run by their source (the
    host of the front-matter `url` / `source` / `original_url`, or of the `[Read
    Original](…)` line; for notes without one, the folder they are in, whose notes share a
    clipper's or a platform's page template) and also by folder, and reports lines of the
    head and tail zones (the first fifth and the last third of the body) that occur,
    unchanged, in at least `min-notes` notes of one group (a run of such lines that starts
    in a zone goes on as long as the lines repeat: a long sidebar): a
    newsletter's appeal, a blog's header and navigation, a platform's page chrome, an
    account's profile box.  Headings, code and lines with neither letters nor images are
    structure, not boilerplate.  A one-file run (pre-commit, an editor) learns from the
    facts the cache keeps about the other notes of the folder.

    What is kept although it repeats:
    - a short label line (`参考资料：`, `**Related work**`) followed by text that does not
      repeat (and is not an image or a separator): it introduces the note's own content;
    - a series' table of contents: a run of repeated list items or links beside a line
      naming the note's own title;
    - a sentence without a call-to-action word (`Until next week, keep building.`): an
      author's recurring sign-off is reported, and removed only with `--unsafe-fixes`.

    A removed run takes its orphans with it (the blocks around a junk block are judged by
    their neighbours): the separators and decoration lines (`____`, `▼`, `* * *`) next to it,
    and below it the images (a QR code under a removed "scan to follow"; not an image that
    text of the note follows), empty links and lone buttons (`[Share](…)`, not a link to an
    author's page) it captioned; a short line between two removed lines
    (an account's name between two lines of the platform's chrome) goes too.

    ## Why is this bad?
    A site's chrome repeated in every saved article is noise in reading, search and
    exports, and no generic lexicon knows every site's footer.

    ## Example
    ```markdown
    ---
    url: https://blog.example.org/post-1
    ---

    The article.

    Thanks for reading! Comments are closed.
    ```
    (with the last line in two more notes from blog.example.org)

    ## Fix safety
    Safe for a repeated line that is not a sentence (chrome, buttons, navigation), or a
    sentence with a call-to-action word (a subscription appeal), together with its orphans;
    unsafe for a repeated sentence without one, and for a note whose body would be left
    empty (a failed clip holding only chrome).  `tidymark learn` writes the candidates
    out as a rule pack to review.

    ## Options
    - `min-notes`: notes of a group a line must appear in (default 3)
    - `min-share`: share of a source's notes a line must appear in (default 0: a count of
      notes is the evidence; raise it for a large vault of one site)
    - `min-chars`: shorter lines are ignored (default 2)
    """

    code = "AD005"
    name = "site-boilerplate"
    summary = "Line repeated unchanged at the start or end of many notes from the same source"
    default_severity = Severity.INFO
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"

    @dataclass(frozen=True)
    class Options:
        min_notes: int = 3
        min_share: float = 0.0
        min_chars: int = 2

    remember = True  # the facts are kept in the cache folder for one-file runs (see tidymark.run.vault)
    learned: dict | None = None  # line hash -> (notes, source) of one document (see `with_learned`)

    def facts(self, doc):
        seen = {}
        for i in _zones(doc, whole=True, protect=False)[0][:MAX_FACT_LINES]:
            raw = doc.lines.line_text(i)
            t = normalize_line(raw)
            if (len(t) < self.options.min_chars or len(t) > 300 or t.startswith(("#", "```", "~~~", "\\"))
                    or not (_LETTER.search(t) or "![" in t)):
                continue  # headings are structure, fences are code
            if doc.is_protected(doc.lines.line_start(i)):
                continue  # in an HTML comment or a code span
            h = line_hash(t)
            if h not in seen:
                seen[h] = [i + 1, t[:80]]
        return {"site": _site(doc), "lines": seen}

    def _groups(self, facts) -> list[tuple[str, list[str], float]]:
        """(name, keys, min share) of each group of notes: by source, then by folder."""
        by_source, by_folder = defaultdict(list), defaultdict(list)
        for key, f in facts.items():
            folder = os.path.normpath(os.path.dirname(key))
            by_source[f["site"] or f"folder {folder}"].append(key)
            by_folder[folder].append(key)
        out = [(name, keys, self.options.min_share) for name, keys in by_source.items()]
        out += [(f"folder {name}", keys, -1.0) for name, keys in by_folder.items()
                if f"folder {name}" not in by_source or len(by_source[f"folder {name}"]) != len(keys)]
        return out

    def repeated(self, facts) -> dict[str, dict[str, tuple[int, str]]]:
        """{file: {line hash: (notes, group)}} of the lines over the thresholds."""
        out: dict[str, dict] = defaultdict(dict)
        for name, keys, min_share in self._groups(facts):
            if len(keys) < self.options.min_notes:
                continue
            where = defaultdict(list)
            for k in keys:
                for h in facts[k]["lines"]:
                    where[h].append(k)
            folder = min_share < 0  # a folder group: a line a source group names keeps that source
            for h, files in where.items():
                n = len(files)
                if n >= self.options.min_notes and n / len(keys) >= min_share:
                    for k in files:
                        if h not in out[k] or (not folder and out[k][h][0] < n):
                            out[k][h] = (n, name)
        return dict(out)

    def candidates(self, facts):
        """{group: [(text, notes, share, {file: line})]} of lines over the thresholds."""
        rep = self.repeated(facts)
        sizes = {name: len(keys) for name, keys, _ in self._groups(facts)}
        found = defaultdict(dict)
        for key, hs in rep.items():
            for h, (n, name) in hs.items():
                line, text = facts[key]["lines"][h]
                entry = found[name].setdefault(h, [text, n, n / sizes[name], {}])
                entry[3][key] = line
        return {name: sorted((tuple(v) for v in d.values()), key=lambda x: (-x[1], x[0]))
                for name, d in found.items()}

    def check_project(self, facts):
        for key, hs in self.repeated(facts).items():
            lines = facts[key]["lines"]
            for h, (n, name) in sorted(hs.items(), key=lambda kv: lines[kv[0]][0]):
                line, text = lines[h]
                yield key, self.at(line, f"Boilerplate: line repeated in {n} notes from {name}: {text[:60]}")

    # -- the fix, per document, once the vault has been learned --------------------------------------

    def with_learned(self, learned: dict[str, tuple[int, str]]) -> "SiteBoilerplate":
        """A copy of the rule that checks (and fixes) one document against the lines learned
        from its vault (``{line hash: (notes, group)}``, from :meth:`repeated`)."""
        r = type(self)(self.options)
        r.learned = learned
        return r

    def check(self, doc):
        if not self.learned:
            return
        in_zone = set(zone_lines(doc))
        zone, tail_start = _zones(doc, whole=True)  # every line; repeated runs must touch the zones
        text = {i: doc.lines.line_text(i) for i in zone}
        hit: dict[int, tuple[int, str]] = {}
        for i in zone:
            got = self.learned.get(line_hash(normalize_line(text[i])))
            t = normalize_line(text[i])
            if got is None or t.startswith(("#", "\\")) or (i < tail_start and _FIELD.match(t)):
                continue  # headings, TeX; a field line of the head is metadata for the front matter
            hit[i] = got
        if not hit:
            return
        pos = {line: k for k, line in enumerate(zone)}
        # a run of repeated lines counts when it starts or ends in the head or tail zone (a
        # sidebar that goes on past the first fifth); a run wholly in the middle is the article's
        kept: set[int] = set()
        run: list[int] = []
        for k, i in enumerate(zone + [None]):
            if i is not None and i in hit:
                run.append(i)
                continue
            if any(j in in_zone for j in run):
                kept.update(run)
            run = []
        hit = {i: v for i, v in hit.items() if i in kept}
        if not hit:
            return
        title = _title_form(doc)
        lines = doc.lines
        count = lines.line_count

        def next_line(i):  # the next non-blank line of the document (code included), or None
            j = i + 1
            while j < count and not lines.line_text(j).strip():
                j += 1
            return j if j < count else None

        def text_of(j):
            return text[j] if j in text else lines.line_text(j)

        def neighbour(i, step):  # the nearest line of text that is neither repeated nor an orphan's shape
            k = pos[i] + step
            while 0 <= k < len(zone) and (zone[k] in hit or orphan_shape(text[zone[k]])):
                k += step
            return zone[k] if 0 <= k < len(zone) else None

        for i in list(hit):
            t = normalize_line(text[i])
            if BYLINE_URL.search(t):
                del hit[i]  # the author's page: a byline, metadata for the front matter
                continue
            # a label introducing text of the note's own (not repeated): structure, kept
            nxt = next_line(i)
            if nxt is not None and nxt not in hit and not orphan_shape(text_of(nxt)):
                after = next_line(nxt)
                if _is_label(text[i]) or (_is_caption(text[i]) and after not in hit):
                    del hit[i]
                    continue
            # between two lines of running text, a line without a call to action is the article's
            # (a short sign-off, a dedication): the context of its neighbours decides
            if not _CTA.search(_visible(t)):
                a, b = neighbour(i, -1), neighbour(i, 1)
                if a is not None and b is not None and _running(text[a]) and _running(text[b]):
                    del hit[i]
        # runs of repeated lines, consecutive in the zone
        runs: list[list[int]] = []
        for i in sorted(hit):
            if runs and pos[runs[-1][-1]] + 1 == pos[i] and i - runs[-1][-1] <= 3:
                runs[-1].append(i)
            else:
                runs.append([i])
        keep_runs = []
        for run in runs:
            if title and _table_of_contents(run, zone, pos, text, title):
                continue
            if all(IMAGE_ONLY.match(text[i]) for i in run):
                continue  # a banner or a figure the site repeats: no text says it is boilerplate
            keep_runs.append(run)
        removed: dict[int, bool] = {}  # line -> safe
        for run in keep_runs:
            for i in run:
                t = normalize_line(text[i])
                removed[i] = not _sentence(t) or bool(_CTA.search(_visible(t)))
        if not removed:
            return
        self._take_orphans(removed, zone, pos, text, tail_start)
        if len(removed) >= len(zone) and len(zone) == _body_line_count(doc):
            removed = dict.fromkeys(removed, False)  # nothing but boilerplate: a failed clip, not fixed by default
        # one diagnostic per stretch of removed lines
        order = sorted(removed)
        groups: list[list[int]] = []
        for i in order:
            if groups and pos[groups[-1][-1]] + 1 == pos[i] and removed[groups[-1][-1]] == removed[i]:
                groups[-1].append(i)
            else:
                groups.append([i])
        for g in groups:
            a, b = g[0], g[-1] + 1
            learned = [hit[i] for i in g if i in hit]
            if not learned:
                continue
            n, name = max(learned)
            safe = all(removed[i] for i in g)
            where = f"line {a + 1}" if b - a == 1 else f"lines {a + 1}-{b}"
            first = normalize_line(text[next(i for i in g if i in hit)])[:60]
            message = f"Boilerplate learned from the vault ({where}), repeated in {n} notes from {name}: {first}"
            make = Fix.safe if safe else Fix.unsafe
            span = doc.lines.lines_span(a, b)
            yield self.diagnostic(span, message, fix=make(f"Remove the boilerplate ({where})",
                                                          remove_lines(doc, a, b), kind=FixKind.REMOVE_CONTENT))

    @staticmethod
    def _take_orphans(removed: dict[int, bool], zone: list[int], pos: dict, text: dict, tail_start: int) -> None:
        """Extend ``removed`` with what a removed run leaves orphaned (see the docstring)."""
        changed = True
        while changed:
            changed = False
            for i in sorted(removed):
                k = pos[i]
                safe = removed[i]
                # below: decoration, images, empty links, lone buttons
                for step in range(1, MAX_ORPHANS + 1):
                    if k + step >= len(zone):
                        break
                    j = zone[k + step]
                    if j in removed:
                        continue
                    if j - zone[k + step - 1] > 3:
                        break
                    t = text[j]
                    nxt = zone[k + step + 1] if k + step + 1 < len(zone) else None
                    image_ok = IMAGE_ONLY.match(t) and (nxt is None or nxt in removed or below(text[nxt]))
                    if is_decoration(t) or image_ok or EMPTY_LINK.match(t) or (BUTTON.match(t) and not BYLINE_URL.search(t)):
                        removed[j] = safe
                        changed = True
                        continue
                    # a short line between two removed lines of the tail (in the head it
                    # would be a byline or a tag line: metadata)
                    if (j >= tail_start and k + step + 1 < len(zone) and not t.lstrip().startswith("#") and zone[k + step + 1] in removed
                            and zone[k + step + 1] - j <= 3 and not is_prose_like(normalize_line(t))
                            and len(normalize_line(t)) <= 40):
                        removed[j] = safe and removed[zone[k + step + 1]]
                        changed = True
                        continue
                    break
                # above: decoration only (an image above is the article's last figure)
                for step in range(1, MAX_ORPHANS + 1):
                    if k - step < 0:
                        break
                    j = zone[k - step]
                    if j in removed:
                        continue
                    if zone[k - step + 1] - j > 3:
                        break
                    if is_decoration(text[j]) or EMPTY_LINK.match(text[j]):
                        removed[j] = safe
                        changed = True
                        continue
                    break


def _body_line_count(doc) -> int:
    lines = doc.lines
    first = lines.line_of(doc.body_start) if doc.body_start < len(doc.text) else lines.line_count
    return sum(1 for i in range(first, lines.line_count) if lines.line_text(i).strip())


def _title_form(doc) -> str:
    fm = doc.front_matter
    title = None
    if fm is not None and fm.error is None:
        v = fm.values.get("title")
        title = v if isinstance(v, str) else None
    if not title:
        for b in doc.blocks:
            if b.kind == "heading":
                title = doc.lines.line_text(b.line0).lstrip("# ")
                break
    return _fold(title or "")


def _fold(t: str) -> str:
    return "".join(_ALNUM.findall(unicodedata.normalize("NFKC", t).casefold()))


def _is_caption(raw: str) -> bool:
    """A short line of text without a link or a call to action: a heading written as a line
    (`参考资料`, `前言`, `Step 1. Basics`)."""
    t = normalize_line(raw)
    v = _visible(t)
    return len(v) <= 40 and "](" not in t and not _CTA.search(v) and not v.endswith(_TERMINAL)


def _is_label(raw: str) -> bool:
    """A short line that introduces what follows: ends with a colon, or is all emphasis."""
    t = normalize_line(raw)
    v = _visible(t)
    if len(v) > 40 or "](" in t:
        return False
    core = v.strip("*_ ")
    return core.endswith(_LABEL_END) or (v.startswith(("**", "__")) and v.endswith(("**", "__")) and len(core) <= 30)


def _table_of_contents(run: list[int], zone: list[int], pos: dict, text: dict, title: str) -> bool:
    """A run of repeated list items or links, one line of which (or the line just before or
    after it, which differs from note to note) names the note's own title."""
    items = sum(1 for i in run if _LIST_ITEM.match(text[i]) or "](" in text[i])
    if items < 2 or len(title) < 4:
        return False
    lo, hi = pos[run[0]], pos[run[-1]]
    near = [i for i in zone[max(0, lo - 1): hi + 2]
            if i in run or _LIST_ITEM.match(text[i]) or "](" in text[i] or not _running(text[i])]
    return any(title in _fold(_visible(normalize_line(text[i]))) for i in near)
