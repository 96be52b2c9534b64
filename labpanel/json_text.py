"""JSON already written, carried inside an API answer as its text (``JSONText``), so that the
answer's encoder copies it instead of parsing it and writing it again.

The panels API answers stored documents (``panels.documents``): parsing each one and encoding
it again was about a third of the list's own time (bench/panel_read.py). ``JSONText`` holds
the text; orjson writes it as it is (``orjson_default``, an ``orjson.Fragment``), and DRF's
encoder (an indented answer, the browsable API) writes what it parses to (``JSONTextEncoder``).
Read as a mapping (``answer.data["id"]`` in a test, say), it parses itself once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from rest_framework.utils.encoders import JSONEncoder


class JSONText(Mapping[str, Any]):
    """A JSON object already written as ``text`` (UTF-8 bytes): the answer's encoder copies it.
    The caller vouches that the text is one valid JSON object."""

    __slots__ = ("_parsed", "text")

    def __init__(self, text: bytes) -> None:
        self.text = text
        self._parsed: dict[str, Any] | None = None

    def parsed(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = orjson.loads(self.text)
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self.parsed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.parsed())

    def __len__(self) -> int:
        return len(self.parsed())

    def __repr__(self) -> str:
        return f"JSONText({self.text[:60]!r}...)"


def orjson_default(value: Any) -> Any:
    """orjson's ``default``: ``JSONText`` as its text; anything else orjson cannot write raises
    ``TypeError``, as orjson does without a ``default``."""
    if type(value) is JSONText:
        return orjson.Fragment(value.text)
    raise TypeError


class JSONTextEncoder(JSONEncoder):
    """DRF's encoder, which writes ``JSONText`` as what its text parses to (indented like the
    rest of the answer)."""

    def default(self, obj: Any) -> Any:
        if isinstance(obj, JSONText):
            return obj.parsed()
        return super().default(obj)
