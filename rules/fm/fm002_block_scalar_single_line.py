from __future__ import annotations

import re
from dataclasses import dataclass

from tidymark.diagnostics import Edit, Fix
from tidymark.frontmatter import scalar_text
from tidymark.rule import FixAvailability, Rule
from tidymark.source import Span

_INDICATOR_LINE = re.compile(r"^[|>][1-9+-]{0,2}[ \t]*$")


class BlockScalarSingleLine(Rule):
    """A single-line field written as a block scalar carries a trailing newline.

    ## What it does
    Finds front-matter fields that hold one line of text, such as `title` or `author`,
    written as a literal (`|`) or folded (`>`) block scalar.  Such a value ends with a
    newline character, because that is what `|` and `>` mean.

    Web clippers produce this when a template value ends with a newline: Obsidian's
    `stringifyYaml` then writes it back as a block scalar (the Omnivore plugin's
    `title: |` is the common case).

    ## Why is this bad?
    The newline becomes part of the value: page titles, `<title>` tags, search results,
    file names built from the title and comparisons with the body heading all get a stray
    line break.

    ## Example
    ```markdown
    ---
    title: |
      Subsidies cannot buy loyalty
    ---
    ```

    Use instead:
    ```markdown
    ---
    title: Subsidies cannot buy loyalty
    ---
    ```

    ## Fix safety
    Safe: the fix rewrites only that value, on one line, as a plain scalar when it reads
    back as exactly the same text under both YAML 1.1 and 1.2 readers, and as a
    double-quoted scalar otherwise.  The only change in meaning is the removed trailing
    newline; blanks or tabs ending the line are part of the value and go inside the quotes
    (`title: "Hello\t"`), so the result is valid YAML for every reader.  No fix is offered
    when a comment follows the block indicator.

    ## Options
    - `keys`: the fields that must hold a single line (default: `title`, `author`,
      `subtitle`, `description`, `summary`, `date`, `site`, `site_name`, `source`, `url`,
      `original_url`, `slug`, `category`, `lang`, `publisher`)
    """

    code = "FM002"
    name = "block-scalar-single-line"
    summary = "Single-line field is a block scalar, so its value ends with a newline"
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "safe"
    needs_any = (": |", ": >", ":|", ":>")

    @dataclass(frozen=True)
    class Options:
        keys: tuple[str, ...] = ("title", "author", "subtitle", "description", "summary", "date", "site",
                                 "site_name", "source", "url", "original_url", "slug", "category", "lang",
                                 "publisher")

    def check(self, doc):
        fm = doc.front_matter
        if fm is None or fm.kind != "yaml" or fm.node is None:
            return
        keys = {k.lower() for k in self.options.keys}
        text = doc.text
        for e in fm.top():
            if e.key.lower() not in keys or not e.is_scalar or e.style not in ("|", ">"):
                continue
            if e.value_tag not in ("", "tag:yaml.org,2002:str"):
                continue
            value = e.scalar.replace("\x07", "")
            if not value.endswith("\n") or "\n" in value.rstrip("\n") or not value.strip():
                continue
            reader = fm.values.get(e.key)
            if isinstance(reader, str) and reader.rstrip("\n") == value.rstrip("\n"):
                value = reader
            clean = value.rstrip("\n")
            raw = text[e.value_span.start:e.value_span.end]
            first_line = raw.split("\n", 1)[0].rstrip("\r")
            fix = None
            if _INDICATOR_LINE.match(first_line):
                # through the end of the value's line: trailing blanks and tabs on it are
                # part of the value (and are written inside the quotes), not left behind
                stripped = len(raw.rstrip())
                line_end = raw.find("\n", stripped)
                end = e.value_span.start + (len(raw) if line_end == -1 else line_end)
                if raw[:end - e.value_span.start].endswith("\r"):
                    end -= 1
                fix = Fix.safe(f"Write `{e.key}` on one line", Edit(Span(e.value_span.start, end), scalar_text(clean)))
            yield self.diagnostic(Span(e.key_span.start, e.value_span.start + 1),
                                  f"`{e.key}` is a block scalar (`{first_line.strip()[:1]}`), so its value ends with a newline",
                                  fix=fix)
