"""Plain text cells skip the markup parser and the general line breaker (``text_line``), and
every paragraph breaks its lines once per width (``Text``): the PDF must not change.

Each test holds the quick way beside reportlab's own way (``Paragraph(markup(text), style)``,
``Paragraph.breakLines``) on the same input: the fragments, the line breaks and the bytes of
whole reports are compared, not just the text.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from reports.rendering import ReportDocument, markup, render_pdf, styles
from reports.rendering import text_line as text_line_module
from reports.rendering.text_line import Text, TextLine, text_line
from tests.rendering.test_render_findings import ASTCT, NOT_EVALUATED
from tests.rendering.test_render_pdf import PANEL, _document, _line, _long_document

STYLES = [
    styles.CELL,
    styles.CELL_BOLD,
    styles.CELL_RIGHT,
    styles.CELL_RIGHT_BOLD,
    styles.CELL_HEAD_RIGHT,
    styles.NOTE,  # indented
    styles.FOOTNOTE,  # hanging indent
    styles.END_MARK,  # centred
    styles.TITLE,
]
PLAIN = [
    "IL-6",
    "IFN-γ",
    "≤5.9 pg/mL",
    "<2.0",  # escaped in markup: the parser's fragments differ, so it goes the ordinary way
    "  Zoe\u0308   Nguyễn  ",  # spaces collapsed, NFC
    "Иванова, Анна",
    "فاطمة כהן",  # shaped and put in visual order first: then one DejaVu run
    "Below measuring range, extrapolated beyond the highest standard of the assay",
    "Supercalifragilisticexpialidocious-interleukin-receptor-antagonist-long-word",
    "— End of report —",
    "non\xa0breaking",  # a no-break space collapses to a space, as markup() does
]
NOT_PLAIN = [
    "",
    "   ",
    "two\nlines",
    "a & b",
    "<i>not markup</i>",
    "王秀英",  # a CID font run
    "山田 はなこ",
    "soft\xadhyphen",
]
WIDTHS = [400.0, 90.0, 40.0, 12.0]


def _value(thing: Any) -> Any:
    """Line structures as plain values (reportlab's fragments compare by identity)."""
    if isinstance(thing, (list, tuple)):
        return [_value(item) for item in thing]
    if hasattr(thing, "__dict__") and not isinstance(thing, type):
        return {key: _value(item) for key, item in vars(thing).items()}
    return thing


def _state(paragraph: Paragraph, width: float) -> tuple[Any, ...]:
    size = paragraph.wrap(width, 1000)
    return (
        size,
        paragraph.blPara.kind,
        _value(paragraph.blPara.lines),
        getattr(paragraph, "_width_max", None),
    )


def _drawn(paragraph: Paragraph, width: float) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, invariant=1, pageCompression=0)
    paragraph.wrapOn(canvas, width, 1000)
    paragraph.wrapOn(canvas, width, 1000)  # as a table does: measure, then draw
    paragraph.drawOn(canvas, 20, 500)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize("text", PLAIN)
@pytest.mark.parametrize("width", WIDTHS)
def test_a_plain_line_is_the_paragraph_reportlab_would_make(
    text: str, style: Any, width: float
) -> None:
    styles.register_fonts()
    reference = Paragraph(markup.markup(text), style)
    quick = markup.para(text, style)

    assert type(quick) is (TextLine if "<" not in text else Text)
    assert [vars(f) for f in quick.frags] == [vars(f) for f in reference.frags]
    assert quick.text == reference.text
    assert _state(quick, width) == _state(reference, width)
    assert _drawn(markup.para(text, style), width) == _drawn(
        Paragraph(reference.text, style), width
    )


WRAPPED = [
    "Below measuring range, extrapolated beyond the highest standard of the assay",
    "Result confirmed on a second aliquot; haemolysis index 2+ may raise IL-6 and IL-8 values.",
    "Иванова Анна Сергеевна, повторное исследование по просьбе лечащего врача",
    "فاطمة כהן فاطمة כהן فاطمة כהן فاطمة כהן",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3,
    "≤5.9 pg/mL (0.0–5.9) ≤5.9 pg/mL (0.0–5.9) ≤5.9 pg/mL (0.0–5.9)",
    "  spaces   collapsed\tand\ttabs   kept   apart   across   several   lines  ",
]
WRAP_WIDTHS: list[Any] = [160.0, 97.3, 61.0, 45.5, [120.0, 80.0], (70.0, 140.0, 50.0)]


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize("text", WRAPPED)
@pytest.mark.parametrize("width", WRAP_WIDTHS, ids=str)
def test_wrapped_plain_text_takes_the_quick_path_with_reportlabs_lines(
    text: str, style: Any, width: Any
) -> None:
    styles.register_fonts()
    quick = markup.para(text, style)
    reference = Paragraph(markup.markup(text), style)
    assert isinstance(quick, TextLine)

    quick_lines = quick._quick_lines(width)
    reference_lines = reference.breakLines(width)
    if quick_lines is None:  # a word wider than its line: reportlab splits it, the general way
        assert reference._splitLongWordCount > 0
        return
    assert _value(quick_lines) == _value(reference_lines)
    assert quick._width_max == reference._width_max
    if isinstance(width, float):
        assert _state(quick, width) == _state(reference, width)
        assert _drawn(markup.para(text, style), width) == _drawn(
            Paragraph(reference.text, style), width
        )


def test_wrapped_text_does_wrap_on_the_quick_path() -> None:
    styles.register_fonts()
    text = WRAPPED[1]
    quick = markup.para(text, styles.CELL)
    lines = quick._quick_lines(61.0)
    assert lines is not None
    assert len(lines.lines) >= 4
    assert [word for _, words in lines.lines for word in words] == text.split()


def test_a_word_wider_than_its_line_goes_the_general_way() -> None:
    styles.register_fonts()
    text = "IL-1 Supercalifragilisticexpialidocious-interleukin-receptor-antagonist"
    quick, reference = markup.para(text, styles.CELL), Paragraph(markup.markup(text), styles.CELL)
    assert quick._quick_lines(60.0) is None
    assert _state(quick, 60.0) == _state(reference, 60.0)
    assert reference._splitLongWordCount > 0


def test_a_remembered_layout_is_the_one_measured_and_each_paragraph_gets_its_own_lines() -> None:
    styles.register_fonts()
    text_line_module.clear_layouts()
    text = WRAPPED[0]
    first = markup.para(text, styles.CELL)
    measured = first._quick_lines(61.0)
    assert len(text_line_module._layouts) == 1
    again = markup.para(text, styles.CELL)
    remembered = again._quick_lines(61.0)  # from the cache
    assert len(text_line_module._layouts) == 1
    assert (
        _value(remembered)
        == _value(measured)
        == _value(Paragraph(text, styles.CELL).breakLines(61.0))
    )
    assert remembered.lines is not measured.lines
    assert all(a[1] is not b[1] for a, b in zip(remembered.lines, measured.lines, strict=True))
    assert again._width_max == first._width_max
    # another width, size or font is another layout
    markup.para(text, styles.CELL)._quick_lines(97.0)
    markup.para(text, styles.CELL_BOLD)._quick_lines(61.0)
    markup.para(text, styles.NOTE)._quick_lines(61.0)
    assert len(text_line_module._layouts) == 4


def test_the_layout_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    styles.register_fonts()
    text_line_module.clear_layouts()
    monkeypatch.setattr(text_line_module, "LAYOUT_CACHE_SIZE", 5)
    for number in range(12):
        paragraph = markup.para(f"cell {number}", styles.CELL)
        assert _state(paragraph, 80.0) == _state(Paragraph(f"cell {number}", styles.CELL), 80.0)
    assert len(text_line_module._layouts) == 5
    assert [key[0] for key in text_line_module._layouts] == [f"cell {n}" for n in range(7, 12)]


LEAN_STYLES = [*STYLES, styles.CELL_HEAD, styles.CONVERTED, styles.CHART_NOTE, styles.LAB_NAME]


@pytest.mark.parametrize("style", LEAN_STYLES, ids=lambda style: style.name)
@pytest.mark.parametrize("text", [*PLAIN, *WRAPPED])
@pytest.mark.parametrize("width", [400.0, 97.3, 45.5, 12.0])
def test_the_lean_draw_writes_the_bytes_reportlabs_draw_does(
    text: str, style: Any, width: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    styles.register_fonts()
    lean = _drawn(markup.para(text, style), width)
    monkeypatch.setattr(text_line_module, "LEAN_DRAW", False)
    general = _drawn(markup.para(text, style), width)
    assert lean == general
    assert lean == _drawn(Paragraph(markup.markup(text), style), width)


def test_lines_squeezed_by_space_shrinkage_draw_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line that fits only by shrinking its spaces has a negative unused width: word spacing."""
    styles.register_fonts()
    text = "aa bb cc dd ee ff gg hh ii jj kk"
    for style in (styles.CELL, styles.CELL_RIGHT, styles.END_MARK, styles.FOOTNOTE):
        width = stringWidth(text, style.fontName, style.fontSize) - 1.0
        width += style.leftIndent + style.firstLineIndent + style.rightIndent
        paragraph = markup.para(text, style)
        paragraph.wrap(width, 1000)
        assert len(paragraph.blPara.lines) == 1
        assert paragraph.blPara.lines[0][0] < 0  # squeezed onto one line
        lean = _drawn(markup.para(text, style), width)
        monkeypatch.setattr(text_line_module, "LEAN_DRAW", False)
        assert _drawn(markup.para(text, style), width) == lean
        assert _drawn(Paragraph(text, style), width) == lean
        monkeypatch.setattr(text_line_module, "LEAN_DRAW", True)


@pytest.mark.parametrize("text", NOT_PLAIN)
def test_text_that_is_not_plain_goes_through_the_parser(text: str) -> None:
    styles.register_fonts()

    assert text_line(text, styles.CELL) is None
    quick = markup.para(text, styles.CELL)
    reference = Paragraph(markup.markup(text), styles.CELL)
    assert _drawn(quick, 60.0) == _drawn(reference, 60.0)


def test_a_wrapped_paragraph_breaks_again_when_the_width_changes() -> None:
    styles.register_fonts()
    text = "<b>IL-6</b> note: " + "measured twice on two dilutions " * 4
    quick, reference = Text(text, styles.NOTE), Paragraph(text, styles.NOTE)
    for width in (300.0, 300.0, 120.0, 120.0, 300.0):
        assert _state(quick, width) == _state(reference, width)


DOCUMENTS = {
    "panel": lambda: _document(),
    "long, split across pages": _long_document,
    "no banner, no footnotes": lambda: _document(banner="", footnotes=()),
    "scripts and markup characters": lambda: _document(
        patient_name="山田 はなこ",
        results=(
            _line("فاطمة <b>", "<2.0 & up", "≤2.5", "<", "Below"),
            _line("Иванова", "1.4", "≤2.1 pg/mL", "N", "Normal", note="a\nb & <c>"),
            *PANEL,
        ),
    ),
    "findings": lambda: _document(findings=(ASTCT, NOT_EVALUATED)),
}


def _reportlab_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markup, "text_line", lambda text, style: None)
    monkeypatch.setattr(Text, "breakLines", Paragraph.breakLines)
    monkeypatch.setattr(text_line_module, "LEAN_DRAW", False)


@pytest.mark.parametrize("build", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_reports_are_byte_identical_to_reportlabs_own_way(
    build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    document: ReportDocument = build()
    quick = render_pdf(document)
    _reportlab_way(monkeypatch)

    assert render_pdf(document) == quick
