"""Pieces every layout shares: the problem list, CSV records with their line numbers, progress,
checks on IDs and dates, and how sample names say standard / control / blank."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from panels.intake.files.types import Problem, ProblemCode, SampleKind, Severity
from panels.intake.files.values import is_formula

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

MAX_PROBLEMS = 10_000
PROGRESS_EVERY = 10_000

Progress = Callable[[int, int], None]


class Problems:
    """Problems in the order found, capped so that a hopeless file cannot exhaust memory."""

    def __init__(self, initial: Iterable[Problem] = ()) -> None:
        self.items: list[Problem] = list(initial)
        self.dropped = 0

    def add(
        self,
        row: int | None,
        column: str | None,
        code: ProblemCode | str,
        message: str,
        severity: Severity = "error",
    ) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.dropped += 1
            return
        self.items.append(Problem(row, column, str(code), message, severity))

    def warn(self, row: int | None, column: str | None, code: ProblemCode, message: str) -> None:
        self.add(row, column, code, message, "warning")

    def missing_columns(self, row: int, names: Iterable[str]) -> None:
        """The header on line ``row`` lacks the required columns ``names``: one error for all."""
        self.add(
            row,
            None,
            ProblemCode.MISSING_COLUMN,
            f"the header on line {row} lacks the required column(s): {', '.join(names)}",
        )

    def row_length(
        self, row: int, cells: int, width: int, *, header: str = "header", why: str = ""
    ) -> None:
        """Line ``row`` has ``cells`` cells where ``header`` has ``width``: it was not read."""
        self.add(
            row,
            None,
            ProblemCode.ROW_LENGTH,
            f"line {row} has {cells} cells but the {header} has {width}; the row was not read"
            + (f" ({why})" if why else ""),
        )

    def final(self) -> tuple[Problem, ...]:
        items = list(self.items)
        if self.dropped:
            items.append(
                Problem(
                    None,
                    None,
                    ProblemCode.TOO_MANY_PROBLEMS.value,
                    f"{self.dropped} more problems were found and not listed; fix the ones above "
                    "and upload again",
                    "error",
                )
            )
        return tuple(items)


@dataclass
class Lines:
    """Where the reader is: the last physical line read, for progress and positions."""

    done: int = 0
    total: int = 0
    next_report: int = PROGRESS_EVERY
    on_progress: Progress | None = None

    def tick(self) -> None:
        if self.done >= self.next_report:
            if self.on_progress is not None:
                self.on_progress(self.done, max(self.total, self.done))
            self.next_report = self.done + PROGRESS_EVERY


def records(reader: CsvReader, lines: Lines, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """``(first physical line, cells)`` for each CSV record; CSV errors become problems."""
    while True:
        try:
            for row in reader:
                start = lines.done + 1
                lines.done = reader.line_num
                if lines.done >= lines.next_report:
                    lines.tick()
                yield start, row
            return
        except csv.Error as error:
            if not csv_error(error, reader, lines, problems):
                return


def csv_error(error: csv.Error, reader: CsvReader, lines: Lines, problems: Problems) -> bool:
    """Report a CSV error at the line it happened; False when nothing more can be read."""
    start = lines.done + 1
    lines.done = max(reader.line_num, start)
    reason = str(error)
    if "unexpected end of data" in reason:
        problems.add(
            start,
            None,
            ProblemCode.TRUNCATED,
            f"line {start}: the file ends inside a quoted cell (a '\"' is never closed); the "
            "upload or export was probably cut off",
        )
        return False
    problems.add(
        start,
        None,
        ProblemCode.MALFORMED_CSV,
        f"line {start} cannot be read as CSV ({reason}); a quote is probably not closed or a "
        "cell holds a stray '\"'",
    )
    return True


def csv_reader(text: Iterable[str], delimiter: str) -> CsvReader:
    return csv.reader(text, delimiter=delimiter, strict=True)


def is_blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


# ---------------------------------------------------------------- identifiers and dates

_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_SLASHED_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_SERIAL = re.compile(r"^\d{5}(?:[.,]\d+)?$")


def check_identifier(
    value: str, row: int, column: str, problems: Problems, *, what: str = "identifier"
) -> None:
    if not value:
        return
    if _SCIENTIFIC.match(value):
        problems.add(
            row,
            column,
            ProblemCode.ID_MANGLED,
            f"line {row}, {column}: {value!r} is in scientific notation — a spreadsheet turned "
            f"a long {what} into a number and lost digits; re-export with the column as text",
        )
    elif value.strip("#") == "":
        problems.add(
            row,
            column,
            ProblemCode.ID_MANGLED,
            f"line {row}, {column}: {value!r} — the spreadsheet showed ##### (column too narrow) "
            f"and saved that instead of the {what}",
        )
    elif is_formula(value):
        formula_warning(value, row, column, problems)


def check_date(value: str, row: int, column: str, problems: Problems) -> None:
    """Flag dates a spreadsheet mangled; an unambiguous date is kept as written."""
    if not value:
        return
    if value.strip("#") == "":
        problems.add(
            row,
            column,
            ProblemCode.DATE_MANGLED,
            f"line {row}, {column}: {value!r} — the spreadsheet showed ##### (column too narrow) "
            "and saved that instead of the date",
        )
        return
    if _SERIAL.match(value):
        problems.add(
            row,
            column,
            ProblemCode.DATE_MANGLED,
            f"line {row}, {column}: {value!r} is a spreadsheet date serial number, not a date; "
            "format the column as a date (YYYY-MM-DD) and export again",
        )
        return
    date_part = value.replace("T", " ").split(" ", 1)[0]
    match = _SLASHED_DATE.match(date_part)
    if match is not None:
        first, second = int(match.group(1)), int(match.group(2))
        if first != second and 1 <= first <= 12 and 1 <= second <= 12:
            problems.add(
                row,
                column,
                ProblemCode.DATE_AMBIGUOUS,
                f"line {row}, {column}: {value!r} could be day/month or month/day; write the "
                "date as YYYY-MM-DD",
            )
            return
    if is_formula(value):
        formula_warning(value, row, column, problems)


def formula_warning(value: str, row: int, column: str, problems: Problems) -> None:
    shown = value if len(value) <= 60 else value[:57] + "..."
    problems.warn(
        row,
        column,
        ProblemCode.FORMULA_IN_CELL,
        f"line {row}, {column}: {shown!r} is a spreadsheet formula; it was kept as text and "
        "never evaluated",
    )


# ---------------------------------------------------------------- sample names

_STANDARD = re.compile(
    r"^(?:(?:s|es)\d{1,3}|(?:std|standard|cal|calibrator)[\s_-]*\d{0,3})$", re.IGNORECASE
)
_CONTROL = re.compile(r"^(?:c\d{1,3}|(?:ctrl|ctl|control|qc)[\s_-]*\d{0,3})$", re.IGNORECASE)
_BLANK = re.compile(r"^(?:b\d{0,3}|(?:blank|background|bkgd|bg)[\s_-]*\d{0,3})$", re.IGNORECASE)


def kind_from_name(name: str) -> SampleKind:
    """Standards (S1, S001, Standard1, Calibrator), controls (C1, Control1), blanks (B,
    Blank, Background0); every other name is a patient sample."""
    if _STANDARD.match(name):
        return SampleKind.STANDARD
    if _CONTROL.match(name):
        return SampleKind.CONTROL
    if _BLANK.match(name):
        return SampleKind.BLANK
    return SampleKind.PATIENT


def split_bead_region(header: str) -> tuple[str, str | None]:
    """``"IL-6 (27)"`` → ``("IL-6", "27")``; a header without a trailing number stays whole."""
    text = header.strip()
    if text.endswith(")") and "(" in text:
        label, _, inside = text[:-1].rpartition("(")
        inside = inside.strip()
        if inside.isascii() and inside.isdigit() and label.strip():
            return label.strip(), inside
    return text, None


# ---------------------------------------------------------------- one parse run


@dataclass
class Context:
    """State of one parse: problems, position, and which decimal separator the values use."""

    problems: Problems
    lines: Lines
    delimiter: str
    ends_with_newline: bool = True
    first_comma: tuple[int, str] | None = None
    first_point: tuple[int, str] | None = None

    @property
    def decimal_comma(self) -> bool:
        """'12,4' means 12.4 only where ',' cannot be the delimiter."""
        return self.delimiter != ","

    def note_number(self, raw: str, row: int, column: str) -> None:
        if self.first_comma is None and "," in raw:
            self.first_comma = (row, column)
        elif self.first_point is None and "." in raw:
            self.first_point = (row, column)

    def finish_decimals(self) -> str:
        """The decimal separator the values use; both in one file is an error."""
        if not self.decimal_comma:
            return "."
        if self.first_comma is not None and self.first_point is not None:
            (comma_row, comma_column), (point_row, point_column) = (
                self.first_comma,
                self.first_point,
            )
            row, column = max(self.first_comma, self.first_point)
            self.problems.add(
                row,
                column,
                ProblemCode.MIXED_DECIMAL_SEPARATORS,
                f"the file writes decimals with ',' (first at line {comma_row}, {comma_column}) "
                f"and with '.' (first at line {point_row}, {point_column}); '1.234' could be a "
                "thousands separator, so no number is guessed: use one decimal separator",
            )
        return "," if self.first_comma is not None else "."
