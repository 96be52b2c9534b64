"""The banner and the results table.

The banner is one thick box with one statement per line: abnormal results, then results no
interval judged (grouped by why) and results that could not be placed. The table has one row per
result (Analyte | Result | Units | Reference interval | range bar | Flag) and, under it, the
conversion the flag was judged on and the engine's explanation; it splits across pages with its
header repeated. Meaning is carried by words and weight (bold), never by colour alone.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from reports.rendering import styles
from reports.rendering.document import Notice, ResultLine
from reports.rendering.markup import BASE_CELL, markup, para
from reports.rendering.range_bar import RangeBarFlowable
from reports.rendering.text_line import Text

BANNER_MARKER = "⚠ ABNORMAL RESULTS:"
NO_RANGE = "—"
BANNER_BORDER_WIDTH = 2.5


def flag_label(line: ResultLine) -> str:
    """'H High', 'HH Critical high', '< Below measuring range'; 'Normal' for code N."""
    code = line.flag_code.strip()
    parts = [code] if code and code != "N" else []
    if line.flag_text.strip():
        parts.append(line.flag_text.strip())
    return " ".join(parts)


def banner(text: str, notices: tuple[Notice, ...]) -> list[Flowable]:
    """The banner box, or nothing when there is nothing to say."""
    statements = [f"{escape(BANNER_MARKER)} {markup(text)}"] if text.strip() else []
    statements += [f"{escape('⚠ ' + notice.heading)}: {markup(notice.text)}" for notice in notices]
    if not statements:
        return []
    # inset by the border width so the thick box's outer edge sits on the content edge
    width = styles.CONTENT_WIDTH - BANNER_BORDER_WIDTH
    rows = [[Text(statement, styles.BANNER)] for statement in statements]
    table = Table(rows, colWidths=(width,), hAlign="CENTER")
    table.setStyle(
        TableStyle(
            [
                *BASE_CELL,
                ("BOX", (0, 0), (-1, -1), BANNER_BORDER_WIDTH, styles.BANNER_BORDER),
                ("BACKGROUND", (0, 0), (-1, -1), styles.BANNER_FILL),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, 0), 7),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 7),
                ("LEFTPADDING", (0, 0), (-1, -1), 9),
                ("RIGHTPADDING", (0, 0), (-1, -1), 9),
            ]
        )
    )
    return [table, Spacer(1, 10)]


def _value_cell(line: ResultLine, abnormal: bool) -> list[Flowable]:
    cell = [para(line.value_text, styles.CELL_RIGHT_BOLD if abnormal else styles.CELL_RIGHT)]
    if line.converted_text:
        cell.append(para(line.converted_text, styles.CONVERTED))
    return cell


def _row(line: ResultLine) -> list[Any]:
    abnormal = line.is_abnormal
    name = line.analyte_name + (f" {line.analyte_mark}" if line.analyte_mark else "")
    reference = line.reference_text.strip() or NO_RANGE
    if line.source_mark:
        reference += f" [{line.source_mark}]"
    bold_flag = abnormal or line.needs_review
    return [
        para(name, styles.CELL_BOLD if abnormal else styles.CELL),
        _value_cell(line, abnormal),
        para(line.unit, styles.CELL),
        para(reference, styles.CELL),
        RangeBarFlowable(line.bar) if line.bar is not None else "",
        para(flag_label(line), styles.CELL_BOLD if bold_flag else styles.CELL),
    ]


def results_table(results: tuple[ResultLine, ...]) -> Table:
    rows: list[list[Any]] = [
        [
            para("Analyte", styles.CELL_HEAD),
            para("Result", styles.CELL_HEAD_RIGHT),
            para("Units", styles.CELL_HEAD),
            para("Reference interval", styles.CELL_HEAD),
            para("Range bar", styles.CELL_HEAD),
            para("Flag", styles.CELL_HEAD),
        ]
    ]
    commands: list[tuple[Any, ...]] = [
        *BASE_CELL,
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
        rows.append(_row(line))
        notes = [f"Note: {line.note}"] if line.note.strip() else []
        if line.conversion.strip():
            notes.insert(0, line.conversion)
        if line.method_text.strip():
            notes.append(line.method_text)
        if notes:
            # one note as one plain cell where it can be (most are one line: "Note: 96.4 > 5.3")
            cell = (
                para(notes[0], styles.NOTE)
                if len(notes) == 1
                else Text("<br/>".join(markup(note) for note in notes), styles.NOTE)
            )
            rows.append([cell, "", "", "", "", ""])
            last = len(rows) - 1
            commands += [
                ("SPAN", (0, last), (-1, last)),
                ("TOPPADDING", (0, last), (-1, last), 0),
                ("BOTTOMPADDING", (0, first), (-1, first), 1.5),
                ("NOSPLIT", (0, first), (-1, last)),  # keep a result with its note
            ]
        last = len(rows) - 1
        if line.is_abnormal:
            commands.append(("BACKGROUND", (0, first), (-1, last), styles.ABNORMAL_FILL))
        commands.append(("LINEBELOW", (0, last), (-1, last), 0.4, styles.GRID))
    # the table's closing rule wins over the last row's hairline
    commands.append(("LINEBELOW", (0, -1), (-1, -1), 1, styles.TEXT))
    table = Table(rows, colWidths=styles.RESULT_COL_WIDTHS, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table
