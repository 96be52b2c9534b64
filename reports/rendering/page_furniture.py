"""The page furniture: a running header with the patient on continuation pages, and on every
page a footer with patient name, MRN, report id, accession and "Page N of M". A report before
release carries its PRELIMINARY mark at the top and the foot of every page.

Drawn on the canvas at save time (reportlab's "Page N of M" recipe); text is fitted by
shrinking, never by losing the MRN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from reports.rendering import scripts, styles
from reports.rendering.document import ReportDocument
from reports.rendering.markup import one_line as _one_line

REPORT_TITLE = "Cytokine panel report"
SEP = " · "


@dataclass(frozen=True, slots=True)
class _PageText:
    """The page furniture's text. The patient name stays in logical order (it may be
    shortened to fit, from its end); every other field is already prepared for drawing."""

    patient_name: str
    patient_mrn: str
    patient_dob: str
    reference: str  # "Report … · Accession …"; the page numbers are appended per page
    status: str
    mark: str  # "PRELIMINARY — not verified/released", or ""


def _page_text(document: ReportDocument) -> _PageText:
    def drawn(text: str) -> str:
        return scripts.prepare(_one_line(text))

    return _PageText(
        patient_name=_one_line(document.patient_name),
        patient_mrn=drawn(document.patient_mrn),
        patient_dob=drawn(document.patient_birth_date),
        reference=(f"Report {drawn(document.report_id)}{SEP}Accession {drawn(document.accession)}"),
        status=drawn(document.status_label),
        mark=drawn(document.preliminary_mark),
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


class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab ships no type hints
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
        if text.mark:  # above everything at the top, below everything at the foot
            mark, size = _fit_ellipsized(text.mark, bold, full)
            for y in (styles.PAGE_SIZE[1] - styles.MARGIN_TOP + 32, base - 21):
                self._draw(
                    mark,
                    size,
                    bold,
                    left + (full + _width(mark, bold, size)) / 2,
                    y,
                    align_right=True,
                )
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
