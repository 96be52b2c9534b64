"""What Labpanel's own CSV layouts (long, wide, manifest) share: their columns, one header reader,
one row-length check, one patient reader and one value reader. The layouts themselves:
``labpanel_long``, ``labpanel_wide``, ``labpanel_manifest``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING

from panels.intake.files.common import (
    Context,
    check_date,
    check_identifier,
    formula_warning,
    is_blank,
)
from panels.intake.files.types import (
    CellValue,
    ParsedSample,
    PatientFields,
    ProblemCode,
    SampleKind,
    Severity,
)
from panels.intake.files.values import Reading, is_formula, read_value

if TYPE_CHECKING:
    pass


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
# Optional in every layout (the manifest too): when the lab received the specimen, its condition.
SPECIMEN_COLUMNS = ("received_at", "specimen_condition")
DATE_COLUMNS = frozenset({"birth_date", "collected_at", "received_at"})
LONG_COLUMNS = ("accession", *PATIENT_COLUMNS, "analyte", "value", "unit")
WIDE_COLUMNS = ("accession", *PATIENT_COLUMNS)
MANIFEST_COLUMNS = ("sample_id", "accession", *PATIENT_COLUMNS)
OPTIONAL_COLUMNS = ("dilution_factor", *SPECIMEN_COLUMNS)
STRAY_DELIMITER = "a stray delimiter or an unquoted comma?"


CACHE_LIMIT = 100_000


Records = Iterator[tuple[int, list[str]]]


@dataclass
class Header:
    row: int
    cells: list[str]  # as written, stripped
    index: dict[str, int]  # folded known name -> position
    extra: list[int]  # positions of columns that are not known names

    def unnamed(
        self,
        position: int,
        ctx: Context,
        code: ProblemCode,
        consequence: str,
        severity: Severity = "error",
    ) -> None:
        """Column ``position`` of this header has no name: say so, and what follows."""
        ctx.problems.add(
            self.row,
            None,
            code,
            f"column {position + 1} of the header on line {self.row} has no name; {consequence}",
            severity,
        )


@dataclass
class Sample:
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
            ctx.problems.missing_columns(start, missing)
            return None
        return Header(start, cells, index, extra)
    ctx.problems.add(None, None, ProblemCode.NO_ROWS, "the file has no header row")
    return None


def warn_unknown(header: Header, ctx: Context, *, known: tuple[str, ...]) -> None:
    for position in header.extra:
        name = header.cells[position]
        if not name:
            header.unnamed(
                position, ctx, ProblemCode.UNKNOWN_COLUMN, "its cells are not read", "warning"
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


class Rows:
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
                    self.ctx.problems.row_length(start, len(row), width, why=STRAY_DELIMITER)
                    continue
            self.data_rows += 1
            yield start, row
        if pending is not None:
            self._short(*pending, last=True)

    def _short(self, start: int, row: list[str], *, last: bool) -> None:
        short_row(self.ctx, start, row, self.width, last=last)


class Patients:
    """Reads the patient/specimen columns of a row (the optional specimen columns when the
    header has them); flags mangled IDs, dates and formulas."""

    def __init__(self, header: Header, ctx: Context, *, id_column: str) -> None:
        self.ctx = ctx
        self.columns = (
            *PATIENT_COLUMNS,
            *(name for name in SPECIMEN_COLUMNS if name in header.index),
        )
        self.positions = tuple(header.index[name] for name in self.columns)
        self.names = tuple(header.cells[position] for position in self.positions)
        self.get = itemgetter(*self.positions)
        self.id_name = header.cells[header.index[id_column]]

    def read(self, start: int, row: list[str]) -> tuple[PatientFields, tuple[str, ...]]:
        raw: tuple[str, ...] = self.get(row)
        fields = tuple(cell.strip() for cell in raw)
        problems = self.ctx.problems
        for name, column, value in zip(self.columns, self.names, fields, strict=True):
            if not value:
                continue
            if name == "mrn":
                check_identifier(value, start, column, problems, what="MRN")
            elif name in DATE_COLUMNS:
                check_date(value, start, column, problems)
            elif value[0] in "=+-@" and is_formula(value):
                formula_warning(value, start, column, problems)
        return PatientFields(**dict(zip(self.columns, fields, strict=True))), raw

    def compare(self, start: int, row: list[str], sample: Sample, accession: str) -> None:
        first = sample.patient
        for name, column, position in zip(self.columns, self.names, self.positions, strict=True):
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


def reading_cached(cache: dict[str, Reading], raw: str, decimal_comma: bool) -> Reading:
    reading = cache.get(raw)
    if reading is None:
        reading = read_value(raw, decimal_comma=decimal_comma)
        if len(cache) < CACHE_LIMIT:
            cache[raw] = reading
    return reading


def report_reading(reading: Reading, raw: str, row: int, column: str, ctx: Context) -> None:
    """The problems a value cell carries (its kind and text are already in the reading)."""
    if reading.formula:
        formula_warning(raw, row, column, ctx.problems)
    if reading.code is not None:
        ctx.problems.add(row, column, reading.code, f"line {row}, {column}: {reading.message}")


def short_row(ctx: Context, start: int, row: list[str], width: int, *, last: bool) -> None:
    if last and not ctx.ends_with_newline:
        ctx.problems.add(
            start,
            None,
            ProblemCode.TRUNCATED,
            f"the last line ({start}) stops after {len(row)} of {width} cells; the file was cut "
            "off, and that line was not read",
        )
    else:
        ctx.problems.row_length(start, len(row), width)


def duplicate_value(
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
