from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from tidymark.diagnostics import Fix, FixKind
from tidymark.rule import FixAvailability, Rule


_KEY = re.compile(r"^([ \t]*(?:- )?)([^\s#'\"{\[][^:\n]*?|\"[^\"\n]*\"|'[^'\n]*'):(?:[ \t]|$)", re.M)


def _may_repeat(content: str) -> bool:
    """Cheap pre-check: does any (indentation, key) pair occur twice?  Only then compose."""
    seen = set()
    for m in _KEY.finditer(content):
        key = (len(m.group(1)), m.group(2).strip("'\""))
        if key in seen:
            return True
        seen.add(key)
    return False


class DuplicateKey(Rule):
    """Front matter defines the same key more than once.

    ## What it does
    Finds keys that appear more than once in the same front-matter mapping, at any nesting
    level, and reports every repeat with the line of the occurrence that is kept.

    ## Why is this bad?
    YAML requires unique keys, and tools disagree about duplicates: PyYAML-based readers
    (python-frontmatter, many static-site generators) keep the *last* value, ruamel.yaml
    rejects the document, Obsidian shows the first.  What a reader sees depends on the tool.

    ## Example
    ```markdown
    ---
    title: Draft title
    title: Final title
    ---
    ```

    Use instead:
    ```markdown
    ---
    title: Draft title
    ---
    ```

    ## Fix safety
    Unsafe: which value the author meant cannot be known.  The fix keeps the occurrence
    chosen by `keep` (default `first`) and removes the other lines, touching nothing else.

    ## Options
    - `keep`: `"first"` | `"last"` (default `"first"`)
    """

    code = "FM001"
    name = "duplicate-key"
    summary = "Front matter key is defined more than once"
    fix_availability = FixAvailability.SOMETIMES
    fix_safety = "unsafe"

    @dataclass(frozen=True)
    class Options:
        keep: Literal["first", "last"] = "first"

    def check(self, doc):
        fm = doc.front_matter
        if fm is None or fm.kind != "yaml" or not _may_repeat(fm.content) or fm.node is None:
            return
        groups: dict[tuple, list] = {}
        for e in fm.entries:
            groups.setdefault((e.path, e.key), []).append(e)
        keep_first = self.options.keep == "first"
        for (path, key), entries in groups.items():
            if len(entries) < 2:
                continue
            kept = entries[0] if keep_first else entries[-1]
            kept_line = doc.position(kept.key_span.start)[0]
            where = ".".join(str(p) for p in (*path, key))
            for e in entries:
                if e is kept:
                    continue
                fix = None
                if e.key_starts_line and all(x.key_starts_line for x in entries):
                    fix = Fix.unsafe(f"Remove this `{where}`, keep the one on line {kept_line}",
                                     fm.delete_entry(e), kind=FixKind.FRONT_MATTER)
                yield self.diagnostic(
                    e.key_span, f"Duplicate front-matter key `{where}` (the one on line {kept_line} is kept"
                                f"{'' if keep_first else ', as PyYAML readers do'})", fix=fix)
