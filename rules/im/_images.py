"""Image URLs located in a document, unwrapped through the proxy table (shared by IM rules)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tidymark.diagnostics import Edit
from tidymark.document import Document
from tidymark.edits import remove_lines
from tidymark.markdown import Inline
from tidymark.diagnostics import Fix, FixKind
from tidymark.rule import Rule
from tidymark.source import Span

if TYPE_CHECKING:  # the proxy table loads with the first note that has an image
    from tidymark.rules.im._proxies import SchemeTable, Unwrapped

_SRCSET_URL = re.compile(r"[^\s,][^\s]*")


@dataclass(frozen=True)
class ImageUrl:
    element: Inline          # the image / link / definition / <img> the URL belongs to
    url: str                 # as written
    span: Span               # where the URL is written
    result: Unwrapped


def _encode_for(element: Inline, url: str, text: str) -> str:
    """Spell ``url`` so that it is a valid destination where it is written."""
    if element.kind == "html_image":
        return url.replace('"', "%22").replace("'", "%27")
    angle = element.url_span.start > 0 and text[element.url_span.start - 1] == "<"
    if angle:
        return url.replace("<", "%3C").replace(">", "%3E").replace("\n", "%0A")
    url = url.replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    if url.count("(") != url.count(")"):
        url = url.replace("(", "%28").replace(")", "%29")
    return url


def image_urls(doc: Document, schemes: SchemeTable | None) -> list[ImageUrl]:
    """Every proxied URL of an image (or of a link wrapping an image, or a definition)."""
    return doc.memo(("image_urls", id(schemes)), lambda: _image_urls(doc, schemes))


def _image_urls(doc: Document, schemes: SchemeTable | None) -> list[ImageUrl]:
    from tidymark.rules.im._proxies import looks_proxied, unwrap

    text = doc.text
    if not looks_proxied(text, schemes):
        return []
    out: list[ImageUrl] = []
    for el in doc.inline:
        if el.kind == "link" and "![" not in el.text(text):
            continue
        if el.kind == "html_image" and el.attr in ("srcset", "data-srcset"):
            for m in _SRCSET_URL.finditer(el.url):
                u = m.group().rstrip(",")
                res = unwrap(u, schemes)
                if res.chain:
                    s = el.url_span.start + m.start()
                    out.append(ImageUrl(el, u, Span(s, s + len(u)), res))
            continue
        res = unwrap(el.url, schemes)
        if res.chain:
            out.append(ImageUrl(el, el.url, el.url_span, res))
    return out


def rewrite(doc: Document, img: ImageUrl, target: str | None = None) -> Edit:
    """Write ``target`` (by default the original behind every layer) in place of the URL."""
    return Edit(img.span, _encode_for(img.element, target or img.result.original or img.url, doc.text))


def past_dead_layers(res: Unwrapped) -> tuple[str | None, tuple]:
    """The URL the innermost dead layer was given, and the layers down to it: removing only
    those leaves the live proxies inside (IM002's business) as the article had them.  None
    when the dead layer cannot be decoded."""
    last = max(i for i, step in enumerate(res.chain) if step.status == "dead")
    return res.chain[last].url_out, res.chain[:last + 1]


def source_url(doc: Document) -> str | None:
    """The article's address from the front matter (`url`, `source`, `original_url`, …)."""
    fm = doc.front_matter
    if fm is None or fm.kind != "yaml" or fm.error is not None:
        return None
    from tidymark.rules._clipper import SOURCE_URL_KEYS, is_placeholder_url

    for key, value in fm.values.items():
        if str(key).lower() in SOURCE_URL_KEYS and isinstance(value, str) \
                and value.strip().lower().startswith(("http://", "https://")) and not is_placeholder_url(value):
            return value.strip()
    return None


def remove_image(doc: Document, img: ImageUrl) -> Edit:
    """Remove the image (with a link wrapping only it); a line holding only it goes whole."""
    el = img.element
    span = el.span
    for other in doc.inline:
        if other.kind == "link" and other.text_span is not None and other.span.contains(span) \
                and doc.text[other.text_span.start:other.text_span.end].strip() == doc.slice(span).strip():
            span = other.span
            break
    lines = doc.lines
    a, b = lines.line_of(span.start), lines.line_of(max(span.end - 1, span.start))
    line_span = lines.lines_span(a, b + 1)
    rest = doc.text[line_span.start:span.start] + doc.text[span.end:line_span.end]
    if not rest.strip():
        return remove_lines(doc, a, b + 1)
    return Edit(span, "")


def chain_text(res: Unwrapped, steps: tuple | None = None) -> str:
    return " → ".join(step.scheme_id for step in (res.chain if steps is None else steps))


class ProxyImageRule(Rule):
    """Shared body of the image-proxy rules: the proxy table (with the `extra-schemes`
    option) and one diagnostic per proxied image URL of the rule's kind."""

    __abstract__ = True
    dead_proxies: bool = True                     # IM001 reports dead proxies, IM002 live ones
    rewrite_fix = staticmethod(Fix.safe)
    opaque_message = ""
    proxy_message = ""

    @dataclass(frozen=True)
    class Options:
        extra_schemes: tuple[dict[str, Any], ...] = ()

    @cached_property
    def schemes(self) -> SchemeTable:
        from tidymark.rules.im._proxies import load_schemes

        return load_schemes(extra=list(self.options.extra_schemes) or None)

    def check(self, doc):
        text = doc.text
        if "![" not in text and "]:" not in text and "<img" not in text and "<IMG" not in text:
            return  # no image, definition or <img> at all: not even the proxy table is needed
        from tidymark.rules.im._proxies import misresolved_path, rebase

        for img in image_urls(doc, self.schemes):
            res = img.result
            if res.dead != self.dead_proxies:
                continue
            chain = chain_text(res)
            path = misresolved_path(res.original) if res.original is not None else None
            if path is not None:
                # an article figure whose site path the clipper resolved against t.co
                source = source_url(doc)
                target = rebase(path, source) if source else None
                if target is None:
                    yield self.diagnostic(img.span, f"Image proxy ({chain}) wraps `{res.original}`, a site path "
                                                    f"resolved against t.co; the note has no source URL to rebase it on")
                else:
                    yield self.diagnostic(img.span, f"Image proxy ({chain}) wraps `{res.original}`, a site path "
                                                    f"resolved against t.co; on the article's site: {target}",
                                          fix=Fix.unsafe("Rebase the image path on the note's source URL",
                                                         rewrite(doc, img, target)))
            elif res.placeholder:
                yield self.diagnostic(img.span, f"Image proxy ({chain}) wraps a placeholder, not an image",
                                      fix=Fix.unsafe("Remove the placeholder image", remove_image(doc, img),
                                                     kind=FixKind.REMOVE_CONTENT))
            elif self.dead_proxies:
                target, steps = past_dead_layers(res)
                dead_chain = chain_text(res, steps)
                if target is None:
                    yield self.diagnostic(img.span, self.opaque_message.format(chain=dead_chain))
                else:
                    yield self.diagnostic(img.span, self.proxy_message.format(chain=dead_chain, original=target),
                                          fix=self.rewrite_fix("Rewrite to the URL the dead proxy was given",
                                                               rewrite(doc, img, target)))
            elif res.original is None:
                yield self.diagnostic(img.span, self.opaque_message.format(chain=chain))
            else:
                yield self.diagnostic(img.span, self.proxy_message.format(chain=chain, original=res.original),
                                      fix=self.rewrite_fix("Rewrite to the original image URL", rewrite(doc, img)))
