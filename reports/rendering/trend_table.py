"""The serial section: this panel's results beside the patient's earlier panels.

Pure layout (reportlab only): columns, cells and notes arrive as final strings from
``reports.trend_builder``.
"""

from __future__ import annotations

from typing import Any

from reportlab.platypus import CondPageBreak, Flowable, Paragraph, Spacer, Table, TableStyle

from reports.rendering import styles
from reports.rendering.document import TrendTable
from reports.rendering.markup import BASE_CELL, para

SECTION_MIN_SPACE = 90


def section(table_data: TrendTable | None) -> list[Flowable]:
    """The "Serial results" section, or nothing without a trend."""
    if table_data is None or not table_data.rows:
        return []
    width = styles.CONTENT_WIDTH
    first, unit, fold = width * 0.16, width * 0.09, width * 0.10
    per_column = (width - first - unit - fold) / max(1, len(table_data.columns))
    header = [
        Paragraph("Analyte", styles.CELL_HEAD),
        Paragraph("Units", styles.CELL_HEAD),
        *(para(column, styles.CELL_HEAD_RIGHT) for column in table_data.columns),
        Paragraph("vs baseline", styles.CELL_HEAD_RIGHT),
    ]
    rows: list[list[Any]] = [header]
    for row in table_data.rows:
        cells = [para(cell, styles.CELL_RIGHT) for cell in row.cells]
        if cells:
            cells[-1] = para(row.cells[-1], styles.CELL_RIGHT_BOLD)
        rows.append(
            [
                para(row.analyte_name, styles.CELL),
                para(row.unit, styles.CELL),
                *cells,
                para(row.fold_text, styles.CELL_RIGHT),
            ]
        )
    table = Table(
        rows,
        colWidths=(first, unit, *([per_column] * len(table_data.columns)), fold),
        hAlign="LEFT",
        repeatRows=1,
    )
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
    return [
        Spacer(1, 8),
        CondPageBreak(SECTION_MIN_SPACE),
        Paragraph("Serial results", styles.SECTION),
        para(table_data.note, styles.NOTE),
        Spacer(1, 3),
        table,
    ]
