"""MSD Discovery Workbench sample-data export, CSV or tab-delimited TXT.

An optional first line names the plate (``Plate_4AB21X0917``); then one row per well, spot and
assay::

    Plate_4AB21X0917
    Sample,Assay,Well,Spot,Dilution,Concentration,Signal,Detection Range,Calc. Concentration
    S001,IL-6,A01,1,,488,22416,In Detection Range,490.2
    U001,IL-6,C01,1,2,,1310,Below Fit Curve Range,NaN

``Calc. Concentration`` is the value; ``Detection Range`` qualifies it (``Below/Above Fit Curve
Range`` with a number is extrapolated; without one it is below/above range). Sample names
``S001``/``Calibrator``, ``C1``/``Control``, ``Blank`` are standards, controls and blanks. A
``Plate Name`` column (multi-plate exports) and a ``Units`` column are read when present.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from panels.intake.files.common import Context, is_blank, kind_from_name, records
from panels.intake.files.plate import Plate, missing_sample_id
from panels.intake.files.types import ParsedSample, ProblemCode, ValueKind
from panels.intake.files.values import Reading, decimal_text

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

FORMAT = "msd_workbench"
REQUIRED = ("sample", "assay", "well", "calc. concentration")
_UNITS = ("units", "unit", "concentration unit", "concentration units", "calc. conc. unit")
_DILUTION = ("dilution", "dilution factor")
_PREAMBLE_LINES = 20


def parse(reader: CsvReader, ctx: Context) -> tuple[list[ParsedSample], dict[str, str]]:
    metadata: dict[str, str] = {}
    header: list[str] | None = None
    header_row = 0
    rows = records(reader, ctx.lines, ctx.problems)
    for start, row in rows:
        if is_blank(row):
            continue
        cells = [cell.strip() for cell in row]
        folded = {cell.casefold() for cell in cells}
        if {"sample", "assay", "well"} <= folded:
            header, header_row = cells, start
            break
        filled = [cell for cell in cells if cell]
        if len(filled) == 1 and "plate" not in metadata:
            metadata["plate"] = filled[0]
        elif filled:
            key, _, value = filled[0].partition(":")
            metadata.setdefault(key.strip(), (value.strip() + " " + " ".join(filled[1:])).strip())
        if start > _PREAMBLE_LINES:
            break
    if header is None:
        ctx.problems.add(
            None,
            None,
            ProblemCode.MISSING_COLUMN,
            "no header row with Sample, Assay, Well and Calc. Concentration was found in the "
            f"first {_PREAMBLE_LINES} lines",
        )
        return [], metadata
    folded_header = [cell.casefold() for cell in header]
    missing = [name for name in REQUIRED if name not in folded_header]
    if missing:
        ctx.problems.missing_columns(header_row, (name.title() for name in missing))
        return [], metadata

    def position(*names: str) -> int | None:
        return next((folded_header.index(name) for name in names if name in folded_header), None)

    i_sample, i_assay, i_well, i_value = (folded_header.index(name) for name in REQUIRED)
    i_spot, i_range = position("spot"), position("detection range")
    i_plate, i_unit, i_dilution = (
        position("plate name", "plate"),
        position(*_UNITS),
        position(*_DILUTION),
    )
    value_column = header[i_value]
    if i_unit is None:
        ctx.problems.warn(
            header_row,
            value_column,
            ProblemCode.UNIT_MISSING,
            "the export has no Units column, so no value has a unit; add the unit when "
            "exporting (or use the Labpanel CSV layout)",
        )
    plate = Plate(ctx)
    width = len(header)
    while width and not header[width - 1]:
        width -= 1
    last: tuple[int, list[str]] | None = None
    data_rows = 0
    plates: list[str] = []
    for start, row in rows:
        last = (start, row)
        if is_blank(row):
            continue
        if len(row) < width:
            if ctx.ends_with_newline:
                ctx.problems.row_length(start, len(row), width)
            continue
        data_rows += 1
        name = row[i_sample].strip()
        well = row[i_well].strip() or None
        plate_name = row[i_plate].strip() if i_plate is not None else ""
        if plate_name and plate_name not in plates:
            plates.append(plate_name)
        if not name:
            missing_sample_id(ctx, start, header[i_sample], well)
            continue
        assay = row[i_assay].strip()
        spot = row[i_spot].strip() if i_spot is not None else ""
        raw = row[i_value]
        reading = _qualify(
            plate.read(raw),
            row[i_range].strip() if i_range is not None else "",
            start,
            header[i_range] if i_range is not None else "",
            raw,
            ctx,
        )
        unit = (row[i_unit].strip() or None) if i_unit is not None else None
        dilution = None
        if i_dilution is not None:
            dilution = decimal_text(row[i_dilution], decimal_comma=ctx.decimal_comma) or None
        sample = plate.sample((plate_name, well, name), start, name, kind_from_name(name), well)
        plate.add(
            sample,
            (assay.casefold(), spot),
            row=start,
            column=value_column,
            label=assay,
            bead_region=None,
            raw=raw,
            reading=reading,
            unit=unit,
            dilution=dilution,
        )
    if last is not None and not ctx.ends_with_newline and 0 < len(last[1]) < width:
        ctx.problems.add(
            last[0],
            None,
            ProblemCode.TRUNCATED,
            f"the last line ({last[0]}) stops after {len(last[1])} of {width} cells; the file was "
            "cut off",
        )
    if plates:
        metadata.setdefault("plate", ", ".join(plates))
    if data_rows == 0:
        ctx.problems.add(None, None, ProblemCode.NO_ROWS, "the export has a header but no rows")
    return plate.freeze(), metadata


_BELOW = ValueKind.BELOW_RANGE
_ABOVE = ValueKind.ABOVE_RANGE
_RANGES: dict[str, tuple[ValueKind | None, bool]] = {
    "": (None, False),
    "in detection range": (None, False),
    "below detection range": (_BELOW, False),
    "above detection range": (_ABOVE, False),
    "below fit curve range": (_BELOW, True),
    "above fit curve range": (_ABOVE, True),
}


def _qualify(
    reading: Reading, detection: str, row: int, column: str, raw: str, ctx: Context
) -> Reading:
    """The Detection Range cell qualifies the Calc. Concentration beside it."""
    folded = " ".join(detection.split()).casefold()
    if folded not in _RANGES:
        ctx.problems.warn(
            row,
            column,
            ProblemCode.UNKNOWN_DETECTION_RANGE,
            f"line {row}: detection range {detection!r} is not one MSD writes; the value is read "
            "as it stands",
        )
        return reading
    side, fit_curve = _RANGES[folded]
    if side is None:
        return reading
    if reading.kind is ValueKind.NUMBER:
        if fit_curve:
            return replace(reading, extrapolated=True)
        ctx.problems.warn(
            row,
            column,
            ProblemCode.OUTSIDE_DETECTION_RANGE,
            f"line {row}: {raw.strip()!r} is {detection.strip()} (outside the limits of "
            "detection, within the fitted curve)",
        )
        return reading
    if reading.kind in (ValueKind.EMPTY, ValueKind.NOT_CALCULABLE) and reading.code is None:
        return Reading(side)
    return reading
