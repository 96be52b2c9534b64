"""Plain text cells skip the markup parser and the general line breaker (``text_line``), and
every paragraph breaks its lines once per width (``Text``): the PDF must not change.

Each test holds the quick way beside reportlab's own way (``Paragraph(markup(text), style)``
over the parser's fragments, ``Paragraph.breakLines``) on the same input: the fragments, the
line breaks and the bytes of whole reports are compared, not just the text. The one thing
``Text`` does to the parser's fragments is to join neighbours that differ only in their text
(``a &lt; b`` parses as three): the reference paragraphs are built over the same joined
fragments, and ``test_joined_fragments_*`` hold the joining beside the parser's own fragments
(same words on the same lines, same height, same style on each word).
"""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from reports.rendering import ReportDocument, markup, render_pdf, styles
from reports.rendering import text_line as text_line_module
from reports.rendering.document import (
    Amendment,
    CorrectionLine,
    Notice,
    RangeBar,
    ResultLine,
    SummaryLine,
    TrendColumn,
    TrendRow,
    TrendTable,
)
from reports.rendering.text_line import Text, TextLine, _joined, text_line
from tests.rendering.test_render_findings import ASTCT, NOT_EVALUATED
from tests.rendering.test_render_pdf import PANEL, _document, _line, _long_document
from tests.rendering.test_render_trend import _chart

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
    "<2.0",  # escaped in markup: the parser gives "<" a fragment of its own, joined again
    "a & b",
    "<i>not markup</i>",
    "Note: 5210 > 1410.4 (upper limit, inclusive)",
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
    "王秀英",  # a CID font run
    "山田 はなこ",
    "soft\xadhyphen",
]
WIDTHS = [400.0, 90.0, 40.0, 12.0]


def _reportlab(markup_text: str, style: Any) -> Paragraph:
    """reportlab's own paragraph of ``markup_text`` over the parser's fragments, joined where
    they differ only in their text, as ``Text`` joins them."""
    return Paragraph(markup_text, style, frags=_joined(Paragraph(markup_text, style).frags))


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
    reference = _reportlab(markup.markup(text), style)
    quick = markup.para(text, style)

    assert type(quick) is TextLine
    assert [vars(f) for f in quick.frags] == [vars(f) for f in reference.frags]
    assert quick.text == reference.text
    assert _state(quick, width) == _state(reference, width)
    assert _drawn(markup.para(text, style), width) == _drawn(
        _reportlab(reference.text, style), width
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
    assert lean == _drawn(_reportlab(markup.markup(text), style), width)


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


def _realistic_line(number: int) -> ResultLine:
    """A result as the engine words it: a bar, a conversion, footnote marks, a wrapped note."""
    base = PANEL[number % len(PANEL)]
    value = Decimal(number % 7) + Decimal("0.4")
    return replace(
        base,
        analyte_name=f"{base.analyte_name} (serum {number})"
        if number % 5 == 0
        else base.analyte_name,
        unit="pg/mL" if number % 3 else "ng/mL",
        converted_text="= 5 pg/mL" if number % 4 == 0 else "",
        conversion=(
            "Converted for interpretation: 0.005 ng/mL = 5 pg/mL (1 ng/mL = 1000 pg/mL); "
            "the flag was judged on 5 pg/mL."
            if number % 4 == 0
            else ""
        ),
        source_mark="a" if number % 2 else "",
        analyte_mark="†" if number % 6 == 1 else "",
        needs_review=base.flag_code == "",
        bar=RangeBar(
            value=value,
            censoring=base.value_text[:1] if base.value_text[:1] in "<>" else "",
            low=None,
            high=Decimal("5.9"),
        ),
        method_text="Method: bead-based multiplex immunoassay; instrument: Luminex 200"
        if number % 2
        else "",
        note=base.note
        or (
            "Extrapolated beyond the highest standard of the assay; diluted 1:10, measured again."
            if number % 3 == 0
            else ""
        ),
    )


REALISTIC = tuple(_realistic_line(number) for number in range(13))
CENSORED = tuple(
    replace(
        line,
        value_text=f"<{line.value_text.lstrip('<>')}",
        flag_code="<",
        flag_text="Below measuring range",
        bar=RangeBar(Decimal("2.0"), "<", None, Decimal("5.9")),
        note="Below the lower limit of quantitation (2.0 pg/mL).",
    )
    for line in PANEL[:7]
) + tuple(
    replace(
        line,
        value_text=">5000",
        flag_code=">",
        flag_text="Above measuring range",
        is_abnormal=True,
        bar=RangeBar(Decimal("5000"), ">", None, Decimal("5.9")),
    )
    for line in PANEL[7:]
)
CORRECTION = Amendment(
    replaces="report 12, issued 2026-11-20 09:14 UTC",
    reason="Transcription error: the IL-6 value was entered with a misplaced decimal point.",
    corrections=(
        CorrectionLine("IL-6", "148.2 pg/mL (High)", "14.82 pg/mL (High)"),
        CorrectionLine("TNF-α", "8.9 pg/mL (High)", "0.89 pg/mL (Normal)"),
    ),
)
PRELIMINARY = "PRELIMINARY — not verified/released"
SUMMARY = (
    SummaryLine("Interleukins", 9, "IL-6, IL-10", "1 not interpreted: IL-17A", has_elevated=True),
    SummaryLine("Interferons", 1, "IFN-γ", has_elevated=True),
    SummaryLine(
        "Anti-inflammatory (IL-4†: role unverified)",
        3,
        "none among 2 judged",
        "1 indeterminate: IL-10",
    ),
)
TREND = TrendTable(
    columns=(
        TrendColumn("Day -1", "A-0990", is_current=False, is_baseline=True),
        TrendColumn("Day +1", "A-0991", is_current=False, is_baseline=False),
        TrendColumn("Day +4", "A-0992", is_current=True, is_baseline=False),
    ),
    rows=(
        TrendRow("IL-6", "pg/mL", ("2.0", "50", "480"), "×240"),
        TrendRow("IFN-γ", "pg/mL", ("<2.0", "—", ">5000"), "not computed: censored baseline"),
        TrendRow("IL-10", "pg/mL", ("1.1", "3.0", "9.9"), "×9.0"),
    ),
    note="Day 0 = CAR-T infusion 2026-11-10 12:00 UTC; baseline A-0990 (day -1).",
    excluded_note="1 earlier panel set apart: serum, not heparin plasma.",
    charts=(
        _chart((-1, "2.0"), (1, "50"), (4, "480")),
        _chart((-1, "<2.0"), (4, ">5000"), band_high=None, note="The interval is in ng/mL."),
        _chart((-1, "1.1"), (1, "3.0"), (4, "9.9")),
    ),
)
LONG_NAME = (
    "Wolfeschlegelsteinhausenbergerdorff-Ramírez de la Concepción, Maximiliana Alexandra Josefina"
)


@pytest.mark.parametrize("text", ["IL-6", WRAPPED[1], "<b>IL-6</b> note: measured twice"])
def test_a_repeated_wrap_answers_what_reportlabs_wrap_would(text: str) -> None:
    styles.register_fonts()
    quick = markup.para(text, styles.NOTE) if "<" not in text else Text(text, styles.NOTE)
    reference = Paragraph(text if "<" in text else markup.markup(text), styles.NOTE)
    for width in (300.0, 300.0, 61.0, 61.0, 0.0, 0.0, 300.0, 61.0, 61.0):
        assert quick.wrap(width, 50) == reference.wrap(width, 50)
        assert (quick.width, quick.height, quick._width_max) == (
            reference.width,
            reference.height,
            reference._width_max,
        )
        assert _value(quick.blPara) == _value(reference.blPara)


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
    "realistic": lambda: _document(
        results=REALISTIC,
        notices=(
            Notice(
                "RESULTS NOT INTERPRETED", "IL-17A, GM-CSF: no interval applies to this patient."
            ),
            Notice("INDETERMINATE", "IL-10: the value straddles the interval's limit."),
        ),
        family_summary=SUMMARY,
        role_summary=SUMMARY[:2],
        footnotes=(
            "a Interval: Labpanel validation study 2025, heparin plasma, n = 120.",
            "† Inflammatory role unverified for this analyte.",
            "Method differs between results: each row names its own.",
        ),
        specimen_condition="Hemolyzed",
    ),
    "censored": lambda: _document(
        results=CENSORED, banner="13 results outside the measuring range"
    ),
    "corrected": lambda: _document(
        status_label="Corrected report", amendment=CORRECTION, results=REALISTIC
    ),
    "amended preliminary": lambda: _document(
        status_label="Preliminary report",
        preliminary_mark=PRELIMINARY,
        amendment=replace(CORRECTION, mark="AMENDED PRELIMINARY REPORT"),
    ),
    "preliminary, many results": lambda: _document(
        status_label="Preliminary report",
        preliminary_mark=PRELIMINARY,
        results=tuple(_realistic_line(number) for number in range(90)),
    ),
    "long names": lambda: _document(
        patient_name=LONG_NAME,
        lab_name="Labpanel Regional Reference Laboratory for Cytokine and Inflammation Diagnostics",
        lab_address="Building 7, 1200 Research Park Drive, Suite 400, Madison, WI 53711, USA",
        ordering_clinician="Dr Maximiliana Wolfeschlegelsteinhausenbergerdorff (m.wolfe)",
        results=tuple(
            replace(
                line,
                analyte_name=f"{line.analyte_name} soluble receptor antagonist (free fraction)",
            )
            for line in PANEL
        ),
    ),
    "other scripts": lambda: _document(
        patient_name="Иванова, Анна Сергеевна",
        ordering_clinician="Δρ. Παπαδόπουλος (g.papa)",
        results=(
            _line("IL-6 (Ελληνικά)", "48.2", "≤5.9 pg/mL", "H", "Высокий", abnormal=True),
            _line(
                "IL-8",
                "12.4",
                "≤16.4 pg/mL",
                "N",
                "Норма",
                note="Повторное исследование по просьбе лечащего врача.",
            ),
            _line("IL-10", "3.1", "≤2.8 pg/mL", "H", "גבוה", abnormal=True, note="فاطمة כהן"),
            *PANEL[3:],
        ),
    ),
    "CJK": lambda: _document(
        patient_name="王秀英",
        ordering_clinician="山田 太郎 (t.yamada)",
        results=(
            _line(
                "IL-6", "48.2", "≤5.9 pg/mL", "H", "High", abnormal=True, note="王秀英 山田 はなこ"
            ),
            *PANEL[1:],
        ),
    ),
    "serial with charts": lambda: _document(trend=TREND, results=REALISTIC),
    "no results": lambda: _document(results=(), banner="", footnotes=()),
    "child, no interval applies": lambda: _document(
        patient_age="4 years",
        patient_birth_date="2022-06-30",
        banner="",
        results=tuple(
            replace(
                line,
                reference_text="None applies",
                flag_code="",
                flag_text="Not interpreted",
                is_abnormal=False,
                needs_review=True,
                note="No applicable range under 18 years for heparin plasma in this rule set.",
            )
            for line in PANEL
        ),
        notices=(Notice("RESULTS NOT INTERPRETED", "13 results: no interval applies under 18."),),
    ),
    "everything": lambda: _document(
        status_label="Corrected report",
        amendment=CORRECTION,
        findings=(ASTCT, NOT_EVALUATED),
        family_summary=SUMMARY,
        role_summary=SUMMARY,
        trend=TREND,
        results=tuple(_realistic_line(number) for number in range(30)),
        method="bead-based multiplex immunoassay",
        instrument="Luminex 200",
    ),
}


def test_the_reports_wrap_cells_on_the_quick_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documents above do exercise wrapped plain cells, not only one-line ones."""
    text_line_module.clear_layouts()
    laid_out: list[int] = []
    measure = text_line_module._lines

    def counting(*args: Any) -> Any:
        result = measure(*args)
        if result is not None:
            laid_out.append(len(result[0]))
        return result

    monkeypatch.setattr(text_line_module, "_lines", counting)
    for name in ("realistic", "long names", "child, no interval applies"):
        render_pdf(DOCUMENTS[name]())
    assert sum(1 for count in laid_out if count > 1) >= 10
    assert sum(1 for count in laid_out if count == 1) >= 50


def _reportlab_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markup, "text_line", lambda text, style: None)
    monkeypatch.setattr(Text, "breakLines", Paragraph.breakLines)
    monkeypatch.setattr(text_line_module, "LEAN_DRAW", False)
    monkeypatch.setattr(text_line_module, "WRAP_AGAIN", False)
    monkeypatch.setattr(Text, "wrap", Paragraph.wrap)


@pytest.mark.parametrize("build", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_reports_are_byte_identical_to_reportlabs_own_way(
    build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    document: ReportDocument = build()
    quick = render_pdf(document)
    _reportlab_way(monkeypatch)

    assert render_pdf(document) == quick


JOINABLE = [
    "Note: 5210 &gt; 1410.4 (upper limit, inclusive)",
    "&lt;1.0: every possible value is within &lt;2.5 pg/mL &amp; reported as such",
    "3.&nbsp;Values are shown exactly as reported; '&lt;' and '&gt;' before a value mark a "
    "result outside the measuring range ('&lt;'/'&gt;' below/above)",
    "<b>ASTCT consensus CRS grade</b> — <b>MET</b> &lt;grade 3&gt;",
    "first line &lt;1<br/>second &gt; line<br/>third",
    '<font name="LabpanelSans-Bold">Reference intervals:</font> a &amp; b, c &lt; d',
]


def _glyphs(paragraph: Paragraph, width: float) -> tuple[Any, list[list[tuple[Any, ...]]]]:
    """The paragraph's height at ``width`` and, per line, each drawn character with its font,
    size and colour (spaces left out: the line's words, not how they were cut into runs)."""
    _, height = paragraph.wrap(width, 1000)
    lines = []
    for line in paragraph.blPara.lines:
        if paragraph.blPara.kind == 0:
            fragment = paragraph.frags[0]
            runs = [(fragment, " ".join(line[1]))]
        else:
            runs = [(fragment, getattr(fragment, "text", "")) for fragment in line.words]
        lines.append(
            [
                (char, f.fontName, f.fontSize, str(f.textColor))
                for f, text in runs
                for char in text
                if not char.isspace()
            ]
        )
    return height, lines


@pytest.mark.parametrize("text", JOINABLE)
@pytest.mark.parametrize("width", [400.0, 150.0, 61.0])
def test_joined_fragments_lay_out_the_parsers_words_on_the_same_lines(
    text: str, width: float
) -> None:
    styles.register_fonts()
    for style in (styles.NOTE, styles.FOOTNOTE, styles.CELL):
        parsed = Paragraph(text, style)
        joined = _reportlab(text, style)
        assert len(joined.frags) < len(parsed.frags)
        assert "".join(f.text for f in joined.frags if not hasattr(f, "lineBreak")) == "".join(
            f.text for f in parsed.frags if not hasattr(f, "lineBreak")
        )
        laid_out = _glyphs(parsed, width)
        assert sum(len(line) for line in laid_out[1]) >= 15
        assert _glyphs(joined, width) == laid_out
        # and Text joins them as the reference does (before a wrap: reportlab's line breaker
        # for several fragments keeps words in their place)
        assert [vars(f) for f in Text(text, style).frags] == [
            vars(f) for f in _reportlab(text, style).frags
        ]


def test_joining_keeps_apart_what_differs_beyond_its_text() -> None:
    styles.register_fonts()
    text = "plain &lt; <b>bold &gt; bold</b> plain<br/>after &amp; break"
    joined = _joined(Paragraph(text, styles.NOTE).frags)
    assert [(f.text if not hasattr(f, "lineBreak") else "<br/>", f.fontName) for f in joined] == [
        ("plain < ", styles.FONT_REGULAR),
        ("bold > bold", styles.FONT_BOLD),
        (" plain", styles.FONT_REGULAR),
        ("<br/>", styles.FONT_REGULAR),
        ("after & break", styles.FONT_REGULAR),
    ]
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(text_line_module, "JOIN_FRAGMENTS", False)
    try:
        assert len(Text(text, styles.NOTE).frags) == len(Paragraph(text, styles.NOTE).frags)
    finally:
        monkeypatch.undo()


def _per_page_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.mark.parametrize("build", DOCUMENTS.values(), ids=DOCUMENTS.keys())
def test_reports_read_as_they_did_with_the_parsers_own_fragments(
    build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Joined fragments and plain cells holding ``&``, ``<`` or ``>`` change how a line's text
    is cut into runs in the PDF, not the text, the lines or the pages: each page reads the same
    as with the parser's fragments kept apart and such cells parsed."""
    document: ReportDocument = build()
    quick = render_pdf(document)
    monkeypatch.setattr(text_line_module, "JOIN_FRAGMENTS", False)
    monkeypatch.setattr(text_line_module, "_PARSER_SPECIAL", frozenset("&<>\xa0\xad"))
    text_line_module.clear_layouts()
    parsed = render_pdf(document)

    pages = _per_page_text(quick)
    assert pages == _per_page_text(parsed)
    if any(char in page for page in pages for char in "&<>"):
        assert quick != parsed  # the two ways did differ
