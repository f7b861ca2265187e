from __future__ import annotations

from tidymark.diagnostics import Fix
from tidymark.images import ProxyImageRule
from tidymark.rule import FixAvailability


class DeadImageProxy(ProxyImageRule):
    """An image is served through an image proxy of a service that has shut down.

    ## What it does
    Finds image URLs (Markdown images, linked images, reference definitions, `<img src>`
    and `srcset`) that go through the image proxy of a dead read-it-later service:
    Omnivore (`proxy-prod.omnivore-image-cache.app/<W>x<H>,s<sig>/<original>`, shut down in
    November 2024) and Pocket (`pocket-image-cache.com/…`, closed in July 2025).  The URL
    is decoded layer by layer (Omnivore → Substack → S3, Omnivore → camo → origin, …),
    HTML-escaped forms included, using the proxy table in `rules/data/image_proxies.yaml`.

    ## Why is this bad?
    The proxy is gone, so the image is broken in every viewer, while the original URL is
    sitting inside the proxy URL.

    ## Example
    ```markdown
    ![](https://proxy-prod.omnivore-image-cache.app/0x0,sAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE/https://images.example.org/a.png)
    ```

    Use instead:
    ```markdown
    ![](https://images.example.org/a.png)
    ```

    ## Fix safety
    Safe: the fix rewrites only the URL to the original recovered from it, which is the
    exact text the proxy was given.  When the proxy wrapped a lazy-load placeholder
    (`data:` image) or a `t.co` link there is no image to restore: the fix removing the
    image is unsafe.  A layer that cannot be decoded gets no fix.

    ## Options
    - `extra-schemes`: more proxy rows, in the shape of `rules/data/image_proxies.yaml`
    """

    code = "IM001"
    name = "dead-image-proxy"
    summary = "Image goes through the proxy of a service that shut down"
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"

    dead_proxies = True
    rewrite_fix = staticmethod(Fix.safe)
    opaque_message = "Image goes through a dead proxy ({chain}) and cannot be decoded"
    proxy_message = "Image goes through a dead proxy ({chain}); original: {original}"
