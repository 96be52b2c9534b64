"""The serial section: this panel's results beside the patient's earlier panels.

Pure layout (reportlab only): columns, cells and notes arrive as final strings from
``reports.trend_builder``.
"""

from __future__ import annotations

from typing import Any

from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from reports.rendering import styles, trend_chart
from reports.rendering.document import TrendColumn, TrendTable
from reports.rendering.markup import BASE_CELL, para
from reports.rendering.text_line import Text

CURRENT_MARK = "this report"
BASELINE_MARK = "baseline"


def _column_head(column: TrendColumn) -> Text:
    lines = [column.title, column.accession]
    if column.is_baseline:
        lines.append(BASELINE_MARK)
    if column.is_current:
        lines.append(CURRENT_MARK)
    style = styles.CELL_HEAD_RIGHT if column.is_current else styles.CELL_RIGHT
    return para("\n".join(lines), style)


def _table(table_data: TrendTable) -> Table:
    width = styles.CONTENT_WIDTH
    first, unit, fold = width * 0.16, width * 0.09, width * 0.13
    per_column = (width - first - unit - fold) / max(1, len(table_data.columns))
    header = [
        para("Analyte", styles.CELL_HEAD),
        para("Units", styles.CELL_HEAD),
        *(_column_head(column) for column in table_data.columns),
        para("This report vs baseline", styles.CELL_HEAD_RIGHT),
    ]
    rows: list[list[Any]] = [header]
    for row in table_data.rows:
        rows.append(
            [
                para(row.analyte_name, styles.CELL),
                para(row.unit, styles.CELL),
                *(
                    para(cell, styles.CELL_RIGHT_BOLD if column.is_current else styles.CELL_RIGHT)
                    for column, cell in zip(table_data.columns, row.cells, strict=True)
                ),
                para(row.fold_text, styles.CELL_RIGHT),
            ]
        )
    commands: list[tuple[Any, ...]] = [
        *BASE_CELL,
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, styles.GRID),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, styles.RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for index, column in enumerate(table_data.columns, start=2):
        if column.is_current:  # a box as well as bold type: it survives a photocopy
            commands += [
                ("BOX", (index, 0), (index, -1), 1, styles.TEXT),
                ("BACKGROUND", (index, 0), (index, -1), styles.HEADER_FILL),
            ]
    table = Table(
        rows,
        colWidths=(first, unit, *([per_column] * len(table_data.columns)), fold),
        hAlign="LEFT",
        repeatRows=1,
    )
    table.setStyle(TableStyle(commands))
    return table


def section(table_data: TrendTable | None) -> list[Flowable]:
    """The "Serial results" section: notes (anchor, baseline, why no fold change, panels set
    apart, results set apart for their method), the table, then one chart per elevated analyte;
    nothing without a trend."""
    if table_data is None or not (
        table_data.rows
        or table_data.excluded_note
        or table_data.method_note
        or table_data.omitted_note
    ):
        return []
    # The heading, its notes and the table stay on one page (a table longer than a page still
    # splits, its header row repeated): a serial table is read across, never across a break.
    kept: list[Flowable] = [para("Serial results", styles.SECTION)]
    notes = (
        table_data.omitted_note,
        table_data.note,
        table_data.fold_note,
        table_data.excluded_note,
        table_data.method_note,
    )
    for note in notes:
        if note:
            kept.append(para(note, styles.NOTE))
    if table_data.rows:
        kept += [Spacer(1, 3), _table(table_data)]
    story: list[Flowable] = [Spacer(1, 8), KeepTogether(kept)]
    if table_data.charts:
        story += [Spacer(1, 6), trend_chart.flowable(table_data.charts)]
    return story
