"""Labpanel's wide CSV layout: one specimen per row, one column per analyte with its unit in the
header (``"IL-6 (pg/mL)"``, read by ``split_unit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from panels.intake.files.common import (
    Context,
    check_identifier,
    records,
)
from panels.intake.files.labpanel import (
    OPTIONAL_COLUMNS,
    WIDE_COLUMNS,
    Header,
    Patients,
    Rows,
    Sample,
    duplicate_value,
    read_header,
    reading_cached,
    report_reading,
)
from panels.intake.files.types import (
    CellValue,
    ParsedSample,
    ProblemCode,
    ValueKind,
)
from panels.intake.files.values import EMPTY, Reading, decimal_text

if TYPE_CHECKING:
    from _csv import Reader as CsvReader


_UNIT_WORDS = frozenset({"%", "u", "iu", "ku", "mu", "ratio", "index", "au", "mfi"})


@dataclass(frozen=True)
class _AnalyteColumn:
    position: int
    header: str
    label: str
    key: str
    unit: str | None


def split_unit(header: str) -> tuple[str, str | None]:
    """``"IL-6 (pg/mL)"`` / ``"IL-6 [pg/mL]"`` → ``("IL-6", "pg/mL")``. A bracket that does
    not hold a unit (``"IL-12 (p70)"``) stays part of the label and the unit is None."""
    text = header.strip()
    for opening, closing in (("(", ")"), ("[", "]")):
        if text.endswith(closing) and opening in text:
            label, _, inside = text[: -len(closing)].rpartition(opening)
            unit = inside.strip()
            if label.strip() and unit and ("/" in unit or unit.casefold() in _UNIT_WORDS):
                return label.strip(), unit
    return text, None


def parse_wide(reader: CsvReader, ctx: Context) -> tuple[list[ParsedSample], dict[str, str]]:
    known = (*WIDE_COLUMNS, *OPTIONAL_COLUMNS)
    rows_in = records(reader, ctx.lines, ctx.problems)
    header = read_header(rows_in, ctx, known=known, required=WIDE_COLUMNS)
    if header is None:
        return [], {}
    columns = _analyte_columns(header, ctx)
    patients = Patients(header, ctx, id_column="accession")
    i_accession = header.index["accession"]
    accession_column = header.cells[i_accession]
    i_dilution = header.index.get("dilution_factor")
    groups: dict[str, list[_AnalyteColumn]] = {}
    for column in columns:
        groups.setdefault(column.key, []).append(column)
    shared = {key for key, group in groups.items() if len(group) > 1}
    samples: dict[str, Sample] = {}
    readings: dict[str, Reading] = {}
    rows = Rows(rows_in, header, ctx)
    for start, row in rows:
        accession = row[i_accession].strip()
        if not accession:
            patients.missing_id(start, row)
            continue
        if accession in samples:
            first = samples[accession]
            ctx.problems.add(
                start,
                accession_column,
                ProblemCode.DUPLICATE_ROW,
                f"line {start}: accession {accession!r} is already on line {first.row}; the wide "
                "layout has one row per specimen, so this row was not read",
            )
            continue
        check_identifier(accession, start, accession_column, ctx.problems, what="accession")
        fields, raw_fields = patients.read(start, row)
        sample = samples[accession] = Sample(start, accession, fields, raw_fields)
        dilution = None
        if i_dilution is not None:
            dilution = decimal_text(row[i_dilution], decimal_comma=ctx.decimal_comma) or None
        for column in columns:
            raw = row[column.position]
            reading = reading_cached(readings, raw, ctx.decimal_comma)
            if reading.kind is ValueKind.NUMBER:
                if ctx.decimal_comma:
                    ctx.note_number(raw, start, column.header)
            else:
                report_reading(reading, raw, start, column.header, ctx)
            cell = CellValue(
                start,
                column.header,
                column.label,
                None,
                raw,
                reading.kind,
                reading.text,
                reading.extrapolated,
                column.unit,
                dilution,
            )
            if column.key in shared and reading is not EMPTY:
                first_cell = sample.seen.get(column.key)
                if first_cell is not None:
                    duplicate_value(
                        ctx,
                        start,
                        column.header,
                        accession,
                        column.label,
                        raw,
                        column.unit,
                        first_cell,
                    )
                    continue
                sample.seen[column.key] = cell
            sample.values.append(cell)
    if rows.data_rows == 0:
        ctx.problems.add(None, None, ProblemCode.NO_ROWS, "the file has a header but no data rows")
    return [sample.freeze(sample.sample_id) for sample in samples.values()], {}


def _analyte_columns(header: Header, ctx: Context) -> list[_AnalyteColumn]:
    columns: list[_AnalyteColumn] = []
    seen: dict[tuple[str, str | None], str] = {}
    for position in header.extra:
        text = header.cells[position]
        if not text:
            header.unnamed(
                position,
                ctx,
                ProblemCode.UNIT_MISSING,
                "write the analyte and its unit, e.g. 'IL-6 (pg/mL)'",
            )
            continue
        label, unit = split_unit(text)
        if unit is None:
            ctx.problems.add(
                header.row,
                text,
                ProblemCode.UNIT_MISSING,
                f"column {text!r} has no unit; write it in the header, e.g. '{label} (pg/mL)' or "
                f"'{label} [pg/mL]'",
            )
        key = (label.casefold(), unit)
        if key in seen:
            ctx.problems.add(
                header.row,
                text,
                ProblemCode.DUPLICATE_COLUMN,
                f"column {text!r} repeats column {seen[key]!r}; a value given in both is an error",
                "warning",
            )
        seen.setdefault(key, text)
        columns.append(_AnalyteColumn(position, text, label, label.casefold(), unit))
    if not columns:
        ctx.problems.add(
            header.row,
            None,
            ProblemCode.MISSING_COLUMN,
            "the header has no analyte columns; the wide layout needs one column per analyte, "
            "e.g. 'IL-6 (pg/mL)'",
        )
    return columns
