from __future__ import annotations

from tidymark.diagnostics import Fix
from tidymark.rules.im._images import ProxyImageRule
from tidymark.rule import FixAvailability


class DeadImageProxy(ProxyImageRule):
    """An image is served through an image proxy of a service that has shut down.

    ## What it does
    Finds image URLs (Markdown images, linked images, reference definitions, `<img src>`
    and `srcset`) that go through the image proxy of a dead read-it-later service:
    Omnivore (`proxy-prod.omnivore-image-cache.app/<W>x<H>,s<sig>/<original>`, shut down in
    November 2024) and Pocket (`pocket-image-cache.com/…`, closed in July 2025).  Every URL
    on a dead proxy's host is reported, whatever its signature or path.  The URL is decoded
    layer by layer (Omnivore → Substack → S3, Omnivore → camo → origin, …), HTML-escaped
    forms included, using the proxy table in `rules/data/image_proxies.yaml`.

    Omnivore resolved site-relative image paths against `t.co` when it saved some pages
    (`…/https://t.co/images/figure.png`): such a figure is the article's, not a placeholder.

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
    Safe: the fix removes only the dead layer, writing the exact URL the dead proxy was
    given (when the original follows the size/options segment).  Live proxies inside it
    (Substack fetch, Medium resize, WordPress Photon, camo, Next.js, …) stay as the article
    had them: unwrapping them is IM002's unsafe fix.  When the proxy wrapped a lazy-load
    placeholder (`data:` image) or a `t.co` short link there is no image to restore: the
    fix removing the image is unsafe.  A site path resolved against `t.co` gets an unsafe
    fix rebasing it on the origin of the note's source URL (`url`, `source`, …; a placeholder
    such as `omnivore.app/no_url` is not one), and no fix when the note has none: an
    article figure is never offered for deletion.  A dead layer
    that cannot be decoded gets no fix.

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
