"""Text helpers shared by the report's layout modules: escaping, one-line text, table cells."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reports.rendering import scripts, styles
from reports.rendering.text_line import Text, text_line

# Tables fall back to Helvetica for plain-string (e.g. empty) cells unless told otherwise.
BASE_CELL: tuple[tuple[Any, ...], ...] = (
    ("FONTNAME", (0, 0), (-1, -1), styles.FONT_REGULAR),
    ("FONTSIZE", (0, 0), (-1, -1), 8.5),
)


def one_line(text: str) -> str:
    """Collapse all whitespace (newlines included) to single spaces."""
    return " ".join(text.split())


def markup_line(text: str) -> str:
    """One line as Paragraph markup: shaped and ordered, escaped, and each run DejaVu lacks
    wrapped in ``<font name=...>`` for the CID font that draws it."""
    return "".join(
        f'<font name="{font}">{escape(chunk)}</font>' if font else escape(chunk)
        for font, chunk in scripts.runs(scripts.prepare(text))
    )


def markup(text: str) -> str:
    """Escape for Paragraph markup; keep the caller's line breaks."""
    lines = [markup_line(one_line(line)) for line in text.splitlines()]
    return "<br/>".join(line for line in lines if line)


def para(text: str, style: Any) -> Text:
    """``text`` (not markup: escaped here) in ``style``; plain text skips the markup parser
    (``text_line``), with the same result."""
    line = text_line(text, style)
    return line if line is not None else Text(markup(text), style)
