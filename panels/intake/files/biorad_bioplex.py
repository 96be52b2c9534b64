"""Bio-Rad Bio-Plex Manager report, exported as CSV from the Summary/Table view.

Report lines (``Bio-Plex Manager 6.2``, ``Plate: ...``, ``Key: value``) come first; then one block
per analyte, headed by its name and bead region, with a table per block::

    Analyte: IL-6 (27)
    Units: pg/mL
    Type,Well,Outlier,Description,FI,FI - Bkgd,Std Dev,%CV,Obs Conc,Exp Conc,(Obs/Exp) * 100,
    Dilution    (one line in the file)
    S1,A1,,,18231,18200,120,0.7,5012,5000,100,1
    X1,C1,,LP-0001,350.5,320.1,,,*3.21,,,2

``Type`` tells the sample kind (S1.. standards, C1.. controls, B blank, X1.. unknowns); the
``Description`` is the sample ID. ``Obs Conc`` holds the concentration: a number, ``*3.21``
(extrapolated beyond the standard curve), ``OOR <`` / ``OOR >`` (out of range) or ``***``.
The unit comes from a ``Units:`` line in the block or from the header, ``Obs Conc (pg/mL)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from panels.intake.files.common import Context, is_blank, records, split_bead_region
from panels.intake.files.labpanel_wide import split_unit
from panels.intake.files.plate import Plate, missing_sample_id
from panels.intake.files.types import ParsedSample, ProblemCode, SampleKind
from panels.intake.files.values import decimal_text

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

FORMAT = "biorad_bioplex"
_TYPE = re.compile(r"^(ES|S|C|B|X|U)\d*$", re.IGNORECASE)
_KINDS = {
    "es": SampleKind.STANDARD,
    "s": SampleKind.STANDARD,
    "c": SampleKind.CONTROL,
    "b": SampleKind.BLANK,
    "x": SampleKind.PATIENT,
    "u": SampleKind.PATIENT,
}


@dataclass
class _Table:
    row: int
    cells: list[str]
    type: int
    well: int
    concentration: int | None
    description: int | None
    dilution: int | None
    analyte: int | None
    unit: str | None


@dataclass
class _Block:
    row: int
    title: str
    label: str
    region: str | None
    unit: str | None = None
    warned: bool = False


def parse(reader: CsvReader, ctx: Context) -> tuple[list[ParsedSample], dict[str, str]]:
    metadata: dict[str, str] = {}
    plate = Plate(ctx)
    block: _Block | None = None
    table: _Table | None = None
    tables = 0
    last: tuple[int, list[str]] | None = None
    rows = records(reader, ctx.lines, ctx.problems)
    for start, row in rows:
        last = (start, row)
        if is_blank(row):
            table = None
            continue
        cells = [cell.strip() for cell in row]
        filled = [cell for cell in cells if cell]
        first = cells[0]
        folded = first.casefold()
        if folded.startswith("analyte:") or (
            len(filled) == 1 and first and split_bead_region(first)[1] is not None
        ):
            title = first.split(":", 1)[1].strip() if folded.startswith("analyte:") else first
            if folded.startswith("analyte:") and not title and len(filled) > 1:
                title = filled[1]
            label, region = split_bead_region(title)
            block = _Block(start, title, label, region)
            table = None
            continue
        headers = {cell.casefold() for cell in cells}
        if "type" in headers and "well" in headers:
            table = _table(start, cells, block, ctx)
            tables += 1
            continue
        if table is None:
            key, value = _key_value(cells, filled)
            if block is not None and key.casefold() in ("units", "unit", "concentration units"):
                block.unit = value or None
            elif block is None and key:
                if not value and ":" not in first and "title" not in metadata:
                    key, value = "title", key  # "Bio-Plex Manager 6.2 Report"
                metadata.setdefault(key, value)
            continue
        _row(start, row, table, block, plate, ctx)
    if tables == 0:
        ctx.problems.add(
            None,
            None,
            ProblemCode.MISSING_SECTION,
            "no result table was found (a header with Type, Well, Description, ..., Obs Conc); "
            "export the Bio-Plex report's Table view as CSV",
        )
    if last is not None and table is not None and not ctx.ends_with_newline:  # cut mid-row
        start, row = last
        if 0 < len(row) < len(table.cells):
            ctx.problems.add(
                start,
                None,
                ProblemCode.TRUNCATED,
                f"the last line ({start}) stops after {len(row)} of {len(table.cells)} cells; the "
                "file was cut off",
            )
    return plate.freeze(), metadata


def _key_value(cells: list[str], filled: list[str]) -> tuple[str, str]:
    first = cells[0]
    if ":" in first:
        key, _, value = first.partition(":")
        rest = " ".join(cell for cell in cells[1:] if cell)
        return key.strip(), " ".join(part for part in (value.strip(), rest) if part)
    if filled and first:
        return first, " ".join(cell for cell in cells[1:] if cell)
    return "", ""


def _table(start: int, cells: list[str], block: _Block | None, ctx: Context) -> _Table:
    folded = [cell.casefold() for cell in cells]

    def position(*names: str) -> int | None:
        for name in names:
            if name in folded:
                return folded.index(name)
        return None

    concentration = next(
        (index for index, name in enumerate(folded) if name.startswith("obs conc")), None
    )
    unit = split_unit(cells[concentration])[1] if concentration is not None else None
    analyte = position("analyte")
    if concentration is None:
        ctx.problems.add(
            start,
            None,
            ProblemCode.MISSING_COLUMN,
            f"the table header on line {start} has no 'Obs Conc' column; its rows were not read",
        )
    elif block is None and analyte is None:
        ctx.problems.add(
            start,
            None,
            ProblemCode.MISSING_SECTION,
            f"the table on line {start} is not under an analyte heading (e.g. 'Analyte: IL-6 "
            "(27)') and has no Analyte column; its rows were not read",
        )
    if block is None and analyte is None:
        concentration = None  # the rows cannot be read: no analyte
    type_position, well_position = folded.index("type"), folded.index("well")
    return _Table(
        start,
        cells,
        type_position,
        well_position,
        concentration,
        position("description", "sample", "sample id"),
        position("dilution"),
        analyte,
        unit,
    )


def _row(
    start: int, row: list[str], table: _Table, block: _Block | None, plate: Plate, ctx: Context
) -> None:
    if table.concentration is None:
        return
    width = len(table.cells)
    if len(row) < width:
        if ctx.ends_with_newline:
            ctx.problems.row_length(start, len(row), width, header="table header")
        return  # a short last line without a newline is reported as truncated at the end
    type_ = row[table.type].strip()
    well = row[table.well].strip() or None
    match = _TYPE.match(type_)
    if match is None:
        if type_ and ":" not in type_:
            ctx.problems.add(
                start,
                table.cells[table.type],
                ProblemCode.UNKNOWN_SAMPLE_TYPE,
                f"line {start}: sample type {type_!r} is not S1.., C1.., B or X1..; the row was "
                "not read",
            )
        return
    kind = _KINDS[match.group(1).casefold()]
    description = row[table.description].strip() if table.description is not None else ""
    sample_id = description or (type_ if kind is not SampleKind.PATIENT else "")
    if not sample_id:
        column = table.cells[table.description] if table.description is not None else "Description"
        missing_sample_id(ctx, start, column, well)
        return
    if table.analyte is not None and row[table.analyte].strip():
        label, region = split_bead_region(row[table.analyte])
        unit = table.unit or (block.unit if block is not None else None)
    elif block is not None:
        label, region, unit = block.label, block.region, table.unit or block.unit
    else:  # pragma: no cover - _table refuses a table with neither
        return
    if unit is None and block is not None and not block.warned:
        block.warned = True
        ctx.problems.warn(
            block.row,
            table.cells[table.concentration],
            ProblemCode.UNIT_MISSING,
            f"the {block.title!r} block gives no unit (no 'Units:' line and no unit in "
            "'Obs Conc (pg/mL)'); its values have no unit",
        )
    dilution = None
    if table.dilution is not None:
        text = row[table.dilution].strip()
        if text.startswith("1:"):
            text = text[2:].strip()
        dilution = decimal_text(text, decimal_comma=ctx.decimal_comma) or None
    sample = plate.sample((type_.upper(), well, description), start, sample_id, kind, well)
    raw = row[table.concentration]
    plate.add(
        sample,
        label.casefold(),
        row=start,
        column=table.cells[table.concentration],
        label=label,
        bead_region=region,
        raw=raw,
        reading=plate.read(raw),
        unit=unit,
        dilution=dilution,
    )
