from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tidymark.diagnostics import Fix, FixKind, Severity
from tidymark.images import chain_text, image_urls, remove_image, rewrite
from tidymark.proxies import load_schemes
from tidymark.rule import FixAvailability, Rule


class LiveImageProxy(Rule):
    """An image goes through a CDN or fetch proxy whose original is recoverable.

    ## What it does
    Finds image URLs wrapped by live image proxies and CDNs — Substack `image/fetch`,
    GitHub camo, WordPress Photon (`i0`–`i3.wp.com`), Next.js `/_next/image?url=`,
    wsrv.nl, Cloudinary fetch, Cloudflare `/cdn-cgi/image/`, DuckDuckGo, Google AMP cache
    and the other rows of `rules/data/image_proxies.yaml` — and proxies whose target
    cannot be decoded (re-hosted copies, tokens).

    ## Why is this bad?
    The note depends on a third party staying up, and on its resizing parameters; the
    original URL is the one the author published.

    ## Example
    ```markdown
    ![](https://i0.wp.com/blog.example.org/wp-content/uploads/chart.png?resize=768%2C493&ssl=1)
    ```

    Use instead:
    ```markdown
    ![](https://blog.example.org/wp-content/uploads/chart.png)
    ```

    ## Fix safety
    Unsafe: the proxy still works, and it may be serving a resized or re-encoded copy the
    author chose; rewriting changes what loads.  A proxy that wraps a placeholder gets an
    unsafe fix removing the image; an opaque proxy gets no fix.

    ## Options
    - `extra-schemes`: more proxy rows, in the shape of `rules/data/image_proxies.yaml`
    """

    code = "IM002"
    name = "live-image-proxy"
    summary = "Image goes through a proxy whose original URL is recoverable"
    default_severity = Severity.WARNING
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "unsafe"

    @dataclass(frozen=True)
    class Options:
        extra_schemes: tuple[dict[str, Any], ...] = ()

    @cached_property
    def schemes(self):
        return load_schemes(extra=list(self.options.extra_schemes) or None)

    def check(self, doc):
        for img in image_urls(doc, self.schemes):
            res = img.result
            if res.dead:
                continue
            chain = chain_text(res)
            if res.placeholder:
                yield self.diagnostic(img.span, f"Image proxy ({chain}) wraps a placeholder, not an image",
                                      fix=Fix.unsafe("Remove the placeholder image", remove_image(doc, img),
                                                     kind=FixKind.REMOVE_CONTENT))
            elif res.original is None:
                yield self.diagnostic(img.span, f"Image is an opaque proxy copy ({chain}); the original cannot be recovered")
            else:
                yield self.diagnostic(img.span, f"Image goes through a proxy ({chain}); original: {res.original}",
                                      fix=Fix.unsafe("Rewrite to the original image URL", rewrite(doc, img)))
