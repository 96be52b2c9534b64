"""Plain text cells without Platypus's markup parser and general line breaker.

A report holds about 165 paragraphs, most of them one short run of plain text in one font: an
analyte name, a value, a unit, an interval. Building each as a ``Paragraph`` parses it as XML
markup and breaks it into lines with the general algorithm (fragments, hyphenation, bidi), which
took about 60% of a render (issue 14). ``text_line`` builds the same ``Paragraph`` when the text is
plain: the one fragment the parser would make, cloned from the style's own fragment
(``_template``) instead of parsed, and a ``TextLine`` whose line breaking takes the quick path
when the words fit on one line, as ``Paragraph.breakLines`` would lay them out (same words, same
widths summed in the same order, so the same PDF bytes). Anything else (markup, text drawn
partly with a CJK font, characters the parser treats specially, text that wraps) goes the
ordinary way. ``tests/rendering/test_text_line.py`` holds the two ways side by side.
"""

from __future__ import annotations

import threading
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth
from reportlab.platypus import Paragraph
from reportlab.platypus.paragraph import split, strip

from reports.rendering import scripts

# Characters the markup parser gives a fragment of their own (entities) or treats as spaces or
# soft hyphens of its own: text holding one goes through the parser.
_PARSER_SPECIAL = frozenset("&<>\xa0\xad")

_templates: dict[int, tuple[Any, Any]] = {}
_templates_lock = threading.Lock()


def _template(style: Any) -> Any:
    """The fragment the markup parser makes for plain text in ``style`` (fonts, weight, colour,
    size), parsed once per style."""
    cached = _templates.get(id(style))
    if cached is not None and cached[0] is style:
        return cached[1]
    fragment = Paragraph("x", style).frags[0]
    with _templates_lock:
        _templates[id(style)] = (style, fragment)
    return fragment


def _plain(text: str) -> str | None:
    """``text`` as one drawn line when it is plain (one run in the style's font, nothing the
    parser treats specially); ``None`` otherwise."""
    lines = [line for line in (" ".join(line.split()) for line in text.splitlines()) if line]
    if len(lines) != 1:
        return None
    runs = scripts.runs(scripts.prepare(lines[0]))
    if len(runs) != 1 or runs[0][0]:
        return None
    drawn = runs[0][1]
    if _PARSER_SPECIAL.intersection(drawn):
        return None
    return drawn


class Text(Paragraph):  # type: ignore[misc]  # reportlab ships no type hints
    """A ``Paragraph`` that breaks its lines once per width.

    A table wraps each cell to measure its row and again to draw it, at the same width: the
    second ``breakLines`` answers the first one's result (and restores what it set on the
    paragraph) instead of breaking the same words again."""

    _labpanel_broken: tuple[Any, ...] | None = None

    def breakLines(self, width: Any) -> Any:  # reportlab's name
        key = tuple(width) if isinstance(width, (tuple, list)) else (width,)
        cached = self._labpanel_broken
        if cached is not None and cached[0] == key and cached[1] is self.frags:
            _, _, result, width_max, split_long, hyphenations = cached
            self._width_max, self._splitLongWordCount = width_max, split_long
            self._hyphenations, self.height = hyphenations, 0
            return result
        result = self._break(width)
        self._labpanel_broken = (
            key,
            self.frags,
            result,
            self._width_max,
            self._splitLongWordCount,
            self._hyphenations,
        )
        return result

    def _break(self, width: Any) -> Any:
        return super().breakLines(width)


class TextLine(Text):
    """A ``Text`` of one plain fragment, laid out without the general line breaker when its
    words fit on the first line."""

    def _break(self, width: Any) -> Any:
        quick = self._one_line(width)
        return quick if quick is not None else super()._break(width)

    def _one_line(self, width: Any) -> Any:
        """What ``Paragraph.breakLines`` answers for one fragment of plain text whose words fit
        within the first width, or ``None`` when the text needs the general algorithm."""
        frags = self.frags
        style = self.style
        if len(frags) != 1 or self.bulletText or style.endDots or style.wordWrap:
            return None
        fragment = frags[0]
        text = getattr(fragment, "text", None)
        if not isinstance(text, str) or not text or hasattr(fragment, "cbDefn"):
            return None
        if hasattr(fragment, "backColor") or style.shaping:
            return None
        if style.hyphenationLang or style.uriWasteReduce or style.embeddedHyphenation:
            return None
        max_width = width[0] if isinstance(width, (tuple, list)) else width
        font_name, font_size = fragment.fontName, fragment.fontSize
        words = split(strip(text))
        if not words:
            return None
        encoding = self.encoding
        space_width = stringWidth(" ", font_name, font_size, encoding)
        current = -space_width
        for word in words:
            current = current + space_width + stringWidth(word, font_name, font_size, encoding)
        if current > max_width:
            return None
        self._width_max = current if current > 0 else 0
        self._splitLongWordCount = self._hyphenations = 0
        self.height = 0
        ascent, descent = getAscentDescent(font_name, font_size)
        return fragment.clone(
            kind=0,
            lines=[(max_width - current, words)],
            ascent=ascent,
            descent=descent,
            fontSize=font_size,
        )


def text_line(text: str, style: Any) -> TextLine | None:
    """``text`` (not markup) in ``style`` as the paragraph ``Paragraph(markup(text), style)``
    would be, without parsing, when the text is plain; ``None`` when it is not
    (``markup.para`` then parses it)."""
    if getattr(style, "textTransform", None) or getattr(style, "bulletText", None):
        return None
    drawn = _plain(text)
    if drawn is None:
        return None
    fragment = _template(style).clone(text=drawn, link=[], us_lines=[])
    return TextLine(escape(drawn), style, frags=[fragment])
