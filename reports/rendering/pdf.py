"""``render_pdf``: a ``ReportDocument`` in, PDF bytes out.

Pure function (STYLE.md item 24): reportlab and nothing else. No ORM, storage, settings or
clock. The PDF is built in reportlab's invariant mode, so identical documents give identical
bytes (stable checksums for the storage key).

Layout (US Letter, because the lab is a US CLIA laboratory):

* header: lab name and address, report title and status;
* patient / specimen identification block;
* the banner: abnormal results, results not interpreted, indeterminate ones (``results_table``);
* results table with a range bar per result, the conversion and the engine's explanation under
  the row, split across pages with the header row repeated (``results_table``, ``range_bar``);
* the summary by family and role, findings, serial results (``sections``);
* the rule set used, the footnotes, an end-of-report mark;
* on every page: a footer with patient name, MRN, report id, accession and "Page N of M";
  a running header with the patient on continuation pages (``page_furniture``).
"""

from __future__ import annotations

import base64
import threading
from dataclasses import fields, is_dataclass
from functools import partial
from io import BytesIO
from typing import Any

from reportlab.graphics import renderSVG
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

from reports.rendering import results_table, scripts, sections, styles, trend_chart
from reports.rendering.document import ReportDocument, TrendChart
from reports.rendering.errors import RenderError
from reports.rendering.markup import BASE_CELL as _BASE_CELL
from reports.rendering.markup import markup as _markup
from reports.rendering.markup import one_line as _one_line
from reports.rendering.markup import para as _para
from reports.rendering.page_furniture import REPORT_TITLE, NumberedCanvas
from reports.rendering.text_line import Text

RESULTS_MIN_SPACE = 80.0  # heading + table header + two rows, in points

# reportlab's TTFont keeps per-document state on the shared font objects and its docs warn
# against building two documents with the same font at once; serialise builds in this process.
_build_lock = threading.Lock()


def chart_svg_data_uri(chart: TrendChart) -> str:
    """A trend chart as the PDF draws it, as an SVG ``data:`` URI for a web page's ``<img>``
    (the report page shows the same chart as the PDF). Serialised with the PDF builds: it
    measures text with the same shared font objects."""
    styles.register_fonts()
    with _build_lock:
        text = renderSVG.drawToString(trend_chart.drawing(chart))
    return "data:image/svg+xml;base64," + base64.b64encode(text.encode()).decode()


def render_pdf(document: ReportDocument) -> bytes:
    """Render ``document`` to PDF bytes. Deterministic: same document, same bytes.

    Raises ``RenderError`` (terminal, do not retry) when a font file is missing or unreadable,
    when a field contains a character the shipped fonts cannot draw, or when the content
    cannot be laid out.
    """
    styles.register_fonts()
    _check_drawable(document)
    buffer = BytesIO()
    template = BaseDocTemplate(
        buffer,
        pagesize=styles.PAGE_SIZE,
        leftMargin=styles.MARGIN_LEFT,
        rightMargin=styles.MARGIN_RIGHT,
        topMargin=styles.MARGIN_TOP,
        bottomMargin=styles.MARGIN_BOTTOM,
        title=f"{REPORT_TITLE} {_one_line(document.report_id)}",
        author=_one_line(document.lab_name),
        subject=_one_line(document.status_label),
        creator="Labpanel",
        lang="en-US",
        invariant=1,
        pageCompression=1,
        initialFontName=styles.FONT_REGULAR,
        initialFontSize=9,
        initialLeading=11,
    )
    # One frame without the default 6 pt padding: tables sized to CONTENT_WIDTH line up
    # exactly with the canvas-drawn header and footer rules.
    frame = Frame(
        styles.MARGIN_LEFT,
        styles.MARGIN_BOTTOM,
        styles.CONTENT_WIDTH,
        styles.PAGE_SIZE[1] - styles.MARGIN_TOP - styles.MARGIN_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="body",
    )
    template.addPageTemplates([PageTemplate(id="report", frames=[frame])])
    canvasmaker = partial(NumberedCanvas, report=document)
    with _build_lock:
        try:
            template.build(_story(document), canvasmaker=canvasmaker)
        except LayoutError as exc:
            raise RenderError(
                "Report content does not fit on a page: a result row, note or header is too long."
            ) from exc
    return buffer.getvalue()


# --- Validation -------------------------------------------------------------------------------


def _check_drawable(document: ReportDocument) -> None:
    """Refuse text no report font can draw, rather than print boxes in a patient name.

    The last defence: submission validators refuse such names first (``scripts``).
    """
    for label, value in _text_fields(document):
        undrawable = scripts.undrawable_characters(value, line_breaks=True)
        if undrawable:
            raise RenderError(
                f"Field {label} contains character U+{ord(undrawable[0]):04X}, "
                "which the report font cannot draw."
            )


def _text_fields(value: Any, label: str = "") -> list[tuple[str, str]]:
    """Every string in the document, however deeply nested, with a path naming it."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        found.append((label, value))
    elif is_dataclass(value):
        for field in fields(value):
            path = f"{label}.{field.name}" if label else field.name
            found.extend(_text_fields(getattr(value, field.name), path))
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            found.extend(_text_fields(item, f"{label}[{index}]"))
    return found


# --- Story ------------------------------------------------------------------------------------


def _story(document: ReportDocument) -> list[Flowable]:
    story: list[Flowable] = [
        _header(document),
        Spacer(1, 8),
        _identification(document),
        Spacer(1, 10),
    ]
    story += sections.amendment(document.amendment)
    story += results_table.banner(document.banner, document.notices)
    # never strand the "Results" heading at the foot of a page, away from its table
    story += [CondPageBreak(RESULTS_MIN_SPACE), _para("Results", styles.SECTION)]
    if document.results:
        story.append(results_table.results_table(document.results))
    else:
        story.append(_para("No results are reported in this report.", styles.BODY))
    # The family/role picture first: it is what the clinician asks for first.
    story += sections.summary(document.family_summary, document.role_summary)
    story += sections.findings(document.findings)
    story += sections.trend(document.trend)
    story += [Spacer(1, 10), _ruleset(document.ruleset_label)]
    if document.footnotes:
        story.append(Spacer(1, 6))
        story.append(_footnotes(document.footnotes))
    story += [Spacer(1, 12), _para("— End of report —", styles.END_MARK)]
    return story


def _header(document: ReportDocument) -> Table:
    left = [
        _para(document.lab_name, styles.LAB_NAME),
        _para(document.lab_address, styles.LAB_ADDRESS),
    ]
    right = [
        _para(REPORT_TITLE, styles.TITLE),
        _para(document.status_label, styles.STATUS),
    ]
    width = styles.CONTENT_WIDTH
    table = Table([[left, right]], colWidths=(width * 0.58, width * 0.42), hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                *_BASE_CELL,
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                ("LINEBELOW", (0, 0), (-1, -1), 1.5, styles.TEXT),
            ]
        )
    )
    return table


def _identification(document: ReportDocument) -> Table:
    left: list[tuple[str, str, Any]] = [
        ("Patient", document.patient_name, styles.ID_VALUE_BOLD),
        ("MRN", document.patient_mrn, styles.ID_VALUE_BOLD),
        ("Birth date", document.patient_birth_date, styles.ID_VALUE),
        ("Sex", document.patient_sex, styles.ID_VALUE),
        ("Age", document.patient_age, styles.ID_VALUE),
        ("Ordering clinician", document.ordering_clinician, styles.ID_VALUE),
    ]
    right: list[tuple[str, str, Any]] = [
        ("Accession", document.accession, styles.ID_VALUE_BOLD),
        ("Specimen type", document.specimen_type, styles.ID_VALUE),
        ("Specimen condition", document.specimen_condition, styles.ID_VALUE),
        ("Collected", document.collected_at, styles.ID_VALUE),
        ("Received", document.received_at, styles.ID_VALUE),
        ("Reported", document.reported_at, styles.ID_VALUE),
    ]
    # Method and instrument shared by every result: one line each across the block (when they
    # differ, each result's row says its own)
    across = [
        (label, value)
        for label, value in (("Method", document.method), ("Instrument", document.instrument))
        if value
    ]
    # who verified and released the results: one line each across the block
    across += [(line.label, line.text) for line in document.sign_out]
    rows: list[list[Any]] = []
    for index in range(max(len(left), len(right))):
        row: list[Any] = []
        for column in (left, right):
            if index < len(column):
                label, value, style = column[index]
                row += [_para(label, styles.ID_LABEL), _para(value, style)]
            else:
                row += ["", ""]
        rows.append(row)
    first_across = len(rows)
    for label, value in across:
        rows.append([_para(label, styles.ID_LABEL), _para(value, styles.ID_VALUE), "", ""])
    commands: list[tuple[Any, ...]] = [
        *_BASE_CELL,
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BOX", (0, 0), (-1, -1), 0.75, styles.RULE),
        ("LINEBEFORE", (2, 0), (2, first_across - 1), 0.75, styles.RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("TOPPADDING", (0, 0), (-1, 0), 5),
        ("BOTTOMPADDING", (0, -1), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ]
    if across:
        commands += [("LINEABOVE", (0, first_across), (-1, first_across), 0.5, styles.RULE)]
        commands += [("SPAN", (1, row), (-1, row)) for row in range(first_across, len(rows))]
        commands += [("TOPPADDING", (0, first_across), (-1, first_across), 3.5)]
    table = Table(rows, colWidths=styles.ID_COL_WIDTHS, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table


def _ruleset(ruleset_label: str) -> Text:
    return Text(
        f'<font name="{styles.FONT_BOLD}">Reference intervals and flags:</font> '
        f"{_markup(ruleset_label)}",
        styles.BODY,
    )


def _footnotes(footnotes: tuple[str, ...]) -> KeepTogether:
    items: list[Flowable] = [_para("Notes", styles.SECTION)]
    items += [
        Text(f"{number}.&nbsp;{_markup(text)}", styles.FOOTNOTE)
        for number, text in enumerate(footnotes, start=1)
    ]
    return KeepTogether(items)
