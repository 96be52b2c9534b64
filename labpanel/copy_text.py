"""PostgreSQL COPY text: how bulk rows are written (``labpanel.bulk``), and read back (SQLite path).

https://www.postgresql.org/docs/current/sql-copy.html — columns separated by a tab, rows ended
by a newline, ``\\N`` for NULL, and a backslash escaping backslash and control characters. Every
control character of a value is escaped (``\\n``, ``\\t``, ``\\r`` or ``\\xHH``), so a value can
never end a column or a row early. NUL cannot be stored in PostgreSQL text and is refused.

Pure Python, no Django.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

NULL = "\\N"

_ESCAPES = {ord("\\"): "\\\\", ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"}
for _code in (*range(1, 0x20), 0x7F):
    _ESCAPES.setdefault(_code, f"\\x{_code:02x}")
UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]")  # what a text value's escaping changes
_UNESCAPE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_SIMPLE = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def text(value: str) -> str:
    """A text value, escaped."""
    if UNSAFE.search(value) is None:
        return value
    if "\x00" in value:
        raise ValueError("PostgreSQL text cannot hold a NUL character")
    return value.translate(_ESCAPES)


def json(value: Any) -> str:
    """A JSON value (orjson never writes raw control characters, only backslash escapes)."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def field(value: Any) -> str:
    """Any column value, by its Python type."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return text(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict | list):
        return json(value)
    raise TypeError(f"no COPY text form for {type(value).__name__}")


def row(values: Sequence[Any]) -> str:
    """One row, newline included."""
    return "\t".join(map(field, values)) + "\n"


def _unescaped(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] == "x" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code[0] in "01234567":
        return chr(int(code, 8))
    return _SIMPLE.get(code, code)


def decode_field(raw: str) -> str | None:
    if raw == NULL:
        return None
    return _UNESCAPE.sub(_unescaped, raw) if "\\" in raw else raw


def decode_rows(data: str) -> list[list[str | None]]:
    """The rows of ``data`` (COPY text), each a list of field texts or None."""
    lines = data.split("\n")
    if lines[-1]:
        raise ValueError("COPY text rows end with a newline")
    return [[decode_field(raw) for raw in line.split("\t")] for line in lines[:-1]]
