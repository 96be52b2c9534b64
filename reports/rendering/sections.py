"""The report's panel-level sections: pattern findings, the family/role summary, the trend.

Each function returns the flowables of one section, or nothing when the document has no
content for it. Findings are carried by words ("Met", "UNVERIFIED criterion") and weight,
never by colour alone.
"""

from __future__ import annotations

from typing import Any

from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Spacer,
    Table,
    TableStyle,
)

from reports.rendering import styles, trend_table
from reports.rendering.document import Amendment, FindingLine, SummaryLine, TrendTable
from reports.rendering.markup import BASE_CELL, markup, para
from reports.rendering.text_line import Text

UNVERIFIED_MARK = "UNVERIFIED criterion"
SECTION_MIN_SPACE = 90


def findings(lines: tuple[FindingLine, ...]) -> list[Flowable]:
    if not lines:
        return []
    story: list[Flowable] = [
        Spacer(1, 10),
        CondPageBreak(SECTION_MIN_SPACE),
        para("Findings", styles.SECTION),
    ]
    for line in lines:
        status = markup(line.status_text)
        if line.is_positive:
            status = f"<b>{status.upper()}</b>"
        head = f"<b>{markup(line.name)}</b> — {status}"
        if not line.is_verified:
            head += f" — <b>{markup(UNVERIFIED_MARK)}</b>"
        statement_style = styles.CELL_BOLD if line.is_positive else styles.CELL
        items: list[Flowable] = [
            Text(head, styles.CELL),
            para(line.statement, statement_style),
        ]
        if line.provenance:
            items.append(para(line.provenance, styles.CELL_BOLD))
        if line.evidence:
            items.append(para(f"Evidence: {line.evidence}", styles.NOTE))
        if line.source:
            items.append(para(line.source, styles.NOTE))
        items.append(Spacer(1, 4))
        story.append(KeepTogether(items))
    return story


def _summary_rows(title: str, lines: tuple[SummaryLine, ...]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            para(title, styles.CELL_HEAD),
            para("Measured", styles.CELL_HEAD_RIGHT),
            para("Elevated", styles.CELL_HEAD),
            para("Not judged", styles.CELL_HEAD),
        ]
    ]
    for line in lines:
        rows.append(
            [
                para(line.label, styles.CELL),
                para(str(line.measured), styles.CELL_RIGHT),
                para(line.elevated, styles.CELL_BOLD if line.has_elevated else styles.CELL),
                para(line.not_judged or "—", styles.CELL_BOLD if line.not_judged else styles.CELL),
            ]
        )
    return rows


def summary(family: tuple[SummaryLine, ...], role: tuple[SummaryLine, ...]) -> list[Flowable]:
    if not family and not role:
        return []
    width = styles.CONTENT_WIDTH
    widths = (width * 0.27, width * 0.12, width * 0.29, width * 0.32)
    story: list[Flowable] = [
        Spacer(1, 8),
        CondPageBreak(SECTION_MIN_SPACE),
        para("Summary by family and role", styles.SECTION),
    ]
    for title, lines in (("Family", family), ("Role", role)):
        if not lines:
            continue
        table = Table(_summary_rows(title, lines), colWidths=widths, hAlign="LEFT", repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    *BASE_CELL,
                    ("BACKGROUND", (0, 0), (-1, 0), styles.HEADER_FILL),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, styles.GRID),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story += [table, Spacer(1, 4)]
    return story


def trend(table_data: TrendTable | None) -> list[Flowable]:
    """The serial section: drawn by :mod:`reports.rendering.trend_table`."""
    return trend_table.section(table_data)


def amendment(note: Amendment | None) -> list[Flowable]:
    """The amendment box: which report this one replaces, why, and every previous and
    corrected value side by side (the original report is kept unchanged)."""
    if note is None:
        return []
    rows: list[list[Any]] = [
        [
            para("Analyte", styles.CELL_BOLD),
            para("Previously reported", styles.CELL_BOLD),
            para("Corrected", styles.CELL_BOLD),
        ]
    ]
    rows += [
        [
            para(line.analyte_name, styles.CELL),
            para(line.previous, styles.CELL),
            para(line.corrected, styles.CELL_BOLD),
        ]
        for line in note.corrections
    ]
    width = styles.CONTENT_WIDTH
    table = Table(rows, colWidths=(width * 0.3, width * 0.35, width * 0.35), repeatRows=1)
    table.setStyle(TableStyle([*BASE_CELL, ("LINEBELOW", (0, 0), (-1, 0), 0.8, styles.RULE)]))
    head = f"<b>{markup(note.mark)}</b> — replaces {markup(note.replaces)}"
    return [
        KeepTogether(
            [
                Text(head, styles.SECTION),
                para(f"Reason: {note.reason}", styles.CELL),
                Spacer(1, 4),
                table,
            ]
        ),
        Spacer(1, 10),
    ]
