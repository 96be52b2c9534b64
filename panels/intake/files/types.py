"""What the file parsers hand to the application: frozen dataclasses and plain strings.

Nothing here is converted to a number or a date: every value is the text the file holds (after
decoding), and ``CellValue.text`` is that same text in Labpanel notation (an optional comparator
and the digits as written, with a decimal comma turned into a point and nothing else).

Rows are 1-based physical line numbers in the file; columns are the header text as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Severity = Literal["error", "warning"]


class SampleKind(StrEnum):
    PATIENT = "patient"
    STANDARD = "standard"
    CONTROL = "control"
    BLANK = "blank"


class ValueKind(StrEnum):
    NUMBER = "number"  # plain or with comparator, e.g. "12.4", "<1.5", ">5000"
    BELOW_RANGE = "below_range"  # "OOR <", "Below Fit Curve Range" and the like, no number
    ABOVE_RANGE = "above_range"  # "OOR >", "Above Fit Curve Range" and the like, no number
    NOT_CALCULABLE = "not_calculable"  # "***", "NaN", "N/A": no value, or not a number at all
    EMPTY = "empty"  # the cell is empty


class ProblemCode(StrEnum):
    """Every ``Problem.code`` the parsers emit (docs/import-formats.md explains each)."""

    # the file as a whole
    EMPTY_FILE = "empty_file"
    NOT_TEXT = "not_text"
    BAD_ENCODING = "bad_encoding"
    UNKNOWN_FORMAT = "unknown_format"
    TRUNCATED = "truncated"
    MISSING_SECTION = "missing_section"
    MALFORMED_CSV = "malformed_csv"
    NO_ROWS = "no_rows"
    TOO_MANY_PROBLEMS = "too_many_problems"
    # the header
    MISSING_COLUMN = "missing_column"
    UNKNOWN_COLUMN = "unknown_column"
    DUPLICATE_COLUMN = "duplicate_column"
    UNIT_MISSING = "unit_missing"
    # rows and cells
    ROW_LENGTH = "row_length"
    SAMPLE_WITHOUT_ID = "sample_without_id"
    ANALYTE_MISSING = "analyte_missing"
    UNKNOWN_SAMPLE_TYPE = "unknown_sample_type"
    DUPLICATE_ROW = "duplicate_row"
    VALUE_TWO_UNITS = "value_two_units"
    PATIENT_FIELD_DIFFERS = "patient_field_differs"
    VALUE_NOT_NUMBER = "value_not_number"
    DECIMAL_COMMA_AMBIGUOUS = "decimal_comma_ambiguous"
    THOUSANDS_SEPARATOR = "thousands_separator"
    MIXED_DECIMAL_SEPARATORS = "mixed_decimal_separators"
    FORMULA_IN_CELL = "formula_in_cell"
    DATE_AMBIGUOUS = "date_ambiguous"
    DATE_MANGLED = "date_mangled"
    ID_MANGLED = "id_mangled"
    OUTSIDE_DETECTION_RANGE = "outside_detection_range"
    UNKNOWN_DETECTION_RANGE = "unknown_detection_range"
    REPLICATE_WELLS = "replicate_wells"


@dataclass(frozen=True, slots=True)
class Problem:
    row: int | None  # 1-based physical line number in the file
    column: str | None  # header text as written
    code: str  # a ProblemCode value
    message: str  # says which row/field and why, in words a technician can act on
    severity: Severity


@dataclass(frozen=True, slots=True)
class CellValue:
    row: int
    column: str
    analyte_label: str  # as written, without the unit and without the bead region: "IL-6"
    bead_region: str | None  # "27" when written
    raw: str  # the cell exactly as written (after decoding), e.g. "OOR <", "*3.21", "12,4"
    kind: ValueKind
    text: str | None  # NUMBER only: optional comparator + digits, '.' as decimal point
    extrapolated: bool  # Bio-Plex '*' prefix, or MSD outside the fit curve range with a number
    unit: str | None
    dilution_factor: str | None  # as written, decimal text, e.g. "2" or "10"


@dataclass(frozen=True, slots=True)
class PatientFields:
    mrn: str
    family_name: str
    given_name: str
    birth_date: str
    sex: str
    specimen_type: str
    collected_at: str
    ordering_clinician: str
    received_at: str = ""  # optional column: when the lab received the specimen, as written
    specimen_condition: str = ""  # optional column: e.g. "Hemolyzed", as written


@dataclass(frozen=True, slots=True)
class ParsedSample:
    row: int  # first row of this sample
    sample_id: str  # accession for Labpanel CSV; instrument sample name/ID for vendor files
    kind: SampleKind
    well: str | None
    patient: PatientFields | None  # present for Labpanel CSV layouts and the manifest
    values: tuple[CellValue, ...]
    accession: str | None = None  # Labpanel CSV and manifest rows; None for vendor files


@dataclass(frozen=True, slots=True)
class ParsedFile:
    format: str  # labpanel_long | labpanel_wide | manifest | luminex_xponent | biorad_bioplex
    #             | msd_workbench
    encoding: str
    delimiter: str
    decimal_separator: str
    rows_total: int
    samples: tuple[ParsedSample, ...]  # patient samples AND standards/controls/blanks
    problems: tuple[Problem, ...]
    metadata: Mapping[str, str]  # batch name, instrument serial, plate, run date as written


def _cell_factory() -> Callable[
    [int, str, str, str | None, str, ValueKind, str | None, bool, str | None, str | None],
    CellValue,
]:
    """``CellValue(...)`` for the hot loops: the same frozen instance, built through the slots'
    own setters (about half the cost of the generated ``__init__``; tests prove them equal)."""
    (
        set_row,
        set_column,
        set_label,
        set_region,
        set_raw,
        set_kind,
        set_text,
        set_extrapolated,
        set_unit,
        set_dilution,
    ) = [CellValue.__dict__[name].__set__ for name in CellValue.__slots__]
    new = object.__new__

    def make_cell(
        row: int,
        column: str,
        analyte_label: str,
        bead_region: str | None,
        raw: str,
        kind: ValueKind,
        text: str | None,
        extrapolated: bool,
        unit: str | None,
        dilution_factor: str | None,
    ) -> CellValue:
        cell: CellValue = new(CellValue)
        set_row(cell, row)
        set_column(cell, column)
        set_label(cell, analyte_label)
        set_region(cell, bead_region)
        set_raw(cell, raw)
        set_kind(cell, kind)
        set_text(cell, text)
        set_extrapolated(cell, extrapolated)
        set_unit(cell, unit)
        set_dilution(cell, dilution_factor)
        return cell

    return make_cell


make_cell = _cell_factory()
