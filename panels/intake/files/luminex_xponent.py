"""Luminex xPONENT CSV export.

A header block (``Program,xPONENT,...``, ``Batch``, ``SN``, ``Date``...), calibration blocks,
``Samples,...``, ``Results``, then sections, each introduced by ``DataType:,<name>`` and closed by
a blank line::

    DataType:,Result                       <- concentrations ("Calculated Concentration" too)
    Location,Sample,IL-6 (27),TNF-a (36)
    "1(1,A1)",Standard1,5000,5000
    "3(1,C1)",Unknown1,12.4,<0.6
    DataType:,Units
    Analyte:,IL-6 (27),TNF-a (36)
    BeadID:,27,36
    Units:,pg/mL,pg/mL
    DataType:,Dilution Factor
    Location,Sample,Dilution Factor
    "3(1,C1)",Unknown1,2

Every location (well) is one sample; ``Standard1``/``S1``, ``Control1``/``C1``,
``Background0``/``B`` are standards, controls and blanks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from panels.intake.files.common import Context, is_blank, kind_from_name, records, split_bead_region
from panels.intake.files.plate import Plate, missing_sample_id
from panels.intake.files.types import ParsedSample, ProblemCode
from panels.intake.files.values import decimal_text

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

FORMAT = "luminex_xponent"
CONCENTRATION_SECTIONS = ("result", "calculated concentration")
NOT_ANALYTES = frozenset({"location", "sample", "total events", ""})
PER_WELL_SECTIONS = frozenset(
    {"median", "net mfi", "count", "result", "calculated concentration", "mean", "dilution factor"}
)


@dataclass
class _Section:
    name: str
    row: int
    header: list[str] | None = None
    header_row: int = 0
    rows: list[tuple[int, list[str]]] = field(default_factory=list)
    closed: bool = False


def parse(reader: CsvReader, ctx: Context) -> tuple[list[ParsedSample], dict[str, str]]:
    metadata: dict[str, str] = {}
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    in_header_block = True
    crc = False
    last_row = 0
    rows = records(reader, ctx.lines, ctx.problems)
    for start, row in rows:
        last_row = start
        first = row[0].strip() if row else ""
        folded = first.casefold()
        if folded.startswith("-- crc --"):
            crc = True
            if current is not None:
                current.closed = True
            current = None
            continue
        if folded == "datatype:":
            if current is not None:
                current.closed = True
            name = row[1].strip() if len(row) > 1 else ""
            current = _Section(name, start)
            if name.casefold() not in sections:
                sections[name.casefold()] = current
            in_header_block = False
            continue
        if is_blank(row):
            if current is not None and (current.rows or current.header is not None):
                current.closed = True
                current = None
            continue
        if folded.startswith(("most recent calibration", "calinfo", "results")):
            in_header_block = False
        if current is not None:
            if current.header is None and current.name.casefold() != "units":
                current.header = [cell.strip() for cell in row]
                current.header_row = start
            else:
                current.rows.append((start, row))
            continue
        if folded == "samples" or (in_header_block and first):
            rest = " ".join(cell.strip() for cell in row[1:] if cell.strip())
            metadata.setdefault(first, rest)
    samples = _build(sections, ctx)
    _check_complete(sections, current, crc, last_row, ctx)
    return samples, metadata


def _well(location: str) -> str:
    """``1(1,A1)`` → ``A1``; anything else stays as written."""
    inside = location.strip()
    if inside.endswith(")") and "," in inside:
        return inside[:-1].rpartition(",")[2].strip()
    return inside


def _build(sections: dict[str, _Section], ctx: Context) -> list[ParsedSample]:
    concentration = next(
        (sections[name] for name in CONCENTRATION_SECTIONS if name in sections), None
    )
    if concentration is None or concentration.header is None:
        return []
    units, regions = _units(sections.get("units"), ctx)
    dilutions = _dilutions(sections.get("dilution factor"), ctx)
    header = concentration.header
    columns: list[tuple[int, str, str, str | None]] = []
    for position, text in enumerate(header):
        if position < 2 or text.casefold() in NOT_ANALYTES:
            continue
        label, region = split_bead_region(text)
        columns.append((position, text, label, region))
    for _, text, label, _ in columns:
        if units.get(label.casefold()) is None and "units" in sections:
            ctx.problems.warn(
                sections["units"].row,
                text,
                ProblemCode.UNIT_MISSING,
                f"the Units section gives no unit for {text!r}",
            )
    plate = Plate(ctx)
    location_column = header[0] if header else "Location"
    sample_column = header[1] if len(header) > 1 else "Sample"
    width = len(header)
    for start, row in concentration.rows:
        if len(row) < width and any(cell.strip() for cell in row):
            ctx.problems.row_length(start, len(row), width, header=f"{concentration.name} header")
            continue
        location = row[0].strip()
        name = row[1].strip()
        well = _well(location) if location else None
        if not name:
            missing_sample_id(ctx, start, sample_column, well)
            continue
        key = location or f"line {start}"
        if key in plate.wells:
            first = plate.wells[key]
            ctx.problems.add(
                start,
                location_column,
                ProblemCode.DUPLICATE_ROW,
                f"line {start}: location {location!r} appears twice in the {concentration.name} "
                f"section (first at line {first.row}); the repeat was not read",
            )
            continue
        sample = plate.sample(key, start, name, kind_from_name(name), well)
        dilution = dilutions.get(location)
        for position, text, label, region in columns:
            raw = row[position]
            plate.add(
                sample,
                label.casefold(),
                row=start,
                column=text,
                label=label,
                bead_region=region or regions.get(label.casefold()),
                raw=raw,
                reading=plate.read(raw),
                unit=units.get(label.casefold()),
                dilution=dilution,
            )
    return plate.freeze()


def _units(section: _Section | None, ctx: Context) -> tuple[dict[str, str], dict[str, str]]:
    units: dict[str, str] = {}
    regions: dict[str, str] = {}
    if section is None:
        return units, regions
    lines = {row[0].strip().casefold(): row for _, row in section.rows if row}
    analytes = lines.get("analyte:")
    if analytes is None:
        return units, regions
    unit_row = lines.get("units:", [])
    bead_row = lines.get("beadid:", [])
    for position, text in enumerate(analytes[1:], start=1):
        if not text.strip():
            continue
        label, region = split_bead_region(text)
        unit = unit_row[position].strip() if position < len(unit_row) else ""
        bead = bead_row[position].strip() if position < len(bead_row) else ""
        if unit:
            units[label.casefold()] = unit
        if region or bead:
            regions[label.casefold()] = region or bead
    return units, regions


def _dilutions(section: _Section | None, ctx: Context) -> dict[str, str | None]:
    dilutions: dict[str, str | None] = {}
    if section is None or section.header is None:
        return dilutions
    folded = [cell.casefold() for cell in section.header]
    position = folded.index("dilution factor") if "dilution factor" in folded else 2
    for _, row in section.rows:
        if len(row) > position:
            text = decimal_text(row[position], decimal_comma=ctx.decimal_comma)
            dilutions[row[0].strip()] = text or None
    return dilutions


def _check_complete(
    sections: dict[str, _Section], current: _Section | None, crc: bool, last_row: int, ctx: Context
) -> None:
    missing = []
    if not any(name in sections for name in CONCENTRATION_SECTIONS):
        missing.append("Result")
    missing += [name for name in ("Units", "Dilution Factor") if name.casefold() not in sections]
    if missing:
        ctx.problems.add(
            last_row or None,
            None,
            ProblemCode.TRUNCATED,
            f"the export has no {', '.join(missing)} section"
            + ("s" if len(missing) > 1 else "")
            + f" (it ends at line {last_row}); the file was cut off or exported without them — "
            "export the batch again with Result, Units and Dilution Factor",
        )
        return
    if current is None or current.closed or crc or current.name.casefold() not in PER_WELL_SECTIONS:
        return
    expected = max(
        (len(section.rows) for name, section in sections.items() if name in PER_WELL_SECTIONS),
        default=0,
    )
    last = current.rows[-1][1] if current.rows else []
    width = len(current.header) if current.header is not None else 0
    cut_short = bool(last) and width and len(last) < width and not ctx.ends_with_newline
    if current.header is None or len(current.rows) < expected or cut_short:
        ctx.problems.add(
            last_row,
            None,
            ProblemCode.TRUNCATED,
            f"the file ends at line {last_row} inside the {current.name} section "
            f"({len(current.rows)} of {expected} rows); the export was cut off",
        )
