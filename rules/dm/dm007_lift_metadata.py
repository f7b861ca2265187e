from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from tidymark.phrases.boilerplate import in_fenced_code
from tidymark.rules._clipper import norm
from tidymark.diagnostics import Fix, FixKind
from tidymark.edits import remove_lines
from tidymark.rules.dm._lift import (FACT_KEYS, CannotWrite, Date, Facts, clean_url, front_matter_edits, liftable_url,
                           parse_date, plan)
from tidymark.rule import FixAvailability, Rule

_WECHAT_ZONE = "+08:00"  # WeChat shows publish times in Beijing time
# Tags only a clipper writes: the tag line names the tool, never the article.
_CLIPPER_TAG = re.compile(r"^(?:#(?P<h>Omnivore|Readwise|SimpRead|Cubox|MarkDownload)|\[\[(?P<w>Omnivore)\]\])$")
# WeChat's topic label, and the `#topic` lines (with an optional article count) under it
_TOPIC_LABEL = re.compile(r"^(?:收录于话题|收录于合集)\s*$")
_TOPIC_LINE = re.compile(r"^#(?P<t>[^\s#]{1,30})(?:\s*\d+\s*个)?(?:\s+#[^\s#]{1,30}(?:\s*\d+\s*个)?)*$")
_TOPIC_COUNT = re.compile(r"^\d+\s*个$")
_TOPIC_TAG = re.compile(r"#([^\s#]{1,30})")
# Omnivore's WeChat byline: `原创 <author> <account> _2024-04-09 22:10_ _发表于浙江_`
_WECHAT_UNDERSCORE = re.compile(
    r"^(?:(?:原创|转载|翻译)\s+)?(?P<names>(?:[^\s_\[\]()*#]+\s+){1,2})"
    r"_(?P<date>\d{4}-\d{2}-\d{2}(?: \d{1,2}:\d{2})?)_(?:\s+_(?:发表于)?(?P<place>[^_\s]{1,12})_)?$")
# Web Clipper's and the page exporters' WeChat byline:
# `Original <author> [<account>](https://mp.weixin.qq.com/s/) *2026年1月10日 13:42*`,
# `原创 <author> [ <account> ](javascript:void\(0\);)`
_WECHAT_LINKED = re.compile(
    r"^(?:(?:Original|原创|转载)\s+)?(?:(?P<author>[^\s\[\]()*#]{1,30})\s+)?"
    r"\[\s*(?P<account>[^\[\]\n]{1,40}?)\s*\]\((?:https?://mp\.weixin\.qq\.com/s/?|javascript:void\\?\(0\\?\);?)\)"
    r"(?:\s*\*(?P<date>[^*]{6,24})\*)?$")
# `TommyYang *2026年6月2日 08:18*` (no account link): the name and the starred date
_WECHAT_STARRED = re.compile(r"^(?:(?:Original|原创)\s+)?(?P<author>[^\s\[\]()*#]{1,30})\s+\*(?P<date>[^*]{6,24})\*$")
# WeChat's card for an article reposted from another account
_WECHAT_REPOST = re.compile(
    r"^(?:以下文章来源于\s*(?P<zh>[^\s，,]{1,30})\s*[，,]?\s*(?:作者\s*(?P<zh_author>[^\s，,]{1,30}))?"
    r"|The following article is from\s+(?P<en>.{1,40}?)(?:\s+Author\s+(?P<en_author>[^\s]{1,30}))?)\s*$")
# `作者：…`, `来源：…`, `原文链接：URL`, `Source: [here](URL)`, `Originally published at …`
_LABEL = re.compile(r"^(?:\*\*|__)?(?P<label>作者|来源|文章来源|原文链接|原文地址|原文|Source|Original(?: URL| link)?)"
                    r"(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?\s*(?P<value>\S.{0,200}?)\s*$", re.I)
_ORIGINALLY = re.compile(r"^\*?_?Originally published (?:at|on|in)\s+(?P<value>.{1,200}?)[._*]*$", re.I)
_LINK = re.compile(r"^\[(?P<text>[^\]]*)\]\(<?(?P<url>https?://[^\s)>]+)>?\)$")
_BARE_URL = re.compile(r"^<?(?P<url>https?://\S+?)>?$")
# `By Ana Ruiz · Mar 3, 2024`, `By [Ana Ruiz](…) | March 3, 2024`, `By Ana Ruiz`
_BY = re.compile(r"^(?:\*\*|_|\*)?By\s+(?P<who>\[[^\]]{2,60}\]\([^)\s]+\)|[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,4})"
                 r"(?:\s*[·|•,–—-]\s*(?P<date>[A-Za-z0-9 ,.年月日:-]{6,30}?))?(?:\*\*|_|\*)?$")
# A Substack profile link alone on its line: the post's author
_SUBSTACK_AUTHOR = re.compile(
    r"^\[(?P<name>[^\]\n]{2,60})\]\((?P<url>https://substack\.com/(?:@[\w.-]+|profile/\d+-[\w.-]+))\)$")
# A site's author-page link alone on a line (`[OS](https://example.com/authors/os)`)
_AUTHOR_LINK = re.compile(
    r"^\[(?P<name>[^\[\]\n]{2,40})\]\((?P<url>https?://[^)\s]+/(?:authors?|people|profile|members?|users?|u)/"
    r"[^)\s/]+/?|https?://[^)\s]+/@[^)\s/]+/?)\)$")
# `于 2023-06-04 17:28 发布`, `发布于 2023-06-04`, `Published on March 3, 2024`, `Posted: 2024-03-03`
_PUBLISHED_LINE = re.compile(
    r"^(?:于\s*(?P<zh>[^于]{6,30}?)\s*发布|(?:发布于|发表于|发布时间|发表时间)\s*[:：]?\s*(?P<zh2>.{6,30})"
    r"|(?:Published|Posted|Publish date|Date published)(?:\s+on)?\s*[:：]?\s*(?P<en>.{6,30}))$", re.I)
_COMMENTS = re.compile(r"^(?:#+\s*)?(?:Discussion about this post|Comments|\d+ Comments?)\s*$", re.I)
_DATE_ONLY = re.compile(r"^[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4}$")
# Readwise's export: `## Metadata` then `- Author: [[…]]`, `- Full Title: …`, `- URL: …`
_READWISE_HEADING = re.compile(r"^#{1,6}\s+Metadata\s*#*$")
_READWISE_ITEM = re.compile(r"^[-*]\s+(?P<label>Author|Full Title|Title|Category|Summary|URL|Document Tags|Tags|"
                            r"Published Date|Date)\s*:\s*(?P<value>.*?)\s*$")
_WIKILINK = re.compile(r"^\[\[[^\]|]+(?:\|[^\]]*)?\]\]$")
_SENTENCE = re.compile(r"[。！？!?；;]|\s{2,}\S+\s+\S+\s+\S+")

# words without one of which no pattern matches (a text-only pre-check)
_WORDS = re.compile(r"#Omnivore|#Readwise|#SimpRead|#Cubox|#MarkDownload|\[\[Omnivore\]\]|收录于|_\d{4}-\d{2}-\d{2}|"
                    r"mp\.weixin\.qq\.com/s/?\)|javascript:void|\*\d{4}年|以下文章来源于|The following article is from|"
                    r"作者|来源|原文|Source|Original|Originally|By |substack\.com/|Metadata|/authors?/|/people/|/profile/|"
                    r"/members?/|/users?/|/u/|/@|发布|发表|Published|Posted|Publish date|Date published", re.I)
_DATE_UNDERSCORE_KEYS = ("date_saved", "date_created", "date_modified", "date_read")
HEADER_LINES = 12  # `作者：`, `By …` and name-only bylines count only among the body's first lines


@dataclass
class _Item:
    first0: int
    last0: int          # exclusive
    what: str
    facts: Facts
    lines: list[int] = field(default_factory=list)
    title_line: int | None = None  # the line of a list that states the title
    weak: bool = False  # a generic label (`作者：`, `By …`): only in a clipped note, never a conflict report


def _date(text: str, zone: str | None = None) -> Date | None:
    return parse_date(text.strip(), zone)


class LiftMetadata(Rule):
    """A body line states a fact about the note that belongs in its front matter.

    ## What it does
    Finds the lines clippers write to say who wrote the article, when, where and with which
    tool — and moves those facts into the front matter, then removes the line, as one fix:

    - clipper tag lines (`#Omnivore`, `[[Omnivore]]`) and WeChat topic lines (`#topic` under
      `收录于话题`) go into `tags`, merged into an existing list in its own style;
    - WeChat bylines (`原创 <author> <account> _2024-04-09 22:10_ _发表于浙江_`,
      `Original <author> [<account>](https://mp.weixin.qq.com/s/) *2026年1月10日 13:42*`,
      `原创 <author> [ <account> ](javascript:void\\(0\\);)`, `以下文章来源于 …`) give the
      author, the account (`publisher`; for a repost, the first account as
      `original_publisher`), the publish date with its time in Beijing time (`published`)
      and the place shown (`location`);
    - `作者：…` / `来源：…`, `By <author> · Mar 3, 2024`, an author-page link alone on its line
      (`[Name](https://site/authors/name)`) and `于 2023-06-04 17:28 发布` / `Published on …`
      lines at the top of the body of a saved page (one with a source URL or a clipper's
      line; in a personal note `作者：` names the book's author), and a Substack author link
      (`[Name](https://substack.com/@name)`) with the date line after it;
    - source lines (`原文链接：URL`, `Source: [here](URL)`, `Originally published at …`) give
      the source URL, cleaned of tracking and session parameters; a placeholder address
      (`omnivore.app/no_url`, `localhost`, `about:blank`) is never lifted;
    - Readwise's `## Metadata` list (`- Author:`, `- Full Title:`, `- Category:`,
      `- Summary:`, `- URL:`) gives author, title, tags, description and source; the heading
      goes with its last item.

    Keys follow the note: a fact goes under the key the front matter already uses for it
    (`date_published`, `url`, …) — a note that names its dates Omnivore's way (`date_saved`)
    gets `date_published` — else under Obsidian Web Clipper's name (`author`, `published`,
    `source`, `description`, `tags`), which the `keys` option can change.

    ## Why is this bad?
    Deleting these lines as clutter loses the only record of the author, the publish date or
    the clipper tag; leaving them repeats metadata in every reading view.  In the front
    matter, Obsidian properties, Dataview, Quartz and Hugo can read them.

    ## Example
    ```markdown
    ---
    title: Rivers
    tags: [geography]
    ---

    #Omnivore

    By Ana Ruiz · Mar 3, 2024

    Rivers carve valleys slowly.
    ```

    Use instead:
    ```markdown
    ---
    title: Rivers
    tags: [geography, Omnivore]
    author: Ana Ruiz
    published: 2024-03-03
    ---

    Rivers carve valleys slowly.
    ```

    ## Fix safety
    Safe: the facts are written into the front matter by insertions only (new keys as new
    last lines, an empty key filled in place, new tags appended to the list), and the line is
    removed in the same fix; every fact of a removed line is in the front matter afterwards.
    A fact the front matter already holds with the same value only removes the line.  When
    the front matter holds a *different* value for a fact of the line (another author, another
    date), the line is reported and kept: there is no fix.  A note without front matter gets
    a new `---` block holding the facts; TOML (`+++`) front matter gets `key = "value"` lines;
    JSON front matter and front matter that does not parse are never edited.

    ## Options
    - `keys`: the front-matter key for each fact, e.g. `{"published": "date_published",
      "source": "url"}` (facts: author, author_url, publisher, original_publisher,
      published, source, title, description, location, tags)
    """

    code = "DM007"
    name = "lift-metadata"
    summary = "Fact about the note stated in the body instead of the front matter"
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe"

    @dataclass(frozen=True)
    class Options:
        keys: dict[str, str] = None  # type: ignore[assignment]

    def _keys(self) -> dict[str, str]:
        keys = {fact: names[0] for fact, names in FACT_KEYS.items()}
        keys["tags"] = "tags"
        for fact, key in (self.options.keys or {}).items():
            keys[str(fact)] = str(key)
        return keys

    def check(self, doc):
        if not _may_match(doc.body_lf):
            return  # no line can match: spare the Markdown parse
        fm = doc.front_matter
        if fm is not None and (not fm.closed or fm.error is not None or fm.kind == "json"):
            return
        items = self._items(doc)
        if not items:
            return
        headings = None
        for item in items:
            title = item.facts.values.get("title")
            if title is None:
                continue
            if headings is None:
                headings = {norm(doc.inline_content(b)) for b in doc.blocks if b.kind == "heading"}
            if norm(str(title)) in headings:
                # the note's own heading states the title: written as `title`, the heading
                # would repeat the front matter (and go); so the title line stays, and with
                # it the list's heading
                del item.facts.values["title"]
                item.lines = [ln for ln in item.lines if ln not in (item.title_line, item.first0)]
        items = [it for it in items if it.lines]
        if not items:
            return
        keys = self._keys()
        values = dict(fm.values) if fm is not None else {}
        if "published" not in (self.options.keys or {}) and any(k in values for k in _DATE_UNDERSCORE_KEYS):
            keys["published"] = "date_published"  # the note names dates Omnivore's way (`date_saved`)
        if not _clipped(values, items):
            items = [it for it in items if not it.weak]
        overlay = dict(values)
        accepted: list[_Item] = []
        combined = Facts()
        for item in items:
            p = plan(item.facts, overlay, keys)
            if p.conflicts:
                if item.weak:
                    continue  # a reading note's `作者：` names the book's author, not the note's
                yield self.diagnostic(doc.lines.lines_span(item.first0, item.last0),
                                      f"{item.what} (line {item.first0 + 1}) states facts the front matter holds "
                                      f"differently: {'; '.join(p.conflicts)}; kept")
                continue
            accepted.append(item)
            combined.merge(item.facts)
            for fact, value in item.facts.values.items():
                key = next((k for k in [keys.get(fact)] + list(FACT_KEYS[fact]) if k in overlay
                            and overlay[k] not in (None, "", [])), keys.get(fact))
                overlay.setdefault(key, value.iso() if isinstance(value, Date) else value)
                if overlay.get(key) in (None, "", []):
                    overlay[key] = value.iso() if isinstance(value, Date) else value
            if item.facts.tags:
                tk = keys["tags"]
                have = overlay.get(tk)
                have = list(have) if isinstance(have, list) else ([have] if have else [])
                overlay[tk] = have + [t for t in item.facts.tags if t not in have]
        if not accepted:
            return
        p = plan(combined, values, keys)
        try:
            fm_edits = front_matter_edits(doc, p, keys["tags"])
        except CannotWrite as exc:
            for item in accepted:
                yield self.diagnostic(doc.lines.lines_span(item.first0, item.last0),
                                      f"{item.what} (line {item.first0 + 1}): its facts belong in the front matter, "
                                      f"which cannot take them without a rewrite ({exc})")
            return
        # remove every accepted line; lines separated only by blank lines go as one run
        lines_gone = sorted({ln for it in accepted for ln in it.lines})
        runs: list[list[int]] = []
        for ln in lines_gone:
            if runs and all(not doc.lines.line_text(k).strip() for k in range(runs[-1][1], ln)):
                runs[-1][1] = ln + 1
            else:
                runs.append([ln, ln + 1])
        removals = [remove_lines(doc, a, b) for a, b in runs]
        written = sorted(set(p.add) | set(p.fill) | ({keys["tags"]} if p.tags else set()))
        title = (f"Move {', '.join(f'`{k}`' for k in written)} into the front matter and remove the line"
                 if written else "Remove the line: the front matter already holds its facts")
        fix = Fix.safe(title, *fm_edits, *removals, kind=FixKind.FRONT_MATTER)
        for item in accepted:
            yield self.diagnostic(doc.lines.lines_span(item.first0, item.last0),
                                  f"{item.what} (line {item.first0 + 1}) belongs in the front matter", fix=fix)

    # -- finding the lines -------------------------------------------------------------
    def _items(self, doc) -> list[_Item]:
        lines = doc.lines
        blocks = [b for b in doc.blocks if b.kind in ("paragraph", "bullet_list", "heading")]
        starts = [b.line0 for b in blocks]
        first_body = lines.line_of(doc.body_start) if doc.body_start < len(doc.text) else lines.line_count

        def block_of(line0: int):
            i = bisect.bisect_right(starts, line0) - 1
            return blocks[i] if i >= 0 and line0 < blocks[i].line1 else None

        def usable(line0: int) -> bool:
            if in_fenced_code(doc, lines.line_start(line0)):
                return False
            return not doc.is_protected(lines.lines_span(line0, line0 + 1))

        out: list[_Item] = []
        header_seen = 0
        topic_until = -1
        substack_done = False
        used: set[int] = set()
        line0 = first_body
        count = lines.line_count
        while line0 < count:
            raw = lines.line_text(line0).strip()
            if not raw:
                line0 += 1
                continue
            header_seen += 1
            in_header = header_seen <= HEADER_LINES
            if _TOPIC_LABEL.match(raw):
                topic_until = line0
            elif topic_until >= 0:
                # the topic block runs on through `#topic` and count (`5个`) lines only
                topic_until = line0 if (_TOPIC_LINE.match(raw) or _TOPIC_COUNT.match(raw)) else -1
            block = block_of(line0)
            if block is None or not usable(line0) or len(raw) > 400:
                line0 += 1
                continue
            kind = block.kind
            if kind == "heading":
                if _READWISE_HEADING.match(raw):
                    item = self._readwise(doc, block, block_of)
                    if item is not None:
                        out.append(item)
                        used.update(item.lines)
                        line0 = item.last0
                        continue
                line0 += 1
                continue
            facts = None
            what = ""
            if kind == "paragraph":
                facts, what = self._line_facts(doc, line0, raw, in_header, topic_until == line0)
                if line0 > first_body + (count - first_body) // 2 or _COMMENTS.match(raw):
                    substack_done = True  # the comments: their profile links are commenters'
                if facts is None and not substack_done and (m := _SUBSTACK_AUTHOR.match(raw)):
                    substack_done = True
                    facts = Facts({"author": m.group("name").strip(), "author_url": m.group("url")})
                    what = "Substack author link"
                    item = _Item(line0, line0 + 1, what, facts, [line0])
                    date_line = self._substack_date(doc, line0, usable, block_of)
                    if date_line is not None:
                        d = _date(lines.line_text(date_line))
                        if d is not None:
                            out.append(item)
                            out.append(_Item(date_line, date_line + 1, "Substack date line",
                                             Facts({"published": d}), [date_line]))
                            used.update((line0, date_line))
                            line0 += 1
                            continue
                    out.append(item)
                    used.add(line0)
                    line0 += 1
                    continue
            if facts and line0 not in used:
                out.append(_Item(line0, line0 + 1, what, facts, [line0], weak=what in _WEAK))
                used.add(line0)
            line0 += 1
        return out

    def _line_facts(self, doc, line0: int, raw: str, in_header: bool, in_topics: bool):
        m = _CLIPPER_TAG.match(raw)
        if m:
            return Facts(tags=[m.group("h") or m.group("w")]), "Clipper tag line"
        if in_topics and (m := _TOPIC_LINE.match(raw)):
            return Facts(tags=_TOPIC_TAG.findall(raw)), "WeChat topic line"
        m = _WECHAT_UNDERSCORE.match(raw)
        if m:
            names = m.group("names").split()
            d = _date(m.group("date"), _WECHAT_ZONE)
            if d is None:
                return None, ""
            f = Facts({"published": d})
            if len(names) == 2:
                f.values["author"], f.values["publisher"] = names
            else:
                f.values["publisher"] = names[0]
            if m.group("place"):
                f.values["location"] = m.group("place")
            return f, "WeChat byline"
        m = _WECHAT_LINKED.match(raw)
        if m:
            f = Facts({"publisher": m.group("account")})
            if m.group("author"):
                f.values["author"] = m.group("author")
            if m.group("date"):
                d = _date(m.group("date"), _WECHAT_ZONE)
                if d is None:
                    return None, ""
                f.values["published"] = d
            return f, "WeChat byline"
        m = _WECHAT_STARRED.match(raw)
        if m and in_header:
            d = _date(m.group("date"), _WECHAT_ZONE)
            if d is not None and "年" in m.group("date"):
                return Facts({"author": m.group("author"), "published": d}), "WeChat byline"
        m = _WECHAT_REPOST.match(raw)
        if m:
            # the account the article first appeared on; the byline names the reposting one
            f = Facts({"original_publisher": (m.group("zh") or m.group("en")).strip()})
            who = m.group("zh_author") or m.group("en_author")
            if who:
                f.values["author"] = who
            return f, "WeChat repost card"
        m = _LABEL.match(raw)
        if m:
            return self._label_facts(m.group("label"), m.group("value"), in_header)
        m = _ORIGINALLY.match(raw)
        if m:
            return self._source_facts(m.group("value"), publisher_ok=True), "`Originally published` line"
        m = _AUTHOR_LINK.match(raw)
        if m and in_header and "substack.com/" not in raw:
            return Facts({"author": m.group("name").strip(), "author_url": clean_url(m.group("url"))}), "Author link"
        m = _PUBLISHED_LINE.match(raw)
        if m and in_header:
            d = _date(m.group("zh") or m.group("zh2") or m.group("en"))
            if d is not None:
                return Facts({"published": d}), "Publish date line"
        m = _BY.match(raw)
        if m and in_header and (m.group("date") or len(m.group("who").split()) >= 2):
            who = m.group("who")
            f = Facts()
            lm = _LINK.match(who)
            if lm:
                f.values["author"] = lm.group("text").strip()
                if liftable_url(lm.group("url")):
                    f.values["author_url"] = clean_url(lm.group("url"))
            else:
                f.values["author"] = who.strip()
            if m.group("date"):
                d = _date(m.group("date"))
                if d is None:
                    return None, ""
                f.values["published"] = d
            return f, "Byline"
        return None, ""

    def _label_facts(self, label: str, value: str, in_header: bool):
        low = label.lower()
        if low in ("source", "original", "来源", "文章来源") and not _generic_link(value):
            # `Source: [Pew Research](…)` under a chart credits a figure, not the note
            return None, ""
        if low in ("原文链接", "原文地址", "原文", "source", "original", "original url", "original link", "来源",
                   "文章来源"):
            facts = self._source_facts(value, publisher_ok=low in ("来源", "文章来源") and in_header)
            if facts is not None:
                return facts, f"`{label}` line"
            return None, ""
        if low == "作者" and in_header and _name_like(value):
            return Facts({"author": value.strip("*_ ")}), f"`{label}` line"
        return None, ""

    @staticmethod
    def _source_facts(value: str, publisher_ok: bool):
        v = value.strip().strip("*_").strip()
        if v.endswith(").") or v.endswith(">."):
            v = v[:-1]  # `Source: [here](URL).`
        m = _LINK.match(v) or _BARE_URL.match(v)
        if m:
            url = m.group("url")
            if not liftable_url(url):
                return None
            return Facts({"source": clean_url(url)})
        if publisher_ok and _name_like(v):
            return Facts({"publisher": v})
        return None

    @staticmethod
    def _substack_date(doc, line0: int, usable, block_of):
        """The date line of a Substack byline: the first date-only line after the author
        link, within a few lines (layout residue such as `<div>` lines between them)."""
        lines = doc.lines
        seen = 0
        for k in range(line0 + 1, min(lines.line_count, line0 + 14)):
            t = lines.line_text(k).strip()
            if not t or t.startswith("<"):
                continue
            seen += 1
            if _DATE_ONLY.match(t):
                b = block_of(k)
                if b is not None and b.kind == "paragraph" and b.line1 - b.line0 == 1 and usable(k):
                    return k
                return None
            if seen > 2:
                return None
        return None

    def _readwise(self, doc, heading, block_of) -> _Item | None:
        lines = doc.lines
        k = heading.line1
        while k < lines.line_count and not lines.line_text(k).strip():
            k += 1
        lst = block_of(k)
        if lst is None or lst.kind != "bullet_list":
            return None
        facts = Facts()
        title_line = None
        for ln in range(lst.line0, lst.line1):
            raw = lines.line_text(ln).strip()
            if not raw:
                continue
            m = _READWISE_ITEM.match(raw)
            if not m:
                return None  # a list that is not Readwise's metadata: leave it
            label, value = m.group("label"), m.group("value")
            if not value:
                continue
            if label == "Author":
                facts.values["author"] = value if _WIKILINK.match(value) else value.strip()
            elif label in ("Full Title", "Title"):
                facts.values["title"] = value
                title_line = ln
            elif label in ("Category", "Document Tags", "Tags"):
                tags = re.findall(r"#([^\s#\[\],]+)|\[\[([^\]|]+)\]\]", value)
                found = [a or b for a, b in tags]
                if not found:
                    return None
                facts.tags.extend(t for t in found if t not in facts.tags)
            elif label == "Summary":
                facts.values["description"] = value
            elif label == "URL":
                if not liftable_url(value):
                    return None
                facts.values["source"] = clean_url(value)
            elif label in ("Published Date", "Date"):
                d = _date(value)
                if d is None:
                    return None
                facts.values["published"] = d
        if not facts:
            return None
        return _Item(heading.line0, lst.line1, "Readwise metadata list", facts,
                     [heading.line0] + [k for k in range(lst.line0, lst.line1) if lines.line_text(k).strip()],
                     title_line=title_line)


def _may_match(body: str) -> bool:
    """Can a line of ``body`` match one of the line patterns?  From the text alone: the lines
    holding a word some pattern needs are tried against the patterns (context aside)."""
    pats = (_CLIPPER_TAG, _TOPIC_LABEL, _WECHAT_UNDERSCORE, _WECHAT_LINKED, _WECHAT_STARRED, _WECHAT_REPOST,
            _LABEL, _ORIGINALLY, _AUTHOR_LINK, _PUBLISHED_LINE, _BY, _SUBSTACK_AUTHOR, _READWISE_HEADING)
    pos = 0
    while True:
        m = _WORDS.search(body, pos)
        if m is None:
            return False
        a = body.rfind("\n", 0, m.start()) + 1
        b = body.find("\n", m.end())
        b = len(body) if b == -1 else b
        line = body[a:b].strip()
        if len(line) <= 400 and any(p.match(line) for p in pats):
            return True
        pos = b + 1


_WEAK = ("Byline", "`作者` line", "`来源` line", "`文章来源` line", "Author link", "Publish date line")


def _clipped(values: dict, items: list[_Item]) -> bool:
    """Is the note a saved web page (a source URL in its front matter, or a clipper's own
    line), where a generic `作者：` or `By …` line is the article's byline?"""
    if any(not it.weak for it in items):
        return True
    lower = {str(k).lower(): v for k, v in values.items()}
    return any(isinstance(lower.get(k), str) and lower[k].strip().startswith(("http://", "https://"))
               for k in FACT_KEYS["source"])


_GENERIC_TEXT = re.compile(r"^(?:here|link|this link|original|the original|source|原文|原文链接|阅读原文|点击这里|"
                           r"https?://\S+)$", re.I)


def _generic_link(value: str) -> bool:
    """Is ``value`` a bare URL, or a link whose text says nothing but "here" / "原文"?"""
    v = value.strip().strip("*_").strip()
    if v.endswith(")."):
        v = v[:-1]
    m = _LINK.match(v)
    if m:
        return bool(_GENERIC_TEXT.match(m.group("text").strip()))
    return _BARE_URL.match(v) is not None or "http" not in v


def _name_like(value: str) -> bool:
    v = value.strip("*_ ")
    return 0 < len(v) <= 40 and not _SENTENCE.search(v) and "http" not in v and "](" not in v
