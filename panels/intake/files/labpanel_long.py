"""Labpanel's long CSV layout: one result per row, rows of one accession gathered into a sample.

The row loop is kept tight (it runs once per result, with per-file caches of labels, units and
readings); the header, patient columns and value cells are read as in every Labpanel layout
(``panels.intake.files.labpanel``).
"""

from __future__ import annotations

import csv
import gc
import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from typing import TYPE_CHECKING

from panels.intake.files.common import (
    Context,
    check_identifier,
    csv_error,
    formula_warning,
    is_blank,
    records,
)
from panels.intake.files.labpanel import (
    CACHE_LIMIT,
    LONG_COLUMNS,
    OPTIONAL_COLUMNS,
    STRAY_DELIMITER,
    Header,
    Patients,
    Sample,
    duplicate_value,
    read_header,
    reading_cached,
    report_reading,
    short_row,
    warn_unknown,
)
from panels.intake.files.types import (
    ParsedSample,
    ProblemCode,
    ValueKind,
    make_cell,
)
from panels.intake.files.values import Reading, decimal_text, is_formula

if TYPE_CHECKING:
    from _csv import Reader as CsvReader


_DIGITS = frozenset("0123456789")
_MISSING: str = "\x00missing"  # a cache-miss marker no cell can equal (cells hold no NUL)


class SamplesNotGrouped(Exception):
    """A streamed long file names an accession again after other accessions' rows: its sample
    was already handed on, so the file cannot be streamed sample by sample (parse it whole)."""


def parse_long(reader: CsvReader, ctx: Context) -> tuple[list[ParsedSample], dict[str, str]]:
    return list(stream_long(reader, ctx, grouped=False)), {}


def stream_long(reader: CsvReader, ctx: Context, *, grouped: bool) -> Iterator[ParsedSample]:
    """The samples of a long file. ``grouped=False``: all at the end, in order of first
    appearance. ``grouped=True``: each as soon as a row of another accession follows its rows
    (the same samples, in the same order, one at a time), so only the sample being read is
    held; an accession named again after another's rows raises ``SamplesNotGrouped``."""
    known = (*LONG_COLUMNS, *OPTIONAL_COLUMNS)
    header = read_header(
        records(reader, ctx.lines, ctx.problems), ctx, known=known, required=LONG_COLUMNS
    )
    if header is None:
        return
    warn_unknown(header, ctx, known=known)
    long = _Long(header, ctx, grouped=grouped)
    lines, problems = ctx.lines, ctx.problems
    collecting = gc.isenabled()
    gc.disable()  # millions of small frozen objects: no cycles to find, and the scans cost ~20%
    try:
        while True:
            try:
                yield from long.run(reader)
                break
            except csv.Error as error:
                if not csv_error(error, reader, lines, problems):
                    break
    finally:
        if collecting:
            gc.enable()
    long.finish()
    if grouped:
        if long.current is not None:
            yield long.current.freeze(long.current.sample_id)
            long.current = None
        return
    for sample in long.samples.values():
        yield sample.freeze(sample.sample_id)


class _Seen:
    """The hashes of the accessions handed on, 8 bytes each: a sorted array, and the latest in a
    small set merged into it now and then (a set of Python ints costs about 60 bytes each)."""

    MERGE_AT = 16_384

    def __init__(self) -> None:
        self.merged = array("q")
        self.recent: set[int] = set()

    def add(self, value: int) -> None:
        self.recent.add(value)
        if len(self.recent) >= self.MERGE_AT:
            self.merged = array("q", heapq.merge(self.merged, sorted(self.recent)))
            self.recent.clear()

    def __contains__(self, value: int) -> bool:
        if value in self.recent:
            return True
        index = bisect_left(self.merged, value)
        return index < len(self.merged) and self.merged[index] == value

    def __len__(self) -> int:
        return len(self.merged) + len(self.recent)


class _Long:
    """The long layout's row loop, kept tight: it runs once per result."""

    def __init__(self, header: Header, ctx: Context, *, grouped: bool) -> None:
        self.header = header
        self.grouped = grouped
        self.current: Sample | None = None  # grouped: the sample being read
        self.ctx = ctx
        self.patients = Patients(header, ctx, id_column="accession")
        index = header.index
        self.positions = (index["accession"], index["analyte"], index["value"], index["unit"])
        self.i_dilution = index.get("dilution_factor")
        self.width = len(header.cells)
        self.samples: dict[str, Sample] = {}  # grouped: the sample being read only
        self.done = _Seen()  # grouped: the hashes of the accessions handed on
        self.by_raw: dict[str, Sample] = {}
        self.pending: tuple[int, list[str]] | None = None
        self.data_rows = 0

    def run(self, reader: CsvReader) -> Iterator[ParsedSample]:
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
        grouped = self.grouped
        current = self.current
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
                if grouped and sample is not current:
                    if current is not None:
                        self._hand_on(current)
                        lines.done = done
                        yield current.freeze(current.sample_id)
                    current = self.current = sample
                analyte = row[i_analyte]
                label = labels.get(analyte)
                if label is None:
                    text = analyte.strip()
                    label = (text, text.casefold(), bool(text) and text[0] not in "=+-@")
                    if len(labels) < CACHE_LIMIT:
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
                        reading = reading_cached(readings, raw, decimal_comma)
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
                    if len(units) < CACHE_LIMIT:
                        units[unit_raw] = unit
                if i_dilution is None:
                    dilution = None
                else:
                    dilution_raw = row[i_dilution]
                    dilution = dilutions.get(dilution_raw, missing)
                    if dilution is missing:
                        dilution = decimal_text(dilution_raw, decimal_comma=decimal_comma) or None
                        if len(dilutions) < CACHE_LIMIT:
                            dilutions[dilution_raw] = dilution
                key = label[1]
                seen = sample.seen
                if key in seen:
                    duplicate_value(
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

    def _hand_on(self, sample: Sample) -> None:
        """Grouped: ``sample`` is complete; forget it, keeping only that it was seen."""
        del self.samples[sample.sample_id]
        # Its hash is kept, not the accession: a few MB less on a large file. Two accessions
        # of one file with the same 64-bit hash would only make the file be read whole.
        self.done.add(hash(sample.sample_id))
        self.by_raw.clear()  # a cache: rows of the next accession fill it again

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
        self.ctx.problems.row_length(start, len(row), width, why=STRAY_DELIMITER)
        return None

    def _short(self, start: int, row: list[str], *, last: bool) -> None:
        short_row(self.ctx, start, row, self.width, last=last)

    def _new_row_sample(self, start: int, row: list[str]) -> Sample | None:
        raw = row[self.positions[0]]
        accession = raw.strip()
        if not accession:
            self.patients.missing_id(start, row)
            return None
        sample = self.samples.get(accession)
        if sample is None and self.done and hash(accession) in self.done:
            raise SamplesNotGrouped(
                f"line {start}: accession {accession!r} again after other accessions' rows"
            )
        if sample is None:
            column = self.header.cells[self.positions[0]]
            check_identifier(accession, start, column, self.ctx.problems, what="accession")
            fields, raw_fields = self.patients.read(start, row)
            sample = self.samples[accession] = Sample(start, accession, fields, raw_fields)
        elif self.patients.get(row) != sample.patient_raw:
            self.patients.compare(start, row, sample, accession)
        if len(self.by_raw) < CACHE_LIMIT * 10:
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
