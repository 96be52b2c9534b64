"""Plain text cells without Platypus's markup parser and general line breaker.

A report holds about 165 paragraphs, most of them one short run of plain text in one font: an
analyte name, a value, a unit, an interval. Building each as a ``Paragraph`` parses it as XML
markup and breaks it into lines with the general algorithm (fragments, hyphenation, bidi), which
took about 60% of a render (issue 14). ``text_line`` builds the same ``Paragraph`` when the text is
plain: the one fragment the parser would make, cloned from the style's own fragment
(``_template``) instead of parsed, and a ``TextLine`` whose line breaking takes a quick path
for its one fragment of plain words, on one line or wrapped over several, laid out as
``Paragraph.breakLines`` would lay them out (same words, same widths summed in the same order,
same line structures, so the same PDF bytes). Anything else (markup, text drawn partly with a
CJK font, characters the parser treats specially, a word wider than its line, which reportlab
splits) goes the ordinary way. ``tests/rendering/test_text_line.py`` holds the two ways side by
side.

Text that does go through the parser (``Text``) has its neighbouring fragments joined where they
differ only in their text: the parser gives each ``&lt;``, ``&gt;`` and ``&amp;`` a fragment of
its own, and a paragraph of several fragments takes reportlab's general line breaker (a report's
footnote on censored values held 15 of them). Joining them, and letting plain cells hold those
three characters, took a realistic report from 166 to 131 M instructions (callgrind, issue 14);
its pages are pixel-identical at 100 dpi.
"""

from __future__ import annotations

import threading
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth
from reportlab.platypus import Paragraph
from reportlab.platypus.paragraph import (
    _centerDrawParaLine,
    _leftDrawParaLine,
    _rightDrawParaLine,
    split,
    strip,
)
from reportlab.rl_config import _FUZZ, paraFontSizeHeightOffset

from reports.rendering import scripts

# Characters the markup parser treats as no-break spaces or soft hyphens of its own: text holding
# one goes through the parser. (``&``, ``<`` and ``>`` are plain: the parser gives each escaped
# one a fragment of its own in the same style, which ``Text`` joins again.)
_PARSER_SPECIAL = frozenset("\xa0\xad")

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


def _joined(frags: list[Any]) -> list[Any]:
    """The parser's fragments with each run of neighbours that differ only in their text made
    one: ``a &lt; b`` parses as three fragments in one style ("a ", "<", " b"), which sends the
    paragraph through reportlab's general line breaker for several fragments (about 2 ms a
    paragraph) instead of its path for one. Same words, same style, same line breaks; a
    fragment with a callback, a line break or anything but text to tell it apart stays
    itself."""
    joined: list[Any] = []
    last_shape: dict[str, Any] | None = None
    for fragment in frags:
        text = getattr(fragment, "text", None)
        shape = None
        if isinstance(text, str) and not hasattr(fragment, "cbDefn"):
            shape = {key: value for key, value in vars(fragment).items() if key != "text"}
            if "lineBreak" in shape:
                shape = None
        if shape is not None and last_shape is not None and shape == last_shape:
            joined[-1] = joined[-1].clone(text=joined[-1].text + text)
            continue
        joined.append(fragment)
        last_shape = shape
    return joined


class Text(Paragraph):  # type: ignore[misc]  # reportlab ships no type hints
    """A ``Paragraph`` whose parsed fragments are joined where they differ only in their text
    (``_joined``), and that breaks its lines once per width.

    A table wraps each cell to measure its row and again to draw it, at the same width: the
    second ``breakLines`` answers the first one's result (and restores what it set on the
    paragraph) instead of breaking the same words again; and when nothing changed since the
    last ``wrap`` at that width (same lines, fragments and style), ``wrap`` answers its size and
    restores what it set, without ``Paragraph.wrap``'s work. ``WRAP_AGAIN`` off: every ``wrap``
    is ``Paragraph.wrap`` (the tests compare both ways)."""

    _labpanel_broken: tuple[Any, ...] | None = None
    _labpanel_wrapped: tuple[Any, ...] | None = None

    def _setup(self, text: Any, style: Any, bulletText: Any, frags: Any, cleaner: Any) -> None:
        super()._setup(text, style, bulletText, frags, cleaner)
        parsed: list[Any] = self.__dict__["frags"]
        if frags is None and JOIN_FRAGMENTS and len(parsed) > 1:
            # parsed here (a split paragraph's parts arrive with their fragments)
            self.__dict__["frags"] = _joined(parsed)

    def wrap(self, availWidth: Any, availHeight: Any) -> Any:  # reportlab's names
        cached = self._labpanel_wrapped
        if (
            cached is not None
            and WRAP_AGAIN
            and cached[0] == availWidth
            and cached[1] is getattr(self, "blPara", None)
            and cached[2] is self.frags
            and cached[3] is self.style
        ):
            self.width = availWidth
            _, _, _, _, self.height, self._width_max, split_long, hyphenations = cached
            self._splitLongWordCount, self._hyphenations = split_long, hyphenations
            return availWidth, self.height
        size = super().wrap(availWidth, availHeight)
        if availWidth >= _FUZZ:  # else Paragraph.wrap answered "no room" and set nothing
            self._labpanel_wrapped = (
                availWidth,
                self.blPara,
                self.frags,
                self.style,
                self.height,
                self._width_max,
                self._splitLongWordCount,
                self._hyphenations,
            )
        return size

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
    """A ``Text`` of one plain fragment, laid out without the general line breaker unless a
    word is wider than its line."""

    def _break(self, width: Any) -> Any:
        quick = self._quick_lines(width)
        return quick if quick is not None else super()._break(width)

    def drawPara(self, debug: Any = 0) -> None:  # reportlab's name
        """``Paragraph.drawPara`` for lines of plain words (kind 0) in a style with no
        background, border, bullet, justification, underline or link: the same canvas and text
        object calls in the same order (so the same bytes), without the general method's
        lookups and per-line dispatch. Anything else, or ``LEAN_DRAW`` off, draws the general
        way."""
        style = self.style
        blPara = self.blPara
        lines = blPara.lines
        alignment = style.alignment
        if (
            not LEAN_DRAW
            or debug
            or blPara.kind != 0
            or not lines
            or alignment not in _ALIGNED
            or style.backColor
            or (getattr(style, "borderWidth", None) and getattr(style, "borderColor", None))
            or self.bulletText
            or style.wordWrap
            or getattr(self, "autoLeading", getattr(style, "autoLeading", "")) in ("max", "min")
            or hasattr(self, "_offsets")
            or blPara.us_lines
            or blPara.link
        ):
            super().drawPara(debug)
            return
        canvas = self.canv
        canvas.saveState()
        if paraFontSizeHeightOffset:
            cur_y = self.height - blPara.fontSize
        else:
            cur_y = self.height - getattr(blPara, "ascent", blPara.fontSize)
        canvas.setFillColor(blPara.textColor)
        tx = self.beginText(style.leftIndent, cur_y)
        tx.preformatted = False
        tx.direction = style.wordWrap
        tx.setFont(blPara.fontName, blPara.fontSize, style.leading)
        offset = style.firstLineIndent
        for extra, words in lines:
            if extra > -1e-8:  # the simple case of _left/_center/_rightDrawParaLine
                if alignment == TA_LEFT:
                    moved = offset
                elif alignment == TA_CENTER:
                    moved = offset + 0.5 * extra
                else:
                    moved = offset + extra
                if moved > 1e-6 or moved < -1e-6:
                    tx.setXPos(moved)
                    tx._textOut(" ".join(words), 1)
                    tx.setXPos(-moved)
                else:
                    tx._textOut(" ".join(words), 1)
            else:  # squeezed by space shrinkage: word spacing, reportlab's own line drawer
                _ALIGNED[alignment](tx, offset, extra, words, False)
            offset = 0
        canvas.drawText(tx)
        canvas.restoreState()

    def _quick_lines(self, width: Any) -> Any:
        """What ``Paragraph.breakLines`` answers for one fragment of plain text, laid out as it
        would lay it out (the same words, the same widths summed in the same order, the same
        line structures), or ``None`` when the text needs the general algorithm (a word wider
        than its line, which reportlab splits)."""
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
        widths = tuple(width) if isinstance(width, (tuple, list)) else (width,)
        font_name, font_size = fragment.fontName, fragment.fontSize
        key = (
            text,
            font_name,
            font_size,
            self.encoding,
            widths,
            style.spaceShrinkage,
            bool(style.splitLongWords),
        )
        layout = _layouts.get(key, _MISSING)
        if layout is _MISSING:
            layout = _layout(key)
            _remember(key, layout)
        if layout is None:
            return None
        lines, width_max, ascent, descent = layout
        self._width_max = width_max
        self._splitLongWordCount = self._hyphenations = 0
        self.height = 0
        return fragment.clone(
            kind=0,
            lines=[(extra, list(words)) for extra, words in lines],
            ascent=ascent,
            descent=descent,
            fontSize=font_size,
        )


# ``Text`` joins its parsed fragments that differ only in their text; False: it keeps the parser's
# fragments (the tests compare both ways).
JOIN_FRAGMENTS = True

# ``Text.wrap`` answers a repeated wrap at the same width from the last one; False: every wrap is
# ``Paragraph.wrap``.
WRAP_AGAIN = True

# The lean ``TextLine.drawPara``; False draws every paragraph with ``Paragraph.drawPara`` (the
# tests compare both ways).
LEAN_DRAW = True
_ALIGNED = {
    TA_LEFT: _leftDrawParaLine,
    TA_CENTER: _centerDrawParaLine,
    TA_RIGHT: _rightDrawParaLine,
}

# Layouts measured in this process, by (text, font, size, encoding, widths, the style's space
# shrinkage and long-word splitting): a report repeats its units, intervals and analyte names,
# and a worker renders the same ones report after report. Bounded: the oldest entry goes first.
LAYOUT_CACHE_SIZE = 8192
_MISSING: Any = object()
_layouts: dict[tuple[Any, ...], Any] = {}
_layouts_lock = threading.Lock()


# What ``_plain`` answered for a text (its drawn form, or None), bounded alike.
_plains: dict[str, str | None] = {}


def _remember(key: tuple[Any, ...], layout: Any) -> None:
    _bounded_put(_layouts, key, layout)


def _bounded_put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    with _layouts_lock:
        while len(cache) >= LAYOUT_CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[key] = value


def clear_layouts() -> None:
    """Forget every measured layout and plain text (tests; a font registered again under the
    same name)."""
    with _layouts_lock:
        _layouts.clear()
        _plains.clear()


def _layout(key: tuple[Any, ...]) -> Any:
    """The lines (unused width, words), widest line, ascent and descent of ``key``'s text, or
    ``None`` when it needs the general algorithm. Lines are tuples here (shared by every hit);
    each paragraph gets lists of its own."""
    text, font_name, font_size, encoding, widths, space_shrinkage, split_long_words = key
    words = split(strip(text))
    if not words:
        return None
    laid_out = _lines(
        words, font_name, font_size, encoding, list(widths), space_shrinkage, split_long_words
    )
    if laid_out is None:
        return None
    lines, width_max = laid_out
    ascent, descent = getAscentDescent(font_name, font_size)
    return (
        tuple((extra, tuple(line)) for extra, line in lines),
        width_max,
        ascent,
        descent,
    )


def _lines(
    words: list[str],
    font_name: str,
    font_size: float,
    encoding: str,
    max_widths: list[float],
    space_shrinkage: float,
    split_long_words: Any,
) -> tuple[list[tuple[float, list[str]]], float] | None:
    """``Paragraph.breakLines``'s loop for one fragment of plain words (no soft hyphens, no
    hyphenation, no bidi): each word's width added to the line's in the same order, a line
    ended where it ends one; ``None`` where it would split a word too long for its line."""
    space_width = stringWidth(" ", font_name, font_size, encoding)
    space_shrink = space_shrinkage * space_width
    last = len(max_widths) - 1
    lines: list[tuple[float, list[str]]] = []
    line: list[str] = []
    current = -space_width  # reportlab's hack: no space before the first word
    width_max = 0
    number = 0
    max_width = max_widths[0]
    for word in words:
        word_width = stringWidth(word, font_name, font_size, encoding)
        new_width = current + space_width + word_width
        limit = max_width + space_shrink * len(line)
        if new_width > limit and split_long_words and word_width > max_widths[min(number, last)]:
            return None  # reportlab splits the word: the general way
        if new_width <= limit or not line:
            line.append(word)
            current = new_width
        else:
            if current > width_max:
                width_max = current
            lines.append((max_width - current, line))
            line = [word]
            current = word_width
            number += 1
            max_width = max_widths[min(last, number)]
    if line:
        if current > width_max:
            width_max = current
        lines.append((max_width - current, line))
    return lines, width_max


def text_line(text: str, style: Any) -> TextLine | None:
    """``text`` (not markup) in ``style`` as the paragraph ``Paragraph(markup(text), style)``
    would be, without parsing, when the text is plain; ``None`` when it is not
    (``markup.para`` then parses it)."""
    if getattr(style, "textTransform", None) or getattr(style, "bulletText", None):
        return None
    drawn = _plains.get(text, _MISSING)
    if drawn is _MISSING:
        drawn = _plain(text)
        _bounded_put(_plains, text, drawn)
    if drawn is None:
        return None
    fragment = _template(style).clone(text=drawn, link=[], us_lines=[])
    return TextLine(escape(drawn), style, frags=[fragment])
