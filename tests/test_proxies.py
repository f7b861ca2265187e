"""Tests of the image-proxy table (rules/data/image_proxies.yaml) and its decoder library."""

from __future__ import annotations

import base64
import textwrap
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tidymark.proxies import (
    DECODERS,
    STATUSES,
    Scheme,
    SchemeTable,
    Step,
    Unwrapped,
    default_table_path,
    load_schemes,
    looks_proxied,
    parse_table,
    prefilter_needles,
    unwrap,
)

TABLE = load_schemes()
SIG = "pTyGJMuHbEL31IeL2HPcHyGcFRl1SPnXNYvMIHa_2o7"  # 43 base64url characters
SIG2 = "6umfXfKm_r5kJP1VrT-1FJors_6ILi8IHn5kxsC7tVO"
HMAC40 = "40e50454f31af3176813e02ea68ef786e4d3cea2"
OMNIVORE = "https://proxy-prod.omnivore-image-cache.app"

EXAMPLES = [
    pytest.param(scheme, example, id=f"{scheme.id}-{n}")
    for scheme in TABLE
    for n, example in enumerate(scheme.examples, 1)
]


def omnivore(url: str, size: str = "0x0", sig: str = SIG) -> str:
    return f"{OMNIVORE}/{size},s{sig}/{url}"


def camo_hex(url: str) -> str:
    return f"https://camo.githubusercontent.com/{HMAC40}/{url.encode().hex()}"


def ddg(url: str) -> str:
    return f"https://external-content.duckduckgo.com/iu/?u={quote(url, safe='')}&f=1&nofb=1"


def substack(url: str) -> str:
    return f"https://substackcdn.com/image/fetch/w_1456,c_limit,f_auto,q_auto:good/{quote(url, safe='')}"


def pocket(url: str) -> str:
    return f"https://pocket-image-cache.com/1200x/filters:format(jpg):extract_focal()/{quote(url, safe='')}"


def pocket_direct(url: str) -> str:
    return f"https://pocket-image-cache.com/direct?url={quote(url, safe='')}&resize=w1408"


def inoreader(url: str) -> str:
    return "https://www.inoreader.com/camo/sa1b2c3,q80,x120,b64/" + base64.urlsafe_b64encode(url.encode()).decode()


def mustache_escape(text: str) -> str:
    """The escaping of a Mustache ``{{content}}`` template (as in Omnivore exports)."""
    table = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
             "/": "&#x2F;", "`": "&#x60;", "=": "&#x3D;"}
    return "".join(table.get(ch, ch) for ch in text)


def row(**overrides):
    """A valid extra row; ``overrides`` replace (or, with value ..., remove) keys."""
    base = {
        "id": "my_proxy",
        "name": "My proxy",
        "status": "live",
        "hosts": ["img.example.net"],
        "pattern": r"^https://img\.example\.net/fetch\?",
        "decode": "query_param",
        "params": {"param": "src"},
        "examples": [{"url": "https://img.example.net/fetch?src=https%3A%2F%2Fa.example.org%2Fb.png",
                      "original": "https://a.example.org/b.png"}],
    }
    for key, value in overrides.items():
        if value is ...:
            base.pop(key, None)
        else:
            base[key] = value
    return base


# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------


def test_table_loads_from_the_package_data():
    assert default_table_path().parts[-3:] == ("rules", "data", "image_proxies.yaml")
    assert isinstance(TABLE, SchemeTable) and len(TABLE) >= 20
    assert load_schemes() is TABLE  # read and validated once


def test_the_built_in_table_validates_whole_and_compiles_its_patterns_on_first_use():
    import yaml

    with open(default_table_path(), encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    eager = parse_table(data)  # every pattern compiled, its named groups checked
    assert [s.id for s in eager] == [s.id for s in TABLE]
    assert all("pattern" in s.__dict__ for s in eager)
    lazy = parse_table(data, compiled=False)
    row = lazy.by_id("omnivore")
    assert not any("pattern" in s.__dict__ for s in lazy)
    url = omnivore("https://example.org/a.png")
    (lazy_row, lazy_out), (eager_row, eager_out) = lazy.first_match(url), eager.first_match(url)
    assert lazy_row.id == eager_row.id == "omnivore" and lazy_out == eager_out == "https://example.org/a.png"
    assert "pattern" in row.__dict__ and sum("pattern" in s.__dict__ for s in lazy) < len(lazy)


def test_every_scheme_has_an_example():
    missing = [s.id for s in TABLE if not s.examples]
    assert not missing, f"schemes without an example row: {missing}"


def test_every_status_and_decoder_is_known():
    for scheme in TABLE:
        assert scheme.status in STATUSES
        assert (scheme.decode is None) == (scheme.status == "opaque"), scheme.id
        assert scheme.decode is None or scheme.decode in DECODERS


def test_the_catalogue_is_covered():
    ids = {s.id for s in TABLE}
    assert ids >= {
        "omnivore", "willnorris_imageproxy", "pocket_thumbor", "pocket_direct", "pocket_cloudfront",
        "github_camo", "github_camo_query", "substack_fetch", "wordpress_photon", "nextjs_image",
        "weserv", "cloudinary_fetch", "imgix_web_proxy", "gmail_image_proxy", "google_proxy_token",
        "inoreader_camo", "miniflux_proxy", "duckduckgo", "discord_media_proxy", "amp_cache",
        "cloudflare_image_resizing", "cors_worker", "medium_resize", "imgproxy_plain",
        "imgproxy_base64", "steemit", "bing_thumbnail", "reddit_external_preview",
        "readwise_reader_asset",
    }


def test_dead_and_opaque_statuses():
    by_status = {status: {s.id for s in TABLE if s.status == status} for status in STATUSES}
    assert by_status["dead"] == {"omnivore", "pocket_thumbor", "pocket_direct", "pocket_cloudfront"}
    assert by_status["opaque"] == {"google_proxy_token", "bing_thumbnail", "reddit_external_preview",
                                   "readwise_reader_asset"}
    for live in ("substack_fetch", "wordpress_photon", "github_camo", "nextjs_image", "medium_resize"):
        assert TABLE.by_id(live).status == "live"


@pytest.mark.parametrize("scheme, example", EXAMPLES)
def test_example_rows_decode(scheme: Scheme, example):
    assert scheme.matches(example.url)
    assert scheme.decode_url(example.url) == example.original
    result = unwrap(example.url)
    first = result.chain[0]
    assert (first.scheme_id, first.status) == (scheme.id, scheme.status)
    assert first.url_in == example.url
    assert first.url_out == example.original
    assert result.dead == (scheme.status == "dead") or len(result.chain) > 1
    if scheme.status == "opaque":
        assert result.original is None and result.opaque and not result.changed
    else:
        assert result.original is not None and result.changed


@pytest.mark.parametrize("scheme, example", EXAMPLES)
def test_example_rows_match_no_other_row_first(scheme: Scheme, example):
    # Table order matters: no earlier row may claim another row's example.
    earlier = TABLE[: TABLE.index(scheme)]
    assert not [s.id for s in earlier if s.matches(example.url)]


# ---------------------------------------------------------------------------------------
# Chains
# ---------------------------------------------------------------------------------------

S3 = "https://substack-post-media.s3.amazonaws.com/public/images/0f2d4c6e-1a3b-4c5d-8e9f-a0b1c2d3e4f5_1262x768.png"


def ids(result: Unwrapped) -> list[str]:
    return [step.scheme_id for step in result.chain]


def test_chain_omnivore_substack_s3():
    result = unwrap(omnivore(substack(S3), size="1262x768"))
    assert ids(result) == ["omnivore", "substack_fetch"]
    assert result.original == S3
    assert result.dead and result.changed and not result.opaque and not result.placeholder
    assert result.chain[0].url_out == result.chain[1].url_in == substack(S3)
    assert [s.status for s in result.chain] == ["dead", "live"]


def test_chain_omnivore_camo_hex():
    target = "https://raw.example-docs.org/img/flow.svg?sanitize=true"
    result = unwrap(omnivore(camo_hex(target)))
    assert ids(result) == ["omnivore", "github_camo"]
    assert result.original == target


def test_chain_omnivore_photon_medium():
    url = omnivore("https://i0.wp.com/miro.medium.com/v2/resize:fit:1400/1*Qm7xT2vLr9KpD3aWc8ZfHg.png"
                   "?resize=840%2C560&ssl=1", size="840x560")
    result = unwrap(url)
    assert ids(result) == ["omnivore", "wordpress_photon", "medium_resize"]
    assert result.chain[1].url_out == "https://miro.medium.com/v2/resize:fit:1400/1*Qm7xT2vLr9KpD3aWc8ZfHg.png"
    assert result.original == "https://miro.medium.com/v2/1*Qm7xT2vLr9KpD3aWc8ZfHg.png"


@pytest.mark.parametrize("query, expected", [
    ("?ssl=1", "https://img.example.com/a.png"),
    ("?ssl=0", "http://img.example.com/a.png"),
    ("", "http://img.example.com/a.png"),
    ("?w=300&h=200&zoom=2&quality=80&strip=all&v=7&ssl=1", "https://img.example.com/a.png?v=7"),
    ("?crop=0,0,100,100&resize=10%2C10", "http://img.example.com/a.png?crop=0,0,100,100"),
])
def test_photon_scheme_and_parameters(query, expected):
    assert unwrap(f"https://i3.wp.com/img.example.com/a.png{query}").original == expected


def test_chain_duckduckgo_photon():
    url = ddg("https://i0.wp.com/www.example-garden.org/wp-content/uploads/2022/04/tulips.jpg?resize=800%2C600&ssl=1")
    result = unwrap(url)
    assert ids(result) == ["duckduckgo", "wordpress_photon"]
    assert result.original == "https://www.example-garden.org/wp-content/uploads/2022/04/tulips.jpg"
    assert not result.dead


def test_chain_pocket_double_encoded_inside_img_getpocket():
    inner = "https://pocket-syndicated-images.s3.amazonaws.com/articles/7781/1712345678_cover.jpg"
    pocket_url = pocket(inner)
    outer = ("https://img-getpocket.cdn.mozilla.net/296x148/filters:format(jpeg):quality(60):no_upscale():"
             "strip_exif()/" + quote(pocket_url, safe=""))
    assert "https%253A%252F%252Fpocket-syndicated-images" in outer  # really double encoded
    result = unwrap(outer)
    assert ids(result) == ["pocket_thumbor", "pocket_thumbor"]
    assert result.chain[0].url_out == pocket_url
    assert result.original == inner
    assert result.dead


def test_whole_url_double_encoded_is_decoded_twice():
    target = "https://cdn.example.org/a b/c.png?x=1"
    once = quote(target, safe="")
    url = f"https://substackcdn.com/image/fetch/w_600/{quote(once, safe='')}"
    assert unwrap(url).original == "https://cdn.example.org/a%20b/c.png?x=1"


def test_percent_encoding_inside_the_original_is_kept():
    target = "https://search.example.com/img?q=a%2Fb&next=https%3A%2F%2Fother.example%2F"
    assert unwrap(omnivore(target)).original == target
    assert unwrap(substack(target)).original == target


# ---------------------------------------------------------------------------------------
# Escaping, placeholders, opaque layers, depth
# ---------------------------------------------------------------------------------------


def test_html_escaped_input():
    given_url = mustache_escape(omnivore("https://i0.wp.com/img.example.net/a.png?resize=840%2C560&ssl=1"))
    assert given_url.startswith("https:&#x2F;&#x2F;proxy-prod.omnivore-image-cache.app&#x2F;0x0,s")
    result = unwrap(given_url)
    assert result.chain[0].url_in == given_url  # as given, so the caller can find it in the text
    assert result.chain[0].url_out == "https://i0.wp.com/img.example.net/a.png?resize=840%2C560&ssl=1"
    assert result.original == "https://img.example.net/a.png"


def test_unescaping_leaves_legacy_entity_names_in_queries_alone():
    # html.unescape would turn "&copy=2" into "©=2".
    result = unwrap(omnivore("https://x.example.com/a.png?lang=en&copy=2&reg=3&amp;not=4"))
    assert result.original == "https://x.example.com/a.png?lang=en&copy=2&reg=3&not=4"


def test_unescaped_url_without_proxy_is_returned_as_given():
    escaped = "https:&#x2F;&#x2F;example.com&#x2F;a.png"
    result = unwrap(escaped)
    assert result.original == escaped and result.chain == () and not result.changed


def test_proxied_data_url_is_a_placeholder():
    svg = ("data:image/svg+xml;utf8,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22"
           "%20width%3D%22840%22%20height%3D%22472%22%3E%3C%2Fsvg%3E")
    result = unwrap(omnivore(svg))
    assert result.placeholder and result.original == svg and result.dead
    escaped = unwrap(mustache_escape(omnivore(svg)))
    assert escaped.placeholder and escaped.original == svg


def test_proxied_tco_link_is_a_placeholder():
    result = unwrap(omnivore("https://t.co/Ab12Cd34Ef"))
    assert result.placeholder and result.original == "https://t.co/Ab12Cd34Ef"


def test_bare_data_url_and_tco_are_not_placeholders():
    for url in ("data:image/png;base64,iVBORw0KGgo=", "https://t.co/Ab12Cd34Ef"):
        result = unwrap(url)
        assert not result.placeholder and not result.chain and result.original == url


def test_opaque_layers():
    lh3 = "https://lh3.googleusercontent.com/proxy/Xj3kL9mQ2pR7sT1vW5yZ8bC4dF6gH0jK=s0-d"
    result = unwrap(lh3)
    assert result.original is None and result.opaque and not result.changed
    assert result.chain == (Step("google_proxy_token", "opaque", lh3, None),)

    nested = unwrap(ddg(lh3))
    assert ids(nested) == ["duckduckgo", "google_proxy_token"]
    assert nested.original is None and nested.opaque
    assert nested.chain[-1].url_in == lh3

    for url in ("https://th.bing.com/th?id=OIP.Ab12Cd34&w=300&h=200&c=7",
                "https://external-preview.redd.it/AbCdEf0123.jpg?auto=webp&s=00ff",
                "https://readwise-assets.s3.amazonaws.com/media/reader/parsed_document_assets/4242/x-y.png"):
        assert unwrap(url).opaque and unwrap(url).original is None


def test_gmail_proxy_without_target_is_opaque_with_target_decodes():
    token = "https://ci4.googleusercontent.com/meips/ADKq_NaBcDeFgHiJ=s0-d-e1-ft"
    assert unwrap(token).opaque
    assert unwrap(token + "#https://mail.example.org/logo.png").original == "https://mail.example.org/logo.png"


def test_max_depth_limits_the_chain():
    url = omnivore(ddg(camo_hex("https://deep.example.org/a.png")))
    assert len(unwrap(url).chain) == 3
    limited = unwrap(url, max_depth=2)
    assert ids(limited) == ["omnivore", "duckduckgo"]
    assert limited.original == camo_hex("https://deep.example.org/a.png")
    assert unwrap(url, max_depth=0) == Unwrapped(url, (), False, False, False)


# ---------------------------------------------------------------------------------------
# Look-alikes must not match
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "https://example.com/0x0/photo.png",
    "https://example.com/0x0,s123/https://example.org/a.png",
    f"https://example.com/0x0,s{SIG}/not-a-url",
    "https://blog.example.com/posts/image/fetch/https%3A%2F%2Fexample.org%2Fa.png",
    "https://wp.com/example.com/a.png?ssl=1",
    "https://i4.wp.com/example.com/a.png?ssl=1",
    "https://s0.wp.com/wp-content/themes/pub/a.png",
    "https://c0.wp.com/c/6.4.2/wp-includes/images/media/default.png",
    "https://i0.wp.com/",
    "https://github.com/owner/repo/raw/main/docs/diagram.png",
    "https://raw.githubusercontent.com/owner/repo/main/68747470733a2f2f.png",
    "https://user-images.githubusercontent.com/1234/5678-abcd.png",
    "https://camo.githubusercontent.com/not-a-hash/68747470733a2f2f",
    f"https://camo.githubusercontent.com/{HMAC40}/68656c6c6f",  # hex of "hello": not a URL
    "https://substackcdn.com/image/youtube/w_728,c_limit/dQw4w9WgXcQ",
    "https://substackcdn.com/image/fetch/w_1456/not-a-url",
    "https://example.com/_next/static/media/logo.png",
    "https://example.com/_next/image?w=640&q=75",
    "https://example.com/proxy/settings",
    "https://example.com/cdn-cgi/image/width=80",
    "https://example.com/plain/text.txt",
    "https://duckduckgo.com/?q=harbour+boats&iax=images&ia=images",
    "https://www.inoreader.com/article/3a9c6e5f",
    "https://www.inoreader.com/camo/s1,b64/aGVsbG8gd29ybGQ",  # base64 of "hello world"
    "https://miro.medium.com/v2/1*GbshlGqHAi8agfGLEi-Y2g.jpeg",
    "https://medium.com/@someone/a-post-1234abcd",
    "https://steemit.com/0x0/https://example.org/a.png",
    "https://workers.dev/?https://example.org/a.png",
    "https://wsrv.nl/docs/",
    "https://example.cdn.ampproject.org/c/s/example.com/article.html",
    "https://lh3.googleusercontent.com/a/ACg8ocK0abcdef=s96-c",
    "https://th.bing.com/sa/simg/favicon.ico",
    "https://preview.redd.it/abcdef.png?width=640",
    "https://readwise-assets.s3.amazonaws.com/static/images/article3.5c705a01b476.png",
    "https://web.archive.org/web/2020/https://example.org/a.png",
    "not a url",
    "",
])
def test_lookalikes_do_not_match(url):
    result = unwrap(url)
    assert result.chain == () and result.original == url
    assert not (result.changed or result.dead or result.opaque or result.placeholder)


def test_prefilter_skips_table_rows_for_ordinary_urls():
    assert TABLE.candidates("https://example.com/a.png") == ()
    assert [s.id for s in TABLE.candidates(omnivore("https://example.com/a.png"))][0] == "omnivore"


# ---------------------------------------------------------------------------------------
# Whole-document prefilter
# ---------------------------------------------------------------------------------------


def test_looks_proxied():
    plain = "# Notes\n\n![](https://example.com/a.png)\n\nSee [docs](https://docs.example.org/x?a=1&b=2).\n"
    assert not looks_proxied(plain)
    assert looks_proxied(plain + f"![]({omnivore('https://example.com/b.png')})\n")
    assert looks_proxied(plain + mustache_escape(f"![](https://blog.example.dev/_next/image?url=%2Fa.png)"))
    decimal = "![](https:&#47;&#47;blog.example.dev&#47;_next&#47;image?url=%2Fa.png&w=64)"
    assert looks_proxied(plain + decimal)
    assert unwrap(decimal[4:-1]).original == "https://blog.example.dev/a.png"
    assert looks_proxied(plain.upper() + "![](HTTPS://I0.WP.COM/EXAMPLE.COM/A.PNG)")
    assert all(n == n.lower() for n in prefilter_needles())


def test_grouped_needles_answer_as_every_needle_alone():
    # each group's key is in each of its needles, and every needle is in a group: the
    # grouped test says yes exactly when one needle is in the text
    from tidymark.proxies import load_schemes

    table = load_schemes()
    grouped = [n for _, ns in table.needle_groups for n in ns]
    assert sorted(grouped) == sorted(table.needles)
    assert all(key in n for key, ns in table.needle_groups for n in ns)
    shared = [k for k, ns in table.needle_groups if len(ns) > 1]  # keys that are not needles themselves
    assert len(shared) >= 3
    for n in table.needles:
        assert looks_proxied(f"x {n.upper()} y")
        assert looks_proxied(f"x {n[:-1]} y") == any(m in f"x {n[:-1]} y" for m in table.needles)
    assert not looks_proxied(" ".join(shared).replace("&", "&amp;") + " plain")


# ---------------------------------------------------------------------------------------
# User-added schemes
# ---------------------------------------------------------------------------------------


def test_extra_scheme_is_tried_and_wins_over_generic_rows():
    table = load_schemes(extra=[row()])
    assert table[0].id == "my_proxy" and len(table) == len(TABLE) + 1
    url = "https://img.example.net/fetch?src=https%3A%2F%2Fa.example.org%2Fb.png"
    result = unwrap(url, table)
    assert ids(result) == ["my_proxy"] and result.original == "https://a.example.org/b.png"
    assert unwrap(url).chain == ()  # the built-in table is not modified
    assert load_schemes() is TABLE
    # nested inside a built-in scheme
    assert ids(unwrap(omnivore(url), table)) == ["omnivore", "my_proxy"]


def test_extra_scheme_with_the_same_id_replaces_the_row_in_place():
    self_hosted_dead = {**{k: v for k, v in row().items() if k not in ("decode", "params")},
                        "id": "willnorris_imageproxy", "status": "dead", "markers": ["/http"],
                        "hosts": [], "decode": "verbatim",
                        "pattern": TABLE.by_id("willnorris_imageproxy").pattern.pattern}
    table = load_schemes(extra=[self_hosted_dead])
    assert len(table) == len(TABLE)
    assert table.index(table.by_id("willnorris_imageproxy")) == TABLE.index(TABLE.by_id("willnorris_imageproxy"))
    url = f"https://images.example.home/0x0,s{SIG2}/https://example.org/a.png"
    assert unwrap(url).chain[0].status == "unknown"
    assert unwrap(url, table).dead


def test_schemes_argument_accepts_a_plain_sequence():
    only_camo = [TABLE.by_id("github_camo")]
    url = omnivore(camo_hex("https://example.org/a.png"))
    assert unwrap(url, only_camo).chain == ()
    assert unwrap(camo_hex("https://example.org/a.png"), only_camo).original == "https://example.org/a.png"


def test_table_from_a_yaml_file(tmp_path):
    path = tmp_path / "proxies.yaml"
    path.write_text(textwrap.dedent(r"""
        version: 1
        schemes:
          - id: relay
            name: Relay
            status: dead
            hosts: ['*.relay.example']
            pattern: '^https://[a-z]+\.relay\.example/r/(?P<rest>.+)$'
            decode: base64url
            examples: []
    """), encoding="utf-8")
    table = load_schemes(path)
    encoded = base64.urlsafe_b64encode(b"https://cdn.example.org/z.png").decode()
    result = unwrap(f"https://eu.relay.example/r/{encoded}", table)
    assert result.original == "https://cdn.example.org/z.png" and result.dead


def test_cycles_and_endless_growth_terminate():
    loop = [
        row(id="to_b", hosts=["a.example"], pattern=r"^https://a\.example/(?P<p>.*)$",
            decode="template", params={"template": "https://b.example/{p}"}),
        row(id="to_a", hosts=["b.example"], pattern=r"^https://b\.example/(?P<p>.*)$",
            decode="template", params={"template": "https://a.example/{p}"}),
        row(id="grow", hosts=["c.example"], pattern=r"^https://c\.example/(?P<p>.*)$",
            decode="template", params={"template": "https://c.example/{p}x"}),
    ]
    table = load_schemes(extra=loop)
    cyc = unwrap("https://a.example/p", table)
    assert ids(cyc) == ["to_b"] and cyc.original == "https://b.example/p"
    grown = unwrap("https://c.example/p", table, max_depth=7)
    assert len(grown.chain) == 7 and grown.original == "https://c.example/pxxxxxxx"


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides, field, message", [
    ({"colour": "red"}, "colour", "unknown key"),
    ({"name": ...}, "name", "missing"),
    ({"pattern": ...}, "pattern", "missing"),
    ({"status": "zombie"}, "status", "must be one of"),
    ({"id": "Bad Id"}, "id", "lower case"),
    ({"pattern": r"^https://(unclosed"}, "pattern", "bad regular expression"),
    ({"decode": "rot13"}, "decode", "unknown decoder"),
    ({"decode": ...}, "decode", "missing"),
    ({"status": "opaque"}, "decode", "opaque row cannot be decoded"),
    ({"decode": "hex"}, "pattern", "named group"),
    ({"params": {"param": "src", "colour": 1}}, "params", "unknown parameter"),
    ({"params": {"param": 3}}, "params", "wrong type"),
    ({"params": {}}, "params", "needs parameter 'param'"),
    ({"params": {"param": "src", "base": "page"}}, "params", "base must be one of"),
    ({"decode": "template", "params": {"template": "https://x.example/{nope}"}}, "params", "not a named group"),
    ({"hosts": []}, "hosts", "needs hosts or markers"),
    ({"hosts": ["https://img.example.net/"]}, "hosts", "not a host name"),
    ({"markers": ["has space"]}, "markers", "white space"),
    ({"examples": [{"url": "https://img.example.net/fetch?src=x"}]}, "examples", "keys url and original"),
    ({"examples": [{"url": "https://img.example.net/fetch?src=x", "original": None}]}, "examples", "original"),
])
def test_invalid_rows_name_the_scheme_and_field(overrides, field, message):
    with pytest.raises(ValueError) as info:
        load_schemes(extra=[row(**overrides)])
    text = str(info.value)
    assert f"field {field!r}" in text and message in text
    if overrides.get("id", "my_proxy") == "my_proxy":
        assert "'my_proxy'" in text


def test_invalid_rows_without_id_are_named_by_position():
    with pytest.raises(ValueError, match=r"#2 in extra.*field 'id': missing"):
        load_schemes(extra=[row(id="first"), row(id=...)])


def test_duplicate_ids_are_rejected():
    with pytest.raises(ValueError, match=r"'twin'.*duplicate"):
        load_schemes(extra=[row(id="twin"), row(id="twin")])


def test_invalid_table_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schemes:\n  - id: x\n    name: X\n    status: live\n    hosts: [a.example]\n"
                   "    pattern: '^https://a\\.example/(?P<rest>.+)$'\n    decode: verbatim\n    extra_key: 1\n")
    with pytest.raises(ValueError, match=r"'x': field 'extra_key': unknown key"):
        load_schemes(bad)
    top = tmp_path / "top.yaml"
    top.write_text("rows: []\n")
    with pytest.raises(ValueError, match="unknown top-level key 'rows'"):
        load_schemes(top)


# ---------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------

MB = 1_000_000
BIG_URLS = {
    "long path": "https://example.com/" + "a" * MB,
    "many segments": "https://example.com" + "/a" * (MB // 2),
    "omnivore long target": omnivore("https://example.org/" + "b" * MB),
    "repeated options": f"{OMNIVORE}/0x0" + f",s{SIG}" * (MB // 45),
    "repeated size segments": "https://h.example" + f"/0x0,s{SIG}/http" * (MB // 54),
    "odd hex": f"https://camo.githubusercontent.com/{HMAC40}/" + "6" * MB + "g",
    "base64 pieces": "https://imgproxy.example/insecure/aHR0c" + "QUFB/" * (MB // 5) + "!",
    "markers everywhere": "https://h.example" + "/proxy/plain/_next/image/cdn-cgi/image/aHR0c" * (MB // 44),
    "query separators": ddg("https://example.org/a.png") + "&" * MB,
    "photon query": "https://i0.wp.com/a.example/b.png?" + "w=1&" * (MB // 4),
    "escaped": mustache_escape(omnivore("https://example.org/" + "c/" * (MB // 2))),
    "long host": omnivore("https://" + "a-" * (MB // 2) + ".example/x.png"),
}


@pytest.mark.parametrize("name", list(BIG_URLS))
def test_megabyte_urls_complete(name):
    url = BIG_URLS[name]
    result = unwrap(url)
    assert isinstance(result, Unwrapped)
    # every pattern, not only those the prefilter selects
    for scheme in TABLE:
        scheme.matches(url)
    if name in ("omnivore long target", "escaped"):
        assert result.changed and result.original.startswith("https://example.org/")


FRAGMENTS = st.sampled_from([
    "https://", "http://", "/", "?", "#", "&", "=", "%3A", "%2F", "%253A", "&#x2F;", "&amp;",
    "proxy-prod.omnivore-image-cache.app", "0x0,s" + SIG, "substackcdn.com/image/fetch/",
    "i0.wp.com", "ssl=1", "camo.githubusercontent.com/" + HMAC40, "6874747073", "aHR0cHM6Ly9",
    "_next/image?url=", "cdn-cgi/image/w=1", "external-content.duckduckgo.com/iu/?u=", "t.co",
    "data:", "example.org", ".cdn.ampproject.org/i/s/", "/plain/", "/proxy/", ",b64/",
    "pocket-image-cache.com", "filters:x", "direct?url=", "lh3.googleusercontent.com/proxy/",
])
URLISH = st.lists(FRAGMENTS | st.text(max_size=6), max_size=25).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | URLISH)
def test_unwrap_never_raises_and_terminates(text):
    result = unwrap(text)
    assert len(result.chain) <= 10
    if result.chain:
        assert result.chain[0].url_in == text
        for before, after in zip(result.chain, result.chain[1:]):
            assert before.url_out == after.url_in
    if result.changed:
        assert result.original.startswith(("http://", "https://", "data:"))
    else:
        assert result.original in (text, None)


WRAPPERS = {
    "omnivore": omnivore,
    "github_camo": camo_hex,
    "duckduckgo": ddg,
    "substack_fetch": substack,
    "pocket_thumbor": pocket,
    "pocket_direct": pocket_direct,
    "inoreader_camo": inoreader,
}
ORIGINS = st.builds(
    lambda scheme, labels, tld, path, query: f"{scheme}://{'.'.join(labels)}.{tld}/{path}{query}",
    st.sampled_from(["http", "https"]),
    st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, max_size=3),
    st.sampled_from(["com", "org", "net", "cn", "io"]),
    st.from_regex(r"[A-Za-z0-9._~/-]{0,30}", fullmatch=True),
    st.sampled_from(["", "?a=1", "?a=1&b=x%2Fy", "?s=48&d=retro", "#frag"]),
)


@settings(max_examples=300, deadline=None)
@given(ORIGINS, st.lists(st.sampled_from(sorted(WRAPPERS)), min_size=1, max_size=5), st.booleans())
def test_wrapping_then_unwrapping_round_trips(origin, layers, escape):
    assume(not unwrap(origin).chain)
    url = origin
    for layer in layers:
        url = WRAPPERS[layer](url)
    given_url = mustache_escape(url) if escape else url
    result = unwrap(given_url)
    assert result.original == origin
    assert ids(result) == layers[::-1]
    assert result.dead == any(layer in ("omnivore", "pocket_thumbor", "pocket_direct") for layer in layers)
    assert result.chain[0].url_in == given_url
    assert looks_proxied(f"text before ![]({given_url}) and after")


def test_any_signature_length_decodes_when_the_original_follows_the_size_segment():
    for sig in ("TooShortSignature", SIG + "Xy", "A"):
        result = unwrap(omnivore("https://example.com/a.png", sig=sig))
        assert result.dead and result.original == "https://example.com/a.png" and not result.opaque


@pytest.mark.parametrize("url", [
    f"{OMNIVORE}/0x0,s{SIG}/not a url at all",
    f"{OMNIVORE}/0x0,s{SIG}/https://nodot/a.png",
    f"{OMNIVORE}/https://example.com/a.png",          # no size segment
    f"{OMNIVORE}/",
    "https://proxy-demo.omnivore-image-cache.app/x",
    "https://pocket-image-cache.com/direct?resize=w880",
    "https://pocket-image-cache.com/1200x/filters:format(jpg)/not-a-url",
    "https://img-getpocket.cdn.mozilla.net/whatever.png",
])
def test_any_other_url_on_a_dead_host_is_an_opaque_dead_layer(url):
    result = unwrap(url)
    assert result.dead and result.opaque and result.original is None
    assert len(result.chain) == 1 and result.chain[0].status == "dead" and result.chain[0].url_out is None


def test_a_dead_host_inside_a_live_proxy_is_dead_too():
    inner = f"{OMNIVORE}/0x0,s{SIG}/not-a-url"
    result = unwrap("https://wsrv.nl/?url=" + inner.replace(":", "%3A").replace("/", "%2F"))
    assert result.dead and result.opaque and [s.status for s in result.chain] == ["live", "dead"]


def test_lookalike_hosts_of_dead_services_are_not_dead():
    for url in ("https://omnivore-image-cache.app/0x0/https://example.com/a.png",
                "https://proxy-prod.omnivore-image-cache.app.example.com/a.png",
                "https://example.com/proxy-prod.omnivore-image-cache.app/a.png"):
        result = unwrap(url)
        assert not result.dead and result.chain == ()


def test_site_path_resolved_against_tco_is_not_a_placeholder():
    from tidymark.proxies import misresolved_path, rebase

    result = unwrap(omnivore("https://t.co/images/figure-1.png"))
    assert result.dead and not result.placeholder and result.original == "https://t.co/images/figure-1.png"
    assert misresolved_path(result.original) == "/images/figure-1.png"
    assert rebase("/images/figure-1.png?w=2", "https://blog.example.org/posts/a?utm=1") \
        == "https://blog.example.org/images/figure-1.png?w=2"
    for short in ("https://t.co/Ab12Cd34Ef", "https://t.co/Ab12Cd34Ef?amp=1", "https://t.co/"):
        assert misresolved_path(short) is None
    assert misresolved_path("https://example.org/images/a.png") is None
    assert rebase("/a.png", "ftp://example.org/x") is None
