from __future__ import annotations

import re
from dataclasses import dataclass

from tidymark.phrases import boilerplate as bp
from tidymark.diagnostics import Applicability, Fix, FixKind, Severity
from tidymark.rule import FixAvailability, OptionsError, Rule

SAFE = Applicability.SAFE
UNSAFE = Applicability.UNSAFE
_IMAGE_FILE = re.compile(r"\.(?:png|jpe?g|gif|webp|svg|avif|bmp|tiff?)(?:$|[!@?#])", re.I)


def _shown(url: str, host: str) -> str:
    """Host and path of ``url`` for messages, in their original case."""
    import html
    from urllib.parse import urlsplit

    try:
        path = urlsplit(html.unescape(url).strip()).path
    except ValueError:
        path = ""
    text = host + path.rstrip("/")
    return text if len(text) <= 60 else text[:59] + "…"


class PromotionalImage(Rule):
    """An image linking to a course, event, shop or ad page was saved with the article.

    ## What it does
    Finds linked images, `[![banner](…)](target)`, standing on a line of their own whose
    target sells something: a path such as `/courses/`, `/course/`, `/event/`, `/shop/`,
    `/store/`, `/product/`, `/class/`, `/training/` or `/ad/`; a shop or course host such as
    `ke.…`, `shop.…`, `store.…` or `class.…`; or a host from the advertising, affiliate and
    course-platform lexicon (`taobao.com`, `jd.com`, `youzan.com`, `xiaoe-tech.com`,
    `doubleclick.net`, `amzn.to`, …).

    A linked image that points at the image file itself, at the article's own site (the
    host of the front-matter `url`, `source` or `original_url`, or of a `[Read Original]`
    link) or at an app store or code host is content and is not reported.  So is a text
    link to a course in the middle of an article about that course.

    ## Why is this bad?
    Sites wrap their own promotions around the article: course banners, event sign-ups,
    shop ads.  A clipper captures them as images with purchase links, which then sit in
    the note as if they were figures of the article.

    ## Example
    ```markdown
    An article paragraph long enough to be real running text, which a reader would
    recognise as the content of the note.

    [![](https://img.example.com/banner.jpg)](https://ke.example.com/courses/growth)
    ```

    Use instead:
    ```markdown
    An article paragraph long enough to be real running text, which a reader would
    recognise as the content of the note.
    ```

    ## Fix safety
    Safe in the tail of the article: after the last prose paragraph, or in the last
    quarter of the body (see `tail-fraction`).  Elsewhere the fix is unsafe: a banner in
    the middle of the article may illustrate it, and so may one in a note without prose.
    The fix removes the image's line (the whole paragraph when it holds nothing else),
    never the surrounding text.

    ## Options
    - `extra-domains`: more advertising / shop hosts (a host also matches its sub-domains)
    - `extra-paths`: more URL path segments that sell something (e.g. `"webinars"`)
    - `exempt-domains`: hosts never reported (your own sites)
    - `tail-fraction`: where the tail of the body starts, as a fraction of its visible
      text (default `0.75`)
    """

    code = "AD003"
    name = "promotional-image"
    summary = "Image linking to a course, event, shop or ad page"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"
    needs_any = ("[![", "[ ![")

    @dataclass(frozen=True)
    class Options:
        extra_domains: tuple[str, ...] = ()
        extra_paths: tuple[str, ...] = ()
        exempt_domains: tuple[str, ...] = ()
        tail_fraction: float = 0.75

        def __post_init__(self):
            if not 0.0 <= self.tail_fraction <= 1.0:
                raise OptionsError(f"AD003 option `tail-fraction` must be between 0 and 1, got {self.tail_fraction}")

    def __init__(self, options=None):
        super().__init__(options)
        o = self.options
        self._domains = bp.terms("ad_domains", extra=tuple(d.lower().lstrip(".") for d in o.extra_domains))
        self._prefixes = bp.terms("shop_host_prefixes")
        self._paths = tuple(f"/{p.strip('/')}/" for p in bp.terms("promo_paths", extra=o.extra_paths))
        self._exempt = bp.terms("promo_exempt_hosts", extra=tuple(d.lower() for d in o.exempt_domains))

    def _promotion(self, url: str, image_url: str, own: frozenset[str]) -> str | None:
        """Why ``url`` is promotional (the host and path to show), or None."""
        host, path = bp.split_url(url)
        if not host or bp.host_matches(host, own) or bp.host_matches(host, self._exempt):
            return None
        if url.strip() == image_url.strip() or _IMAGE_FILE.search(path):
            return None  # the image links to itself
        img_host, img_path = bp.split_url(image_url)
        if img_host == host and img_path == path:
            return None
        shown = _shown(url, host)
        if bp.host_matches(host, self._domains) or host.startswith(self._prefixes):
            return shown
        p = path if path.endswith("/") else path + "/"
        if any(seg in p for seg in self._paths):
            return shown
        return None

    def check(self, doc):
        items = doc.inline
        if not items:
            return
        body = bp.analyze(doc)
        own = bp.own_hosts(doc)
        # linked images: a link whose text holds an image
        by_line: dict[int, list[str]] = {}
        bad_lines: set[int] = set()
        for k, e in enumerate(items):
            if e.kind != "link" or e.text_span is None:
                continue
            inner = [x for x in items[k + 1:k + 8] if x.kind in ("image", "html_image")
                     and e.text_span.start <= x.span.start and x.span.end <= e.text_span.end]
            line0 = doc.lines.line_of(e.span.start)
            why = self._promotion(e.url, inner[0].url, own) if inner else None
            if why is None:
                bad_lines.add(line0)  # another link on the line: not only promotions
                continue
            by_line.setdefault(line0, []).append(why)
        cands = []
        for line0, reasons in sorted(by_line.items()):
            if line0 in bad_lines:
                continue
            i = body.index_of_line(line0)
            if i < 0:
                continue
            b = body.blocks[i]
            span = doc.lines.lines_span(line0, line0 + 1)
            if b.kind != "paragraph" or doc.is_protected(span) or not bp.link_info(doc, span).only:
                continue
            tail = body.in_tail(i) or (body.has_prose and body.fraction(i) >= self.options.tail_fraction)
            cands.append((line0, i, SAFE if tail else UNSAFE, reasons[0]))
        # whole paragraphs or standalone lines of one
        found: list[bp.Candidate] = []
        by_block: dict[int, list] = {}
        for c in cands:
            by_block.setdefault(c[1], []).append(c)
        for i, cs in by_block.items():
            b = body.blocks[i]
            lines = {c[0]: c for c in cs}
            if len(lines) == b.line1 - b.line0:
                level = min(c[2] for c in cs)
                found.append(bp.Candidate(b.line0, b.line1, i, True, level, cs[0][3], len(cs)))
                continue
            flags = [(b.line0 + k) in lines for k in range(b.line1 - b.line0)]
            for k, ok in enumerate(bp.standalone_lines(doc, b, flags)):
                if ok:
                    c = lines[b.line0 + k]
                    # the tail of the body, and of the paragraph itself
                    level = c[2] if all(flags[k + 1:]) else UNSAFE
                    found.append(bp.Candidate(c[0], c[0] + 1, i, False, level, c[3]))
        for group in bp.merge_candidates(body, found):
            edit, a, b_ = bp.group_edit(doc, body, group, orphans=False)
            where = bp.lines_label(a, b_)
            count = sum(c.count for c in group)
            what = "Promotional image" if count == 1 else f"{count} promotional images"
            message = f"{what} linking to {group[0].label} ({where})"
            make = Fix.safe if group[0].level == SAFE else Fix.unsafe
            title = f"Remove the promotional image{'s' if count > 1 else ''} ({where})"
            yield self.diagnostic(bp.content_span(doc, a, b_), message,
                                  fix=make(title, edit, kind=FixKind.REMOVE_CONTENT))
