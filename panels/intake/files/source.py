"""From the uploaded bytes to decoded lines, without reading the file into memory at once.

A first pass over the binary stream (bounded reads of ``CHUNK`` bytes) counts lines for
progress, checks that the bytes are UTF-8 (else Windows-1252, else Latin-1), and refuses what is
not text. The second pass reads through ``text_reader``, which only ever asks the caller's stream
for ``len(buffer)`` bytes.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

from panels.intake.files.types import Problem, ProblemCode

CHUNK = 1 << 20
HEAD = 1 << 15
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_MAGIC = (
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one): save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls (or other Office) file: save the sheet as CSV"),
    (b"%PDF", "a PDF document"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
)
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")


@dataclass
class Source:
    """What the first pass learned about the bytes."""

    encoding: str = "utf-8"
    lines: int = 0  # physical lines (a last line without a newline counts)
    ends_with_newline: bool = True
    head: str = ""  # the first HEAD bytes, decoded
    problems: list[Problem] = field(default_factory=list)
    readable: bool = True  # False: empty, binary or undecodable; nothing more to read


def _error(code: ProblemCode, message: str) -> Problem:
    return Problem(None, None, code.value, message, "error")


def _bom_encoding(head: bytes) -> tuple[str | None, int]:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", 3
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 2
    return None, 0


def decode_head(head: bytes) -> str:
    """Best-effort text of the first bytes of a file, for format detection only."""
    encoding, _ = _bom_encoding(head)
    if encoding is not None:
        return head.decode(encoding, errors="ignore")
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return head.decode("cp1252", errors="replace")


def inspect(stream: BinaryIO) -> Source:
    """First pass: count lines, choose the encoding, refuse binary files. Never raises on data."""
    source = Source()
    stream.seek(0)
    first = stream.read(CHUNK)
    if not first:
        source.readable = False
        source.problems.append(_error(ProblemCode.EMPTY_FILE, "the file is empty (0 bytes)"))
        return source
    for magic, what in _MAGIC:
        if first.startswith(magic):
            source.readable = False
            source.problems.append(
                _error(ProblemCode.NOT_TEXT, f"the file is not a text file: it is {what}")
            )
            return source
    bom_encoding, _ = _bom_encoding(first)
    if bom_encoding == "utf-16":
        return _inspect_utf16(stream, first, source)
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    cp1252_ok = True
    has_nul = False
    lines = 0
    last = b""
    chunk = first
    while chunk:
        lines += chunk.count(b"\n")
        if b"\x00" in chunk:
            has_nul = True
            break
        if not chunk.isascii():
            if utf8_ok:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    utf8_ok = False
            if cp1252_ok and any(byte in chunk for byte in _CP1252_UNDEFINED):
                cp1252_ok = False
        last = chunk
        chunk = stream.read(CHUNK)
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if has_nul:
        source.readable = False
        source.problems.append(
            _error(
                ProblemCode.NOT_TEXT,
                "the file holds NUL bytes: it is not a text (CSV/TXT) file, or it is UTF-16 "
                "without a byte-order mark; save it as 'CSV UTF-8'",
            )
        )
        return source
    if utf8_ok:
        source.encoding = bom_encoding or "utf-8"
    else:
        source.encoding = "cp1252" if cp1252_ok else "latin-1"
        source.problems.append(
            Problem(
                None,
                None,
                ProblemCode.BAD_ENCODING.value,
                f"the file is not UTF-8; it was read as {_ENCODING_NAMES[source.encoding]}. "
                "Check that accented letters (é, ü, ñ) came through, and save as 'CSV UTF-8' "
                "next time",
                "warning",
            )
        )
    source.ends_with_newline = last.endswith((b"\n", b"\r"))
    source.lines = lines + (0 if last.endswith(b"\n") else 1)
    source.head = first[:HEAD].decode(source.encoding, errors="ignore")
    return _check_text(source)


_ENCODING_NAMES = {"cp1252": "Windows-1252 (cp1252)", "latin-1": "Latin-1 (ISO-8859-1)"}


def _inspect_utf16(stream: BinaryIO, first: bytes, source: Source) -> Source:
    source.encoding = "utf-16"
    decoder = codecs.getincrementaldecoder("utf-16")()
    lines = 0
    last = ""
    head_parts: list[str] = []
    head_size = 0
    chunk = first
    try:
        while chunk:
            text = decoder.decode(chunk)
            lines += text.count("\n")
            if head_size < HEAD:
                head_parts.append(text[: HEAD - head_size])
                head_size += len(head_parts[-1])
            if text:
                last = text
            chunk = stream.read(CHUNK)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as error:
        source.readable = False
        source.problems.append(
            _error(
                ProblemCode.BAD_ENCODING,
                f"the file starts with a UTF-16 byte-order mark but is not valid UTF-16 "
                f"({error.reason}); save it as 'CSV UTF-8'",
            )
        )
        return source
    source.ends_with_newline = last.endswith(("\n", "\r"))
    source.lines = lines + (0 if last.endswith("\n") else 1)
    source.head = "".join(head_parts).lstrip("\ufeff")
    if "\x00" in source.head:
        source.readable = False
        source.problems.append(_error(ProblemCode.NOT_TEXT, "the file holds NUL characters"))
        return source
    return _check_text(source)


def _check_text(source: Source) -> Source:
    head = source.head
    controls = sum(1 for char in head if char < " " and char not in _ALLOWED_CONTROLS)
    if controls > max(2, len(head) // 100):
        source.readable = False
        source.problems.append(
            _error(
                ProblemCode.NOT_TEXT,
                "the file is not a text (CSV/TXT) file: it holds binary control characters",
            )
        )
    elif not head.strip(" \t\r\n\ufeff,;\"'"):
        source.readable = False
        source.problems.append(
            _error(ProblemCode.EMPTY_FILE, "the file holds no data (only blank lines)")
        )
    return source


class _BoundedRaw(io.RawIOBase):
    """Reads the caller's stream in bounded pieces; never closes it."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        return size

    def close(self) -> None:  # leave the caller's stream open
        self._stream = io.BytesIO()
        super().close()


@contextmanager
def text_reader(stream: BinaryIO, encoding: str) -> Iterator[io.TextIOWrapper]:
    """A text view of ``stream`` from its start (``newline=""`` as the csv module wants)."""
    stream.seek(0)
    raw = _BoundedRaw(stream)
    buffered = io.BufferedReader(raw, buffer_size=CHUNK)
    text = io.TextIOWrapper(buffered, encoding=encoding, errors="replace", newline="")
    try:
        yield text
    finally:
        text.close()
