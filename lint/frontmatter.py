"""Front matter: where it is, what it says, and lossless edits to it.

* **Where** — tidymark's own exact delimiter scan (YAML ``---`` … ``---``/``...`` at the
  very start of the file; TOML ``+++`` and JSON ``{`` front matter are recognised through
  python-frontmatter's handlers so they are read, not misparsed).
* **Positions** — ruamel.yaml ``compose()`` gives every key and value node with exact
  offsets, duplicate keys included.  Edits are built from those offsets, so comments, key
  order, quoting and line endings are never touched by a fix.
* **Values as readers see them** — python-frontmatter's YAML handler (PyYAML, YAML 1.1,
  last duplicate wins, ``yes`` is ``True``): what static site generators and most tools
  read.  Rules that depend on consumer semantics use these values.

Nothing here re-dumps YAML.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Iterator

from tidymark.diagnostics import Edit
from tidymark.source import LineIndex, Span

_YAML_OPEN = re.compile(r"---[ \t]*(?:\r\n|\n|\r)")
# a closing line starts after \n or a lone \r (LineIndex and markdown-it treat both as newlines)
_YAML_CLOSE = re.compile(r"(?:^|(?<=\r))(?:---|\.\.\.)[ \t]*(?=\r|$)", re.M)
_TOML_OPEN = re.compile(r"\+\+\+[ \t]*(?:\r\n|\n|\r)")
_TOML_CLOSE = re.compile(r"(?:^|(?<=\r))\+\+\+[ \t]*(?=\r|$)", re.M)
_KEY_LINE = re.compile(r"^[ \t]*[\w\"'-][^:\n]{0,80}:(?:[ \t]|$)")

# Maximum nesting walked when listing entries (hostile documents nest thousands deep).
MAX_DEPTH = 64
# Front matter longer than this is not parsed (the position-keeping YAML composer is pure
# Python, about 100 KB a second on dense YAML); real front matter is a few kilobytes.
MAX_CONTENT = 128 * 1024
# At most this many values once aliases are expanded: an "alias bomb" (billion laughs) is a
# few lines that expand to billions of values, which any rule walking them would hang on.
MAX_VALUES = 100_000


class _Unreadable(Exception):
    """The front matter is refused before or after loading (too large, alias bomb)."""


def _expanded_size(data: Any, limit: int) -> int:
    """How many values ``data`` holds with every shared (aliased) value counted each time.

    Stops counting past ``limit``; a collection that contains itself counts as ``limit + 1``.
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (dict, list)):
            continue
        key = id(node)
        children = list(node.keys()) + list(node.values()) if isinstance(node, dict) else node
        if done:
            active.discard(key)
            total = 1
            for c in children:
                total += sizes.get(id(c), 1) if isinstance(c, (dict, list)) else 1
                if total > limit:
                    break
            sizes[key] = min(total, limit + 1)
            if total > limit:
                return limit + 1
            continue
        if key in sizes:
            continue
        if key in active:
            return limit + 1  # recursive structure: infinite when expanded
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (dict, list)) and id(c) not in sizes)
    return sizes.get(id(data), 1)


@dataclass(frozen=True)
class FrontMatterError:
    """The front matter cannot be read; ``span`` points at the problem in the file."""

    message: str
    span: Span
    fixable_by_tidymark: bool = False


@dataclass(frozen=True)
class Entry:
    """One ``key: value`` pair of a YAML mapping, located in the file."""

    key: str
    key_span: Span
    value_span: Span
    line_span: Span            # whole lines from the key's line to the value's last line
    path: tuple[Any, ...]      # keys / indexes of the enclosing collections ('' at top level)
    key_node: Any = field(repr=False, compare=False)
    value_node: Any = field(repr=False, compare=False)
    key_starts_line: bool = True  # only indentation precedes the key on its line

    @property
    def top_level(self) -> bool:
        return not self.path

    @property
    def value_tag(self) -> str:
        return getattr(self.value_node, "tag", "") or ""

    @property
    def style(self) -> str | None:
        """The scalar style: None (plain), "'", '"', '|' or '>'."""
        return getattr(self.value_node, "style", None)

    @property
    def is_scalar(self) -> bool:
        return type(self.value_node).__name__ == "ScalarNode"

    @property
    def scalar(self) -> str | None:
        """The scalar's value as ruamel composed it (YAML 1.2 string), or None."""
        return self.value_node.value if self.is_scalar else None


def _content_end(node) -> int:
    """End index of a node's own text.

    A block collection's ``end_mark`` points at the next token (the following key), so
    descend to its last item instead; flow collections and scalars end where they say.
    """
    depth = 0
    while type(node).__name__ in ("MappingNode", "SequenceNode") and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
        depth += 1
        if depth > MAX_DEPTH:
            break
    return node.end_mark.index


class FrontMatter:
    """The front-matter block of one document."""

    def __init__(self, text: str, lines: LineIndex, kind: str, span: Span,
                 content_span: Span, closed: bool = True):
        self._text = text
        self._lines = lines
        self.kind = kind                  # "yaml", "toml" or "json"
        self.span = span                  # delimiters included, with the closing line's newline
        self.content_span = content_span  # the text between the delimiters
        self.closed = closed

    # -- raw text -----------------------------------------------------------------
    @property
    def content(self) -> str:
        return self._text[self.content_span.start:self.content_span.end]

    @cached_property
    def newline(self) -> str:
        head = self._text[self.span.start:self.span.end]
        return "\r\n" if "\r\n" in head else ("\r" if "\r" in head and "\n" not in head else "\n")

    @property
    def first_line(self) -> int:
        """1-based line of the opening delimiter."""
        return self._lines.position(self.span.start)[0]

    # -- parsing ------------------------------------------------------------------
    # Values come from the fast C reader; ruamel.yaml's composer (pure Python, slower) runs
    # only when a rule needs positions, or to word a syntax error precisely.
    @cached_property
    def _too_large(self) -> bool:
        return len(self.content_span) > MAX_CONTENT

    @cached_property
    def _load(self) -> tuple[Any, Exception | None]:
        if not self.closed:
            return None, None
        if self._too_large:
            return None, _Unreadable(f"front matter is {len(self.content_span):,} characters long, over the "
                                     f"{MAX_CONTENT:,} tidymark reads; it was not checked")
        try:
            if self.kind == "toml":
                import tomllib

                data = tomllib.loads(self.content)
            elif self.kind == "json":
                data = json.loads(self.content)
            else:
                from frontmatter.default_handlers import YAMLHandler

                data = YAMLHandler().load(self.content)
        except RecursionError as exc:
            return None, exc
        except Exception as exc:  # noqa: BLE001 - reported as a diagnostic, never raised
            return None, exc
        if _expanded_size(data, MAX_VALUES) > MAX_VALUES:
            return None, _Unreadable(f"front matter holds more than {MAX_VALUES:,} values once its aliases are "
                                     f"expanded (an alias bomb?); it was not read")
        return data, None

    @cached_property
    def _composed(self) -> tuple[Any, FrontMatterError | None]:
        if not self.closed or self.kind != "yaml":
            return None, None
        if isinstance(self._load[1], _Unreadable):
            return None, FrontMatterError(str(self._load[1]), Span(self.span.start, self.span.start + 3))
        from ruamel.yaml import YAML
        from ruamel.yaml.error import MarkedYAMLError, YAMLError

        import warnings

        try:
            with warnings.catch_warnings():  # e.g. a reused anchor: legal YAML, not the user's business here
                warnings.simplefilter("ignore")
                node = YAML(typ="rt").compose(self.content)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            offset = self.content_span.start + (mark.index if mark is not None else 0)
            offset = min(offset, self.content_span.end)
            problem = exc.problem or exc.context or "invalid YAML"
            return None, FrontMatterError(f"invalid YAML in front matter: {problem}", Span(offset, offset))
        except YAMLError as exc:
            return None, FrontMatterError(f"invalid YAML in front matter: {exc}", self.content_span)
        except RecursionError:
            return None, FrontMatterError("front matter is nested too deeply to read", self.content_span)
        if node is not None and type(node).__name__ != "MappingNode":
            return node, FrontMatterError("front matter is not a mapping of keys to values", self.content_span)
        return node, None

    @property
    def node(self):
        """The ruamel root node (a MappingNode) or None."""
        node, error = self._composed
        return node if error is None else None

    @property
    def strict_error(self) -> FrontMatterError | None:
        """Why YAML 1.2 (ruamel.yaml, which locates keys for the rules) rejects front matter
        that the reader loaded (libyaml is laxer, e.g. with a tab after a value); None when
        both read it, or when :attr:`error` already says it is unreadable."""
        if self.kind != "yaml" or self.error is not None or self._load[0] is None:
            return None
        return self._composed[1]

    @cached_property
    def error(self) -> FrontMatterError | None:
        """Why the front matter cannot be read at all (None when it can)."""
        if not self.closed:
            delimiter = "+++" if self.kind == "toml" else "---"
            return FrontMatterError(f"front matter is not closed: no `{delimiter}` line ends it",
                                    Span(self.span.start, self.span.start + 3))
        data, exc = self._load
        if exc is None:
            if data is not None and not isinstance(data, dict):
                return FrontMatterError("front matter is not a mapping of keys to values", self.content_span)
            return None
        if isinstance(exc, RecursionError):
            return FrontMatterError("front matter is nested too deeply to read", self.content_span)
        if isinstance(exc, _Unreadable):
            return FrontMatterError(str(exc), Span(self.span.start, self.span.start + 3))
        if self.kind == "toml":
            return FrontMatterError(f"invalid TOML front matter: {exc}", self.content_span)
        if self.kind == "json":
            return FrontMatterError(f"invalid JSON front matter: {exc}", self.content_span)
        import yaml

        if isinstance(exc, yaml.constructor.ConstructorError):
            return None  # it parses; readers refuse a tag (see reader_error)
        composed_error = self._composed[1]
        if composed_error is not None:
            return composed_error
        mark = getattr(exc, "problem_mark", None)
        offset = self.content_span.start + (mark.index if mark is not None else 0)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return FrontMatterError(f"invalid YAML in front matter: {problem}", Span(offset, offset))

    @cached_property
    def _reader(self) -> tuple[dict | None, str | None]:
        """Values the way python-frontmatter (PyYAML, YAML 1.1) and site generators read them."""
        if self.error is not None:
            return None, self.error.message
        data, exc = self._load
        if exc is not None:
            text = str(exc).strip()
            first = text.splitlines()[0] if text else type(exc).__name__
            return None, f"readers reject this front matter: {first}"
        return (data or {}), None

    @property
    def values(self) -> dict:
        """Reader values ({} when unreadable)."""
        return self._reader[0] or {}

    @property
    def reader_error(self) -> str | None:
        return self._reader[1]

    # -- entries ------------------------------------------------------------------
    @cached_property
    def entries(self) -> tuple[Entry, ...]:
        """Every key of every YAML mapping, duplicates included, in document order."""
        root = self.node
        if root is None:
            return ()
        out: list[Entry] = []
        base = self.content_span.start
        text = self._text
        lines = self._lines
        seen: set[int] = set()
        stack: list[tuple[Any, tuple]] = [(root, ())]
        while stack:
            node, path = stack.pop()
            if id(node) in seen or len(path) > MAX_DEPTH:
                continue
            seen.add(id(node))
            kind = type(node).__name__
            children: list[tuple[Any, tuple]] = []
            if kind == "MappingNode":
                for key_node, value_node in node.value:
                    key = key_node.value if type(key_node).__name__ == "ScalarNode" else str(key_node.value)
                    k0 = base + key_node.start_mark.index
                    v0 = base + value_node.start_mark.index
                    v1 = base + _content_end(value_node)
                    line0 = lines.line_of(k0)
                    lstart = lines.line_start(line0)
                    starts_line = text[lstart:k0].strip() == ""
                    # an empty value (`key:`) has its marks where the next token starts,
                    # often the next line: the entry is the key's line only
                    end_line = lines.line_of(v1) if v1 > v0 else line0
                    if v1 > v0 and lines.line_start(end_line) == v1:
                        lend = v1  # block values end at the start of the next line
                    else:
                        lend = lines.line_end(end_line)
                    lend = min(max(lend, lines.line_end(line0)), self.content_span.end)
                    out.append(Entry(str(key), Span(k0, base + key_node.end_mark.index), Span(v0, max(v0, v1)),
                                     Span(lstart, lend), path, key_node, value_node, starts_line))
                    children.append((value_node, path + (str(key),)))
            elif kind == "SequenceNode":
                for i, item in enumerate(node.value):
                    children.append((item, path + (i,)))
            stack.extend(reversed(children))
        out.sort(key=lambda e: e.key_span.start)
        return tuple(out)

    def top(self) -> Iterator[Entry]:
        return (e for e in self.entries if e.top_level)

    def get(self, key: str) -> Entry | None:
        """The first top-level entry named ``key`` (case-sensitive)."""
        for e in self.top():
            if e.key == key:
                return e
        return None

    def find(self, *keys: str) -> Entry | None:
        """The first top-level entry whose key is one of ``keys`` (case-insensitive)."""
        wanted = {k.lower() for k in keys}
        for e in self.top():
            if e.key.lower() in wanted:
                return e
        return None

    def has(self, key: str) -> bool:
        return any(e.key == key for e in self.top()) or key in self.values

    # -- edits --------------------------------------------------------------------
    def delete_entry(self, entry: Entry) -> Edit:
        """Remove an entry's whole lines (with their newlines)."""
        return Edit(entry.line_span, "")

    def replace_value(self, entry: Entry, text: str) -> Edit:
        return Edit(entry.value_span, text)

    def append_entry(self, key: str, value_text: str) -> Edit:
        """Insert ``key: value`` as the last line of the front matter, in its newline style."""
        end = self.content_span.end
        nl = self.newline
        content = self.content
        if content and not content.endswith(("\n", "\r")):
            return Edit.insert(end, f"{nl}{key}: {value_text}")
        return Edit.insert(end, f"{key}: {value_text}{nl}")


@lru_cache(maxsize=1)
def _yaml12():
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True)


@lru_cache(maxsize=4096)
def _reads_back(candidate: str, expected: str) -> bool:
    """Does `k: <candidate>` read back as the string `expected` under YAML 1.1 and 1.2?"""
    import yaml
    from ruamel.yaml.error import YAMLError

    doc = f"k: {candidate}\n"
    try:
        v11 = yaml.load(doc, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        v12 = _yaml12().load(doc)
    except (yaml.YAMLError, YAMLError):
        return False
    return (isinstance(v11, dict) and v11.get("k") == expected
            and isinstance(v12, dict) and v12.get("k") == expected)


def scalar_text(value: str) -> str:
    """The value written as a plain scalar when that reads back exactly, else double-quoted."""
    if value and value == value.strip() and "\n" not in value and _reads_back(value, value):
        return value
    quoted = json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar
    return quoted


def locate(text: str, lines: LineIndex) -> FrontMatter | None:
    """Find the front matter at the very start of ``text`` (BOM already removed)."""
    if text.startswith("---"):
        m = _YAML_OPEN.match(text)
        if not m:
            return None
        close = _YAML_CLOSE.search(text, m.end())
        if close is None:
            # A leading thematic break is ordinary Markdown; only call it unclosed front
            # matter when the next line reads like a YAML key.
            nxt = text[m.end():text.find("\n", m.end()) if "\n" in text[m.end():] else len(text)]
            if _KEY_LINE.match(nxt):
                return FrontMatter(text, lines, "yaml", Span(0, len(text)), Span(m.end(), len(text)), closed=False)
            return None
        end = lines.line_end(lines.line_of(close.start()))
        return FrontMatter(text, lines, "yaml", Span(0, end), Span(m.end(), close.start()))
    if text.startswith("+++"):
        m = _TOML_OPEN.match(text)
        if not m:
            return None
        close = _TOML_CLOSE.search(text, m.end())
        if close is None:
            return FrontMatter(text, lines, "toml", Span(0, len(text)), Span(m.end(), len(text)), closed=False)
        end = lines.line_end(lines.line_of(close.start()))
        return FrontMatter(text, lines, "toml", Span(0, end), Span(m.end(), close.start()))
    if text.startswith("{"):
        from frontmatter.default_handlers import JSONHandler

        if not JSONHandler().detect(text):
            return None
        close = re.compile(r"^\}[ \t]*$", re.M).search(text)
        if close is None:
            return None
        end = lines.line_end(lines.line_of(close.start()))
        return FrontMatter(text, lines, "json", Span(0, end), Span(0, close.end()))
    return None
