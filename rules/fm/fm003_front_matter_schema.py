from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from tidymark.rule import FixAvailability, Rule
from tidymark.rules.fm._schema import PRESETS, schema_diagnostics


class FrontMatterSchema(Rule):
    """Front-matter key differs from the vault's chosen schema.

    ## What it does
    Opt-in.  Maps the keys different clippers write onto one set of keys: with the default
    `web-clipper` preset, Obsidian Web Clipper's (`title`, `source`, `author`, `published`,
    `created`, `description`, `tags`) — Omnivore's `url` / `date_published` / `date_saved`,
    MarkDownload's and SimpRead's `url`, Readwise's and feed tools' `publishDate`, scrapers'
    `upstream_url` / `captured_at`, `summary`, `keywords`.  The `map` option adds or overrides
    renames (`{"date": "published"}`); a rule pack of kind `schema` does the same without
    Python.

    ## Why is this bad?
    A vault assembled from several services, some of them gone, names the same fact five
    ways: a Dataview query, Quartz or Hugo reads one name and misses the rest.

    ## Example
    ```markdown
    ---
    title: Rivers
    url: https://example.org/rivers
    date_published: 2024-03-03
    ---

    Rivers carve valleys slowly.
    ```

    Use instead:
    ```markdown
    ---
    title: Rivers
    source: https://example.org/rivers
    published: 2024-03-03
    ---

    Rivers carve valleys slowly.
    ```

    ## Fix safety
    Safe: only the key's name is replaced; its value, quoting, comments and the key order stay
    byte for byte.  A key whose new name is already used is not renamed: when both hold the
    same value the old key is removed (unsafe), otherwise the rule only reports it.  TOML and
    JSON front matter are not edited.

    ## Options
    - `preset`: the built-in mapping to start from: `web-clipper` (default) or `none`
    - `map`: extra renames, old key to new key, e.g. `{"date": "published"}`
    """

    code = "FM003"
    name = "front-matter-schema"
    summary = "Front-matter key differs from the chosen schema"
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe/unsafe"
    enabled_by_default = False

    @dataclass(frozen=True)
    class Options:
        preset: Literal["web-clipper", "none"] = "web-clipper"
        map: dict[str, str] = None  # type: ignore[assignment]

    @cached_property
    def _mapping(self) -> dict[str, str]:
        preset = self.options.preset
        mapping = dict(PRESETS.get(preset, {}))
        mapping.update({str(k): str(v) for k, v in (self.options.map or {}).items()})
        return mapping

    def check(self, doc):
        yield from schema_diagnostics(self, doc, self._mapping)
