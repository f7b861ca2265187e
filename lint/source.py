"""Text positions and the bytes <-> text boundary.

Every position inside tidymark is a code-point offset into the decoded text of a file
(what Python slicing and ruamel.yaml marks use).  Bytes only appear when a file is read
or written: the BOM is remembered and stripped, UTF-8 is decoded strictly and newlines
are never translated, so encoding the text back gives the original bytes.
"""

from __future__ import annotations

import bisect
import codecs
from dataclasses import dataclass
from itertools import accumulate

BOM = codecs.BOM_UTF8


@dataclass(frozen=True, order=True, slots=True)
class Span:
    """A half-open ``[start, end)`` range of code points in a document's text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def contains(self, other: "Span") -> bool:
        return self.start <= other.start and other.end <= self.end

    def overlaps(self, other: "Span") -> bool:
        """True when the spans share a code point (empty spans overlap when strictly inside)."""
        if self.start == self.end or other.start == other.end:
            return self.start < other.end and other.start < self.end
        return self.start < other.end and other.start < self.end


class DecodeError(Exception):
    """The bytes of a file are not text tidymark can safely rewrite."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    bom: bool
    newline: str  # the dominant newline sequence ("\n", "\r\n" or "\r")


def detect_newline(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    cr = text.count("\r") - crlf
    if crlf and crlf >= lf and crlf >= cr:
        return "\r\n"
    if cr > lf:
        return "\r"
    return "\n"


def decode(data: bytes) -> Decoded:
    """Decode file bytes strictly as UTF-8, remembering the BOM.

    Raises :class:`DecodeError` with a precise message for binary data, UTF-16/32 files
    and invalid UTF-8, so the caller can report the file instead of guessing.
    """
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise DecodeError("file is UTF-32 encoded (byte-order mark found); only UTF-8 is supported", 0)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise DecodeError("file is UTF-16 encoded (byte-order mark found); only UTF-8 is supported", 0)
    bom = data.startswith(BOM)
    body = data[len(BOM):] if bom else data
    nul = body.find(b"\x00", 0, 8192)
    if nul != -1:
        raise DecodeError(f"file looks binary (NUL byte at offset {nul + (3 if bom else 0)})", nul)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        pos = exc.start + (3 if bom else 0)
        bad = data[pos:pos + 1].hex()
        raise DecodeError(
            f"file is not valid UTF-8 (byte 0x{bad} at offset {pos}); it was not changed", pos
        ) from None
    if "\x00" in text:
        raise DecodeError(f"file looks binary (NUL byte at offset {text.index(chr(0))})")
    return Decoded(text, bom, detect_newline(text))


def encode(text: str, bom: bool) -> bytes:
    data = text.encode("utf-8")
    return BOM + data if bom else data


_PLUS_ONE = (1).__add__


class LineIndex:
    """Maps code-point offsets to 1-based (line, column) positions and back.

    A line ends after ``\\n``; a ``\\r\\n`` pair is one line ending.  A lone ``\\r`` also ends a
    line, so positions agree with markdown-it, which treats it as a newline too.
    """

    __slots__ = ("text", "starts")

    def __init__(self, text: str):
        self.text = text
        if "\r" not in text or text.count("\r") == text.count("\r\n"):
            # every line ends in "\n": the starts are the running sum of the line lengths,
            # computed without a Python-level loop (a third of a line-heavy file's indexing)
            starts = list(accumulate(map(_PLUS_ONE, map(len, text.split("\n"))), initial=0))
            starts.pop()
        else:  # a lone "\r" ends a line too
            starts = [0]
            i, n = 0, len(text)
            while i < n:
                c = text[i]
                if c == "\n":
                    starts.append(i + 1)
                elif c == "\r":
                    if i + 1 < n and text[i + 1] == "\n":
                        i += 1
                    starts.append(i + 1)
                i += 1
        self.starts = starts

    @property
    def line_count(self) -> int:
        """Number of lines; a final newline does not start a new (empty) line."""
        n = len(self.starts)
        if n > 1 and self.starts[-1] == len(self.text):
            return n - 1
        return n

    def line_of(self, offset: int) -> int:
        """0-based line containing ``offset``."""
        return bisect.bisect_right(self.starts, offset) - 1

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of ``offset``; columns count code points."""
        line = self.line_of(offset)
        return line + 1, offset - self.starts[line] + 1

    def offset(self, line: int, col: int = 1) -> int:
        """Offset of a 1-based (line, column)."""
        if line - 1 >= len(self.starts):
            return len(self.text)
        return min(self.starts[line - 1] + col - 1, len(self.text))

    def line_start(self, line0: int) -> int:
        """Offset where 0-based line ``line0`` starts (len(text) past the end)."""
        if line0 >= len(self.starts):
            return len(self.text)
        return self.starts[line0]

    def line_end(self, line0: int, *, with_newline: bool = True) -> int:
        """Offset where 0-based line ``line0`` ends, after or before its newline."""
        end = self.line_start(line0 + 1)
        if not with_newline:
            start = self.line_start(line0)
            if end > start and self.text[end - 1] == "\n":
                end -= 1
            if end > start and self.text[end - 1] == "\r":
                end -= 1
        return end

    def lines_span(self, first0: int, last0_exclusive: int) -> Span:
        """The span of 0-based lines ``[first0, last0_exclusive)`` including their newlines."""
        return Span(self.line_start(first0), self.line_start(last0_exclusive))

    def line_text(self, line0: int) -> str:
        """Text of a 0-based line without its newline."""
        return self.text[self.line_start(line0):self.line_end(line0, with_newline=False)]
