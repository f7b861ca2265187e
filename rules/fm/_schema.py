"""Front-matter schemas: one set of keys for notes saved by different clippers.

A schema maps the keys one clipper writes onto the keys a user reads (Dataview, Quartz, Hugo):
``date_published`` (Omnivore) → ``published``, ``date_saved`` → ``created``, ``url`` → ``source``.
:func:`schema_diagnostics` renames a key in place — only the key's text is replaced, so the
value, its quoting, comments and key order stay as they are.  Used by FM003 (with a built-in
preset) and by rule packs of kind ``schema`` (a user's own mapping).
"""

from __future__ import annotations

from tidymark.diagnostics import Edit, Fix, FixKind

# Obsidian Web Clipper's default properties: title, source, author, published, created,
# description, tags.  The keys other clippers and tools write for the same facts:
PRESETS: dict[str, dict[str, str]] = {
    "web-clipper": {
        # source URL: Omnivore `url`/`omnivore_url_original`, MarkDownload `url`/`source_url`,
        # Readwise `url`, SimpRead `url`/`origin`, scrapers' `upstream_url`/`original_url`
        "url": "source", "original_url": "source", "source_url": "source", "upstream_url": "source",
        "omnivore_url_original": "source", "canonical_url": "source", "link": "source", "origin": "source",
        # publish date: Omnivore `date_published`, Hugo/Jekyll feeds `publishDate`/`pubDate`
        "date_published": "published", "publish_date": "published", "publishDate": "published",
        "pubDate": "published", "pubdate": "published", "date_posted": "published",
        # save date: Omnivore `date_saved`, SimpRead `create`/`created_at`, scrapers' `captured_at`
        "date_saved": "created", "saved": "created", "date_created": "created", "created_at": "created",
        "captured_at": "created", "clipped": "created", "date_clipped": "created",
        # the rest
        "authors": "author", "creator": "author", "byline": "author",
        "summary": "description", "excerpt": "description",
        "tag": "tags", "keywords": "tags",
    },
}


def _same(a, b) -> bool:
    return a == b or (isinstance(a, str) and isinstance(b, str) and a.strip() == b.strip())


def schema_diagnostics(rule, doc, mapping: dict[str, str], safe: bool = True):
    """Diagnostics (with rename fixes) for top-level YAML keys ``mapping`` renames.

    A key is renamed when its new name is free; when the new name already holds the same
    value the old key is removed (an unsafe fix: the reader's duplicate goes); a different
    value is reported without a fix."""
    fm = doc.front_matter
    if fm is None or fm.kind != "yaml" or not fm.closed or fm.error is not None or fm.node is None:
        return
    values = fm.values
    present = {e.key for e in fm.top()}
    # keys whose value repeats a key inside it: renaming them would move a duplicate (FM001's)
    seen: set = set()
    dup_under: set[str] = set()
    for e in fm.entries:
        if e.path and (e.path, e.key) in seen:
            dup_under.add(str(e.path[0]))
        seen.add((e.path, e.key))
    taken = set(present)
    for entry in fm.top():
        new = mapping.get(entry.key)
        if new is None or new == entry.key or entry.key in dup_under:
            continue
        if new in taken:
            if new in values and entry.key in values and _same(values[new], values[entry.key]):
                if entry.key_starts_line:
                    yield rule.diagnostic(entry.key_span, f"`{entry.key}` repeats `{new}` (schema)",
                                          fix=Fix.unsafe(f"Remove `{entry.key}`", fm.delete_entry(entry),
                                                         kind=FixKind.FRONT_MATTER))
                continue
            yield rule.diagnostic(entry.key_span, f"`{entry.key}` is `{new}` in the schema, and `{new}` "
                                                  f"holds another value")
            continue
        if not entry.key_starts_line:
            yield rule.diagnostic(entry.key_span, f"`{entry.key}` is `{new}` in the schema")
            continue
        taken.add(new)
        title = f"Rename `{entry.key}` to `{new}`"
        edit = Edit(entry.key_span, new)
        fix = Fix.safe(title, edit, kind=FixKind.FRONT_MATTER) if safe else \
            Fix.unsafe(title, edit, kind=FixKind.FRONT_MATTER)
        yield rule.diagnostic(entry.key_span, f"`{entry.key}` is `{new}` in the schema", fix=fix)
