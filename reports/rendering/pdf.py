"""``render_pdf``: a ``ReportDocument`` in, PDF bytes out.

Pure function (STYLE.md item 24): reportlab and nothing else. No ORM, storage, settings or
clock. The PDF is built in reportlab's invariant mode, so identical documents give identical
bytes (stable checksums for the storage key).

Layout (US Letter, because the lab is a US CLIA laboratory):

* header: lab name and address, report title and status;
* patient / specimen identification block;
* abnormal-results banner when ``document.banner`` is non-empty (text marker, bold, thick box);
* results table (Analyte | Result | Units | Reference interval | Flag, note under the row),
  split across pages with the header row repeated;
* the rule set used, the footnotes, an end-of-report mark;
* on every page: a footer with patient name, MRN, report id, accession and "Page N of M";
  a running header with the patient on continuation pages.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields, is_dataclass
from functools import partial
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

from reports.rendering import scripts, sections, styles
from reports.rendering.document import ReportDocument, ResultLine
from reports.rendering.errors import RenderError
from reports.rendering.markup import BASE_CELL as _BASE_CELL
from reports.rendering.markup import markup as _markup
from reports.rendering.markup import one_line as _one_line
from reports.rendering.markup import para as _para

REPORT_TITLE = "Cytokine panel report"
BANNER_MARKER = "⚠ ABNORMAL RESULTS:"
NO_RANGE = "—"
BANNER_BORDER_WIDTH = 2.5
RESULTS_MIN_SPACE = 80.0  # heading + table header + two rows, in points
SEP = " · "

# reportlab's TTFont keeps per-document state on the shared font objects and its docs warn
# against building two documents with the same font at once; serialise builds in this process.
_build_lock = threading.Lock()


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
    canvasmaker = partial(_NumberedCanvas, report=document)
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


# --- Text helpers -----------------------------------------------------------------------------


def _flag_label(line: ResultLine) -> str:
    """'H High', 'HH Critical high', '< Below measuring range'; 'Normal' for code N."""
    code = line.flag_code.strip()
    parts = [code] if code and code != "N" else []
    if line.flag_text.strip():
        parts.append(line.flag_text.strip())
    return " ".join(parts)


# --- Story ------------------------------------------------------------------------------------


def _story(document: ReportDocument) -> list[Flowable]:
    story: list[Flowable] = [
        _header(document),
        Spacer(1, 8),
        _identification(document),
        Spacer(1, 10),
    ]
    story += sections.amendment(document.amendment)
    if document.banner.strip():
        story += [_banner(document.banner), Spacer(1, 10)]
    # never strand the "Results" heading at the foot of a page, away from its table
    story += [CondPageBreak(RESULTS_MIN_SPACE), Paragraph("Results", styles.SECTION)]
    if document.results:
        story.append(_results_table(document.results))
    else:
        story.append(Paragraph("No results are reported in this report.", styles.BODY))
    # The family/role picture first: it is what the clinician asks for first.
    story += sections.summary(document.family_summary, document.role_summary)
    story += sections.findings(document.findings)
    story += sections.trend(document.trend)
    story += [Spacer(1, 10), _ruleset(document.ruleset_label)]
    if document.footnotes:
        story.append(Spacer(1, 6))
        story.append(_footnotes(document.footnotes))
    story += [Spacer(1, 12), Paragraph("— End of report —", styles.END_MARK)]
    return story


def _header(document: ReportDocument) -> Table:
    left = [
        _para(document.lab_name, styles.LAB_NAME),
        _para(document.lab_address, styles.LAB_ADDRESS),
    ]
    right = [
        Paragraph(escape(REPORT_TITLE), styles.TITLE),
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
        ("Collected", document.collected_at, styles.ID_VALUE),
        ("Received", document.received_at, styles.ID_VALUE),
        ("Reported", document.reported_at, styles.ID_VALUE),
    ]
    rows: list[list[Any]] = []
    for index in range(max(len(left), len(right))):
        row: list[Any] = []
        for column in (left, right):
            if index < len(column):
                label, value, style = column[index]
                row += [Paragraph(escape(label), styles.ID_LABEL), _para(value, style)]
            else:
                row += ["", ""]
        rows.append(row)
    table = Table(rows, colWidths=styles.ID_COL_WIDTHS, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                *_BASE_CELL,
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.75, styles.RULE),
                ("LINEBEFORE", (2, 0), (2, -1), 0.75, styles.RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("TOPPADDING", (0, 0), (-1, 0), 5),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return table


def _banner(banner: str) -> Table:
    text = f"{escape(BANNER_MARKER)} {_markup(banner)}"
    # inset by the border width so the thick box's outer edge sits on the content edge
    width = styles.CONTENT_WIDTH - BANNER_BORDER_WIDTH
    table = Table([[Paragraph(text, styles.BANNER)]], colWidths=(width,), hAlign="CENTER")
    table.setStyle(
        TableStyle(
            [
                *_BASE_CELL,
                ("BOX", (0, 0), (-1, -1), BANNER_BORDER_WIDTH, styles.BANNER_BORDER),
                ("BACKGROUND", (0, 0), (-1, -1), styles.BANNER_FILL),
                ("TOPPADDING", (0, 0), (-1, -1), 7),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
                ("LEFTPADDING", (0, 0), (-1, -1), 9),
                ("RIGHTPADDING", (0, 0), (-1, -1), 9),
            ]
        )
    )
    return table


def _results_table(results: tuple[ResultLine, ...]) -> Table:
    rows: list[list[Any]] = [
        [
            Paragraph("Analyte", styles.CELL_HEAD),
            Paragraph("Result", styles.CELL_HEAD_RIGHT),
            Paragraph("Units", styles.CELL_HEAD),
            Paragraph("Reference interval", styles.CELL_HEAD),
            Paragraph("Flag", styles.CELL_HEAD),
        ]
    ]
    commands: list[tuple[Any, ...]] = [
        *_BASE_CELL,
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), styles.HEADER_FILL),
        ("LINEABOVE", (0, 0), (-1, 0), 1, styles.TEXT),
        ("LINEBELOW", (0, 0), (-1, 0), 1, styles.TEXT),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (1, 0), (1, -1), 8),
    ]
    for line in results:
        first = len(rows)
        abnormal = line.is_abnormal
        rows.append(
            [
                _para(line.analyte_name, styles.CELL_BOLD if abnormal else styles.CELL),
                _para(line.value_text, styles.CELL_RIGHT_BOLD if abnormal else styles.CELL_RIGHT),
                _para(line.unit, styles.CELL),
                _para(line.reference_text.strip() or NO_RANGE, styles.CELL),
                _para(_flag_label(line), styles.CELL_BOLD if abnormal else styles.CELL),
            ]
        )
        if line.note.strip():
            rows.append([Paragraph(f"Note: {_markup(line.note)}", styles.NOTE), "", "", "", ""])
            last = len(rows) - 1
            commands += [
                ("SPAN", (0, last), (-1, last)),
                ("TOPPADDING", (0, last), (-1, last), 0),
                ("BOTTOMPADDING", (0, first), (-1, first), 1.5),
                ("NOSPLIT", (0, first), (-1, last)),  # keep a result with its note
            ]
        last = len(rows) - 1
        if abnormal:
            commands.append(("BACKGROUND", (0, first), (-1, last), styles.ABNORMAL_FILL))
        commands.append(("LINEBELOW", (0, last), (-1, last), 0.4, styles.GRID))
    # the table's closing rule wins over the last row's hairline
    commands.append(("LINEBELOW", (0, -1), (-1, -1), 1, styles.TEXT))
    table = Table(rows, colWidths=styles.RESULT_COL_WIDTHS, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table


def _ruleset(ruleset_label: str) -> Paragraph:
    return Paragraph(
        f'<font name="{styles.FONT_BOLD}">Reference intervals and flags:</font> '
        f"{_markup(ruleset_label)}",
        styles.BODY,
    )


def _footnotes(footnotes: tuple[str, ...]) -> KeepTogether:
    items: list[Flowable] = [Paragraph("Notes", styles.SECTION)]
    items += [
        Paragraph(f"{number}.&nbsp;{_markup(text)}", styles.FOOTNOTE)
        for number, text in enumerate(footnotes, start=1)
    ]
    return KeepTogether(items)


# --- Page furniture: running header and "Page N of M" footer ----------------------------------


@dataclass(frozen=True, slots=True)
class _PageText:
    """The page furniture's text. The patient name stays in logical order (it may be
    shortened to fit, from its end); every other field is already prepared for drawing."""

    patient_name: str
    patient_mrn: str
    patient_dob: str
    reference: str  # "Report … · Accession …"; the page numbers are appended per page
    status: str


def _page_text(document: ReportDocument) -> _PageText:
    def drawn(text: str) -> str:
        return scripts.prepare(_one_line(text))

    return _PageText(
        patient_name=_one_line(document.patient_name),
        patient_mrn=drawn(document.patient_mrn),
        patient_dob=drawn(document.patient_birth_date),
        reference=(f"Report {drawn(document.report_id)}{SEP}Accession {drawn(document.accession)}"),
        status=drawn(document.status_label),
    )


def _width(text: str, font: str, size: float) -> float:
    """Width of prepared ``text`` drawn run by run (CJK runs in their CID font)."""
    return sum(
        float(stringWidth(chunk, run_font or font, size)) for run_font, chunk in scripts.runs(text)
    )


def _fit_size(text: str, font: str, width: float) -> float | None:
    """Largest font size (footer size down to the minimum) at which ``text`` fits ``width``."""
    natural = _width(text, font, styles.FOOTER_FONT_SIZE)
    if natural <= width:
        return styles.FOOTER_FONT_SIZE
    size = styles.FOOTER_FONT_SIZE * width / natural
    return size if size >= styles.FOOTER_MIN_FONT_SIZE else None


def _fit_ellipsized(text: str, font: str, width: float) -> tuple[str, float]:
    """Fit ``text`` by shrinking, then by cutting its end (last resort, absurdly long text)."""
    size = _fit_size(text, font, width)
    if size is not None:
        return text, size
    while len(text) > 1 and _fit_size(text + "…", font, width) is None:
        text = text[:-1]
    return text + "…", styles.FOOTER_MIN_FONT_SIZE


def _fit_patient(text: _PageText, font: str, width: float) -> tuple[str, float]:
    """The patient line, never losing the MRN: drop the DOB, then shorten the name if needed."""
    identifier = f"{SEP}MRN {text.patient_mrn}"
    shown = scripts.prepare(text.patient_name)
    for candidate in (
        f"Patient: {shown}{identifier}{SEP}DOB {text.patient_dob}",
        f"Patient: {shown}{identifier}",
        f"{shown}{identifier}",
    ):
        size = _fit_size(candidate, font, width)
        if size is not None:
            return candidate, size
    # shorten the name in logical order (its end goes), then prepare what is left
    name = text.patient_name
    while len(name) > 1 and _fit_size(f"{scripts.prepare(name)}…{identifier}", font, width) is None:
        name = name[:-1]
    return f"{scripts.prepare(name)}…{identifier}", styles.FOOTER_MIN_FONT_SIZE


class _NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
    """The reportlab recipe for "Page N of M": keep every page until ``save``, then draw.

    Pages are held as canvas state snapshots; at ``save`` the total is known and each page
    gets its running header and footer before it is emitted. Invariant mode is untouched.
    """

    def __init__(self, *args: Any, report: ReportDocument, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._labpanel_text = _page_text(report)
        self._labpanel_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._labpanel_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._labpanel_pages)
        for state in self._labpanel_pages:
            self.__dict__.update(state)
            self._draw_furniture(total)
            super().showPage()
        super().save()

    def _draw_furniture(self, total: int) -> None:
        text = self._labpanel_text
        page = int(self.getPageNumber())
        left = styles.MARGIN_LEFT
        right = styles.PAGE_SIZE[0] - styles.MARGIN_RIGHT
        full = styles.CONTENT_WIDTH
        gap = 12.0
        bold, regular = styles.FONT_BOLD, styles.FONT_REGULAR
        self.saveState()
        self.setFillColor(styles.TEXT)
        self.setStrokeColor(styles.RULE)
        self.setLineWidth(0.5)

        if page > 1:  # running header: the patient again, at the top of every later page
            top = styles.PAGE_SIZE[1] - styles.MARGIN_TOP + 16
            title = f"{REPORT_TITLE} (continued)"
            title_width = _width(title, regular, styles.FOOTER_FONT_SIZE)
            self._draw(title, styles.FOOTER_FONT_SIZE, regular, left, top)
            patient, size = _fit_patient(text, bold, full - title_width - gap)
            self._draw(patient, size, bold, right, top, align_right=True)
            self.line(left, top - 4, right, top - 4)

        base = styles.MARGIN_BOTTOM - 24
        self.line(left, base + 12, right, base + 12)
        patient, size = _fit_patient(text, bold, full)
        self._draw(patient, size, bold, left, base)
        reference, size = _fit_ellipsized(
            f"{text.reference}{SEP}Page {page} of {total}", regular, full
        )
        self._draw(reference, size, regular, left, base - 10)
        used = _width(reference, regular, size) + gap
        if text.status and full - used > 0:
            status, size = _fit_ellipsized(text.status, bold, full - used)
            self._draw(status, size, bold, right, base - 10, align_right=True)
        self.restoreState()

    def _draw(
        self, text: str, size: float, font: str, x: float, y: float, *, align_right: bool = False
    ) -> None:
        """Draw prepared ``text`` run by run: DejaVu in ``font``, CJK runs in their CID font."""
        if align_right:
            x -= _width(text, font, size)
        line = self.beginText(x, y)  # one text object: extraction reads one line
        parts = scripts.runs(text)
        for index, (run_font, chunk) in enumerate(parts):
            line.setFont(run_font or font, size)
            if index < len(parts) - 1:
                line.textOut(chunk)
            else:
                line.textLine(chunk)  # ends the line, as drawString does
        self.drawText(line)
