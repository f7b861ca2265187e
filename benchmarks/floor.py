"""Floors for the benchmark: the least work any Markdown linter has to do on the same files.

    python benchmarks/floor.py read PATH...         read and decode every Markdown file
    python benchmarks/floor.py parse PATH...        read, split the front matter with
                                                    python-frontmatter, parse the body with
                                                    markdown-it-py (block and inline rules)
    python benchmarks/floor.py parse-block PATH...  the same with the block rules only

PATH is a file or a folder; folders are walked for ``*.md`` and ``*.markdown`` as tidymark
walks them (hidden folders, ``node_modules`` and ``__pycache__`` skipped), serially, in one
process.  The parser is configured as tidymark's (CommonMark with GFM tables and
strikethrough, nesting limit 10,000).  Prints ``<files> <bytes>`` and exits 0; a document
whose front matter does not parse is parsed whole, as a linter would still lint it.

Imports are done only for the mode that needs them, so ``read`` measures Python start-up
plus I/O and nothing else.
"""

from __future__ import annotations

import os
import sys

SUFFIXES = (".md", ".markdown")
SKIP_DIRS = {"node_modules", "__pycache__"}


def markdown_files(path: str) -> list[str]:
    """The Markdown files under ``path`` (or ``path`` itself), sorted."""
    if os.path.isfile(path):
        return [path]
    found = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS]
        found.extend(os.path.join(folder, n) for n in names if n.endswith(SUFFIXES) and not n.startswith("."))
    return sorted(found)


def _parser(block_only: bool):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"maxNesting": 10_000}).enable(["table", "strikethrough"])
    if block_only:
        md.disable(["inline", "text_join"])
    return md


def _make_parse(mode: str):
    """A function that parses one document as ``mode`` asks (None for ``read``)."""
    if mode == "read":
        return None
    import frontmatter

    md = _parser(block_only=mode == "parse-block")

    def parse(text: str) -> None:
        try:
            _, body = frontmatter.parse(text)
        except Exception:  # invalid front matter: lint the whole text
            body = text
        md.parse(body)

    return parse


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("read", "parse", "parse-block"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, paths = argv[0], argv[1:]
    parse = _make_parse(mode)
    files = total = 0
    for path in paths:
        for name in markdown_files(path):
            with open(name, "rb") as f:
                data = f.read()
            text = data.decode("utf-8", errors="replace")
            if parse is not None:
                parse(text)
            files += 1
            total += len(data)
    print(files, total)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
