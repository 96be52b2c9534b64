"""Labpanel's own CSV layouts: long (one result per row), wide (one specimen per row), and the
manifest that maps instrument sample IDs to accessions and patients. One header reader, one
patient reader, one value reader serve all three."""

from __future__ import annotations

import csv
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING

from panels.intake.files.common import (
    Context,
    check_date,
    check_identifier,
    csv_error,
    formula_warning,
    is_blank,
    records,
)
from panels.intake.files.types import (
    CellValue,
    ParsedSample,
    PatientFields,
    ProblemCode,
    SampleKind,
    ValueKind,
    make_cell,
)
from panels.intake.files.values import EMPTY, Reading, decimal_text, is_formula, read_value

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

PATIENT_COLUMNS = (
    "mrn",
    "family_name",
    "given_name",
    "birth_date",
    "sex",
    "specimen_type",
    "collected_at",
    "ordering_clinician",
)
DATE_COLUMNS = frozenset({"birth_date", "collected_at"})
LONG_COLUMNS = ("accession", *PATIENT_COLUMNS, "analyte", "value", "unit")
WIDE_COLUMNS = ("accession", *PATIENT_COLUMNS)
MANIFEST_COLUMNS = ("sample_id", "accession", *PATIENT_COLUMNS)
OPTIONAL_COLUMNS = ("dilution_factor",)
_UNIT_WORDS = frozenset({"%", "u", "iu", "ku", "mu", "ratio", "index", "au", "mfi"})
_CACHE_LIMIT = 100_000
_DIGITS = frozenset("0123456789")
_MISSING: str = "\x00missing"  # a cache-miss marker no cell can equal (cells hold no NUL)

Records = Iterator[tuple[int, list[str]]]


@dataclass
class Header:
    row: int
    cells: list[str]  # as written, stripped
    index: dict[str, int]  # folded known name -> position
    extra: list[int]  # positions of columns that are not known names


@dataclass
class _Sample:
    row: int
    sample_id: str
    patient: PatientFields
    patient_raw: tuple[str, ...]
    values: list[CellValue] = field(default_factory=list)
    seen: dict[str, CellValue] = field(default_factory=dict)

    def freeze(self, accession: str | None) -> ParsedSample:
        return ParsedSample(
            row=self.row,
            sample_id=self.sample_id,
            kind=SampleKind.PATIENT,
            well=None,
            patient=self.patient,
            values=tuple(self.values),
            accession=accession,
        )


def read_header(
    records: Records, ctx: Context, *, known: tuple[str, ...], required: tuple[str, ...]
) -> Header | None:
    """The first non-blank record, checked: one error listing every missing column."""
    for start, row in records:
        if is_blank(row) or (start == 1 and row[0].casefold().startswith("sep=")):
            continue  # Excel's "sep=;" line declares the delimiter; it is not the header
        cells = [cell.strip() for cell in row]
        if cells and cells[0].startswith("\ufeff"):
            cells[0] = cells[0].lstrip("\ufeff").strip()
        while cells and not cells[-1]:
            cells.pop()
        index: dict[str, int] = {}
        extra: list[int] = []
        for position, cell in enumerate(cells):
            name = cell.casefold().replace(" ", "_")
            if name in known:
                if name in index:
                    ctx.problems.add(
                        start,
                        cell,
                        ProblemCode.DUPLICATE_COLUMN,
                        f"column {cell!r} appears twice in the header (columns "
                        f"{index[name] + 1} and {position + 1}); only the first is read",
                    )
                    continue
                index[name] = position
            else:
                extra.append(position)
        missing = [name for name in required if name not in index]
        if missing:
            ctx.problems.add(
                start,
                None,
                ProblemCode.MISSING_COLUMN,
                f"the header on line {start} lacks the required column(s): {', '.join(missing)}",
            )
            return None
        return Header(start, cells, index, extra)
    ctx.problems.add(None, None, ProblemCode.NO_ROWS, "the file has no header row")
    return None


def _warn_unknown(header: Header, ctx: Context, *, known: tuple[str, ...]) -> None:
    for position in header.extra:
        name = header.cells[position]
        if not name:
            ctx.problems.add(
                header.row,
                None,
                ProblemCode.UNKNOWN_COLUMN,
                f"column {position + 1} of the header on line {header.row} has no name; its "
                "cells are not read",
                "warning",
            )
            continue
        ctx.problems.add(
            header.row,
            name,
            ProblemCode.UNKNOWN_COLUMN,
            f"column {name!r} is not a Labpanel column and is not read (known columns: "
            f"{', '.join(known)})",
            "warning",
        )


class _Rows:
    """Checks every record's length against the header; a short last line is a truncation."""

    def __init__(self, records: Records, header: Header, ctx: Context) -> None:
        self.records = records
        self.width = len(header.cells)
        self.ctx = ctx
        self.data_rows = 0

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        width = self.width
        pending: tuple[int, list[str]] | None = None
        for start, row in self.records:
            if pending is not None:
                self._short(*pending, last=False)
                pending = None
            if len(row) != width:
                if len(row) > width and not any(cell.strip() for cell in row[width:]):
                    row = row[:width]
                elif is_blank(row):
                    continue
                elif len(row) < width:
                    pending = (start, row)
                    continue
                else:
                    self.ctx.problems.add(
                        start,
                        None,
                        ProblemCode.ROW_LENGTH,
                        f"line {start} has {len(row)} cells but the header has {width}; the row "
                        "was not read (a stray delimiter or an unquoted comma?)",
                    )
                    continue
            self.data_rows += 1
            yield start, row
        if pending is not None:
            self._short(*pending, last=True)

    def _short(self, start: int, row: list[str], *, last: bool) -> None:
        _short_row(self.ctx, start, row, self.width, last=last)


class _Patients:
    """Reads the patient/specimen columns of a row; flags mangled IDs, dates and formulas."""

    def __init__(self, header: Header, ctx: Context, *, id_column: str) -> None:
        self.ctx = ctx
        self.positions = tuple(header.index[name] for name in PATIENT_COLUMNS)
        self.names = tuple(header.cells[position] for position in self.positions)
        self.get = itemgetter(*self.positions)
        self.id_name = header.cells[header.index[id_column]]

    def read(self, start: int, row: list[str]) -> tuple[PatientFields, tuple[str, ...]]:
        raw: tuple[str, ...] = self.get(row)
        fields = tuple(cell.strip() for cell in raw)
        problems = self.ctx.problems
        for name, column, value in zip(PATIENT_COLUMNS, self.names, fields, strict=True):
            if not value:
                continue
            if name == "mrn":
                check_identifier(value, start, column, problems, what="MRN")
            elif name in DATE_COLUMNS:
                check_date(value, start, column, problems)
            elif value[0] in "=+-@" and is_formula(value):
                formula_warning(value, start, column, problems)
        return PatientFields(*fields), raw

    def compare(self, start: int, row: list[str], sample: _Sample, accession: str) -> None:
        first = sample.patient
        for name, column, position in zip(PATIENT_COLUMNS, self.names, self.positions, strict=True):
            value = row[position].strip()
            before = getattr(first, name)
            if value != before:
                self.ctx.problems.add(
                    start,
                    column,
                    ProblemCode.PATIENT_FIELD_DIFFERS,
                    f"line {start}: {column} is {value!r} but {before!r} on line {sample.row} for "
                    f"accession {accession!r}; every row of one accession must describe the same "
                    "patient and specimen",
                )

    def missing_id(self, start: int, row: list[str]) -> None:
        self.ctx.problems.add(
            start,
            self.id_name,
            ProblemCode.SAMPLE_WITHOUT_ID,
            f"line {start} has no {self.id_name}; the row was not read",
        )


def _reading(cache: dict[str, Reading], raw: str, decimal_comma: bool) -> Reading:
    reading = cache.get(raw)
    if reading is None:
        reading = read_value(raw, decimal_comma=decimal_comma)
        if len(cache) < _CACHE_LIMIT:
            cache[raw] = reading
    return reading


def report_reading(reading: Reading, raw: str, row: int, column: str, ctx: Context) -> None:
    """The problems a value cell carries (its kind and text are already in the reading)."""
    if reading.formula:
        formula_warning(raw, row, column, ctx.problems)
    if reading.code is not None:
        ctx.problems.add(row, column, reading.code, f"line {row}, {column}: {reading.message}")


# ---------------------------------------------------------------- long layout


def parse_long(reader: CsvReader, ctx: Context) -> tuple[list[ParsedSample], dict[str, str]]:
    known = (*LONG_COLUMNS, *OPTIONAL_COLUMNS)
    header = read_header(
        records(reader, ctx.lines, ctx.problems), ctx, known=known, required=LONG_COLUMNS
    )
    if header is None:
        return [], {}
    _warn_unknown(header, ctx, known=known)
    long = _Long(header, ctx)
    lines, problems = ctx.lines, ctx.problems
    collecting = gc.isenabled()
    gc.disable()  # millions of small frozen objects: no cycles to find, and the scans cost ~20%
    try:
        while True:
            try:
                long.run(reader)
                break
            except csv.Error as error:
                if not csv_error(error, reader, lines, problems):
                    break
    finally:
        if collecting:
            gc.enable()
    long.finish()
    return [sample.freeze(sample.sample_id) for sample in long.samples.values()], {}


class _Long:
    """The long layout's row loop, kept tight: it runs once per result."""

    def __init__(self, header: Header, ctx: Context) -> None:
        self.header = header
        self.ctx = ctx
        self.patients = _Patients(header, ctx, id_column="accession")
        index = header.index
        self.positions = (index["accession"], index["analyte"], index["value"], index["unit"])
        self.i_dilution = index.get("dilution_factor")
        self.width = len(header.cells)
        self.samples: dict[str, _Sample] = {}
        self.by_raw: dict[str, _Sample] = {}
        self.pending: tuple[int, list[str]] | None = None
        self.data_rows = 0

    def run(self, reader: CsvReader) -> None:
        ctx = self.ctx
        lines, problems = ctx.lines, ctx.problems
        header = self.header
        i_accession, i_analyte, i_value, i_unit = self.positions
        i_dilution = self.i_dilution
        value_column = header.cells[i_value]
        analyte_column = header.cells[i_analyte]
        width = self.width
        by_raw = self.by_raw
        patients_get = self.patients.get
        readings: dict[str, Reading] = {}
        labels: dict[str, tuple[str, str, bool]] = {}  # raw -> (label, key, plain)
        units: dict[str, str | None] = {}
        dilutions: dict[str, str | None] = {}
        decimal_comma = ctx.decimal_comma
        number = ValueKind.NUMBER
        digits = _DIGITS
        missing = _MISSING
        done = lines.done
        next_report = lines.next_report
        odd = self.pending is not None
        data_rows = 0
        try:
            for row in reader:
                start = done + 1
                done = reader.line_num
                if done >= next_report:
                    lines.done = done
                    lines.tick()
                    next_report = lines.next_report
                if len(row) != width or odd:
                    lines.done = done
                    fixed = self._odd_row(start, row)
                    odd = self.pending is not None
                    if fixed is None:
                        continue
                    row = fixed
                data_rows += 1
                sample = by_raw.get(row[i_accession])
                if sample is None:
                    lines.done = done
                    sample = self._new_row_sample(start, row)
                    if sample is None:
                        continue
                elif patients_get(row) != sample.patient_raw:
                    self.patients.compare(start, row, sample, sample.sample_id)
                analyte = row[i_analyte]
                label = labels.get(analyte)
                if label is None:
                    text = analyte.strip()
                    label = (text, text.casefold(), bool(text) and text[0] not in "=+-@")
                    if len(labels) < _CACHE_LIMIT:
                        labels[analyte] = label
                if not label[2]:
                    if not label[0]:
                        problems.add(
                            start,
                            analyte_column,
                            ProblemCode.ANALYTE_MISSING,
                            f"line {start} has a value but no analyte; the row was not read",
                        )
                        continue
                    if is_formula(label[0]):
                        formula_warning(analyte, start, analyte_column, problems)
                raw = row[i_value]
                kind: ValueKind
                text_value: str | None
                if (
                    raw
                    and raw[0] in digits
                    and raw[-1] in digits
                    and raw.isascii()
                    and raw.replace(".", "", 1).isdigit()
                ):
                    kind, text_value, extrapolated = number, raw, False
                    if decimal_comma and ctx.first_point is None and "." in raw:
                        ctx.note_number(raw, start, value_column)
                else:
                    reading = readings.get(raw)
                    if reading is None:
                        reading = _reading(readings, raw, decimal_comma)
                    kind, text_value, extrapolated = (
                        reading.kind,
                        reading.text,
                        reading.extrapolated,
                    )
                    if kind is number:
                        if decimal_comma:
                            ctx.note_number(raw, start, value_column)
                    elif reading.code is not None:
                        report_reading(reading, raw, start, value_column, ctx)
                unit_raw = row[i_unit]
                unit = units.get(unit_raw, missing)
                if unit is missing:
                    unit = unit_raw.strip() or None
                    if len(units) < _CACHE_LIMIT:
                        units[unit_raw] = unit
                if i_dilution is None:
                    dilution = None
                else:
                    dilution_raw = row[i_dilution]
                    dilution = dilutions.get(dilution_raw, missing)
                    if dilution is missing:
                        dilution = decimal_text(dilution_raw, decimal_comma=decimal_comma) or None
                        if len(dilutions) < _CACHE_LIMIT:
                            dilutions[dilution_raw] = dilution
                key = label[1]
                seen = sample.seen
                if key in seen:
                    _duplicate(
                        ctx, start, value_column, sample.sample_id, label[0], raw, unit, seen[key]
                    )
                    continue
                cell = make_cell(
                    start,
                    value_column,
                    label[0],
                    None,
                    raw,
                    kind,
                    text_value,
                    extrapolated,
                    unit,
                    dilution,
                )
                sample.values.append(cell)
                seen[key] = cell
        finally:
            self.data_rows += data_rows
            lines.done = done

    def _odd_row(self, start: int, row: list[str]) -> list[str] | None:
        """A row of the wrong width (or the row after a short one): fixed, or None to skip."""
        if self.pending is not None:
            self._short(*self.pending, last=False)
            self.pending = None
        width = self.width
        if len(row) == width:
            return row
        if len(row) > width and not any(cell.strip() for cell in row[width:]):
            return row[:width]
        if is_blank(row):
            return None
        if len(row) < width:
            self.pending = (start, row)
            return None
        self.ctx.problems.add(
            start,
            None,
            ProblemCode.ROW_LENGTH,
            f"line {start} has {len(row)} cells but the header has {width}; the row was not "
            "read (a stray delimiter or an unquoted comma?)",
        )
        return None

    def _short(self, start: int, row: list[str], *, last: bool) -> None:
        _short_row(self.ctx, start, row, self.width, last=last)

    def _new_row_sample(self, start: int, row: list[str]) -> _Sample | None:
        raw = row[self.positions[0]]
        accession = raw.strip()
        if not accession:
            self.patients.missing_id(start, row)
            return None
        sample = self.samples.get(accession)
        if sample is None:
            column = self.header.cells[self.positions[0]]
            check_identifier(accession, start, column, self.ctx.problems, what="accession")
            fields, raw_fields = self.patients.read(start, row)
            sample = self.samples[accession] = _Sample(start, accession, fields, raw_fields)
        elif self.patients.get(row) != sample.patient_raw:
            self.patients.compare(start, row, sample, accession)
        if len(self.by_raw) < _CACHE_LIMIT * 10:
            self.by_raw[raw] = sample
        return sample

    def finish(self) -> None:
        if self.pending is not None:
            self._short(*self.pending, last=True)
            self.pending = None
        if self.data_rows == 0:
            self.ctx.problems.add(
                None, None, ProblemCode.NO_ROWS, "the file has a header but no data rows"
            )


def _short_row(ctx: Context, start: int, row: list[str], width: int, *, last: bool) -> None:
    if last and not ctx.ends_with_newline:
        ctx.problems.add(
            start,
            None,
            ProblemCode.TRUNCATED,
            f"the last line ({start}) stops after {len(row)} of {width} cells; the file was cut "
            "off, and that line was not read",
        )
    else:
        ctx.problems.add(
            start,
            None,
            ProblemCode.ROW_LENGTH,
            f"line {start} has {len(row)} cells but the header has {width}; the row was not read",
        )


def _duplicate(
    ctx: Context,
    start: int,
    column: str,
    sample_id: str,
    label: str,
    raw: str,
    unit: str | None,
    first: CellValue,
) -> None:
    if (unit or "") != (first.unit or ""):
        ctx.problems.add(
            start,
            column,
            ProblemCode.VALUE_TWO_UNITS,
            f"line {start}: {label} of {sample_id!r} is given in {unit or 'no unit'!s} here and "
            f"in {first.unit or 'no unit'!s} on line {first.row}; give each result once, in one "
            "unit",
        )
    elif raw.strip() == first.raw.strip():
        ctx.problems.add(
            start,
            column,
            ProblemCode.DUPLICATE_ROW,
            f"line {start}: duplicate row, first at line {first.row} ({label} of {sample_id!r} "
            f"= {raw.strip()!r} twice); the repeat was not read",
        )
    else:
        ctx.problems.add(
            start,
            column,
            ProblemCode.DUPLICATE_ROW,
            f"line {start}: {label} of {sample_id!r} is {raw.strip()!r} here but "
            f"{first.raw.strip()!r} on line {first.row}; give each result once",
        )


# ---------------------------------------------------------------- wide layout


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
    patients = _Patients(header, ctx, id_column="accession")
    i_accession = header.index["accession"]
    accession_column = header.cells[i_accession]
    i_dilution = header.index.get("dilution_factor")
    groups: dict[str, list[_AnalyteColumn]] = {}
    for column in columns:
        groups.setdefault(column.key, []).append(column)
    shared = {key for key, group in groups.items() if len(group) > 1}
    samples: dict[str, _Sample] = {}
    readings: dict[str, Reading] = {}
    rows = _Rows(rows_in, header, ctx)
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
        sample = samples[accession] = _Sample(start, accession, fields, raw_fields)
        dilution = None
        if i_dilution is not None:
            dilution = decimal_text(row[i_dilution], decimal_comma=ctx.decimal_comma) or None
        for column in columns:
            raw = row[column.position]
            reading = _reading(readings, raw, ctx.decimal_comma)
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
                    _duplicate(
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
            ctx.problems.add(
                header.row,
                None,
                ProblemCode.UNIT_MISSING,
                f"column {position + 1} of the header on line {header.row} has no name; write "
                "the analyte and its unit, e.g. 'IL-6 (pg/mL)'",
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


# ---------------------------------------------------------------- manifest


def parse_manifest_rows(
    reader: CsvReader, ctx: Context
) -> tuple[list[ParsedSample], dict[str, str]]:
    known = (*MANIFEST_COLUMNS,)
    rows_in = records(reader, ctx.lines, ctx.problems)
    header = read_header(rows_in, ctx, known=known, required=MANIFEST_COLUMNS)
    if header is None:
        return [], {}
    _warn_unknown(header, ctx, known=known)
    patients = _Patients(header, ctx, id_column="sample_id")
    i_sample, i_accession = header.index["sample_id"], header.index["accession"]
    sample_column, accession_column = header.cells[i_sample], header.cells[i_accession]
    samples: list[ParsedSample] = []
    rows = _Rows(rows_in, header, ctx)
    for start, row in rows:
        sample_id = row[i_sample].strip()
        accession = row[i_accession].strip()
        if not sample_id:
            patients.missing_id(start, row)
            continue
        check_identifier(sample_id, start, sample_column, ctx.problems, what="sample ID")
        check_identifier(accession, start, accession_column, ctx.problems, what="accession")
        fields, _ = patients.read(start, row)
        samples.append(
            ParsedSample(
                row=start,
                sample_id=sample_id,
                kind=SampleKind.PATIENT,
                well=None,
                patient=fields,
                values=(),
                accession=accession or None,
            )
        )
    if rows.data_rows == 0:
        ctx.problems.add(None, None, ProblemCode.NO_ROWS, "the manifest has no data rows")
    return samples, {}
