from __future__ import annotations

from tidymark.diagnostics import Fix, Severity
from tidymark.rules.im._images import ProxyImageRule
from tidymark.rule import FixAvailability


class LiveImageProxy(ProxyImageRule):
    """An image goes through a CDN or fetch proxy whose original is recoverable.

    ## What it does
    Finds image URLs wrapped by live image proxies and CDNs — Substack `image/fetch`,
    GitHub camo, WordPress Photon (`i0`–`i3.wp.com`), Next.js `/_next/image?url=`,
    wsrv.nl, Cloudinary fetch, Cloudflare `/cdn-cgi/image/`, DuckDuckGo, Google AMP cache
    and the other rows of `rules/data/image_proxies.yaml` — and proxies whose target
    cannot be decoded (re-hosted copies, tokens).  A live proxy inside a dead one is
    reported once IM001 has removed the dead layer (IM001's safe fix leaves it in place).

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

    dead_proxies = False
    rewrite_fix = staticmethod(Fix.unsafe)
    opaque_message = "Image is an opaque proxy copy ({chain}); the original cannot be recovered"
    proxy_message = "Image goes through a proxy ({chain}); original: {original}"
