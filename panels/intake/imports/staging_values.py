"""One sample's cells staged as results: the analyte named (catalogue alias or bead region), the
value read (censored values keep their comparator; OOR markers only from a recorded measuring
range, never guessed), its unit and dilution checked; every problem located by row and column
(``Collector``).
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from panels.intake.files.types import (
    CellValue,
    ParsedSample,
    ValueKind,
)
from panels.intake.imports.staged import FILE, StagedImport, StagedProblem, StagingContext
from panels.intake.validation import (
    FieldError,
    dilution_factor_clean,
    unit_problem,
)
from panels.notation import NotationError, ReportedValue, parse_reported_value
from panels.submission import (
    ResultData,
)
from reference_ranges.models import Analyte


@lru_cache(maxsize=65_536)
def _reported_value(text: str) -> ReportedValue:
    """``parse_reported_value``, remembered: values repeat within a file and the result is
    immutable (errors are not cached; they are rare)."""
    return parse_reported_value(text)


class Collector:
    """Problems of one sample; each carries the source and row it was found at."""

    def __init__(self, staged: StagedImport) -> None:
        self.staged = staged
        self.failed = False
        self.parser_errors = staged.parser_errors

    def error(
        self, source: str, row: int | None, column: str | None, code: str, message: str
    ) -> None:
        self.failed = True
        self.staged.problems.append(StagedProblem(source, row, column, code, "error", message))

    def warning(
        self, source: str, row: int | None, column: str | None, code: str, message: str
    ) -> None:
        self.staged.problems.append(StagedProblem(source, row, column, code, "warning", message))


def stage_values(
    sample: ParsedSample, context: StagingContext, problems: Collector
) -> tuple[list[ResultData], list[tuple[int, str]]]:
    results: list[ResultData] = []
    positions: list[tuple[int, str]] = []
    seen: dict[str, CellValue] = {}
    for cell in sample.values:
        result = _stage_value(cell, context, problems)
        if result is None:
            continue
        first = seen.get(result.analyte.code)
        if first is not None:
            problems.error(
                FILE,
                cell.row,
                cell.column,
                "analyte_twice",
                f"{result.analyte.short_name} is reported twice for sample {sample.sample_id!r} "
                f"(first at row {first.row}, column {first.column!r})",
            )
            continue
        seen[result.analyte.code] = cell
        results.append(result)
        positions.append((cell.row, cell.column))
    return results, positions


def _at(cell: CellValue, field: str) -> tuple[str, int, str]:
    """Where a problem with ``field`` of ``cell`` is: in the long layout the analyte, unit and
    dilution have columns of their own; elsewhere everything is in the value's column."""
    long_layout = cell.column.casefold() == "value"
    return FILE, cell.row, field if long_layout else cell.column


def _recorded_limit(
    cell: CellValue, analyte: Analyte, context: StagingContext, problems: Collector
) -> str | None:
    """``OOR <`` / ``OOR >`` as ``<LLOQ`` / ``>ULOQ`` from the lab's recorded measuring range
    for the assay (in the cell's unit, undiluted); without one the cell is an error."""
    below = cell.kind is ValueKind.BELOW_RANGE
    side = "below" if below else "above"
    facts = context.measuring_ranges.get(analyte.code)
    unit = (cell.unit or "").strip() or context.default_unit
    limits = facts.limits_in(unit) if facts is not None and unit else None
    limit = (limits[0] if below else limits[1]) if limits else None
    diluted = cell.dilution_factor not in (None, "", "1") and _is_not_one(cell.dilution_factor)
    if facts is None or limit is None or diluted:
        why = (
            "the sample was diluted, so the assay's limit does not apply as recorded"
            if diluted and limit is not None
            else "no measuring range is recorded for this assay"
        )
        problems.error(
            FILE,
            cell.row,
            cell.column,
            "out_of_range_without_value",
            f"{cell.raw!r}: {analyte.short_name} is {side} the measuring range but {why}; "
            "report it as <LLOQ or >ULOQ with the number (a limit is never guessed)",
        )
        return None
    text = f"{'<' if below else '>'}{limit:f}"
    problems.warning(
        FILE,
        cell.row,
        cell.column,
        "out_of_range_read_as_limit",
        f"{cell.raw!r} read as {text} {unit} from the lab's measuring range for "
        f"{analyte.short_name} ({facts.assay}, in force since {facts.effective_from})",
    )
    return text


def _is_not_one(text: str | None) -> bool:
    try:
        return dilution_factor_clean(str(text)) != 1
    except FieldError:
        return True


def _stage_value(
    cell: CellValue, context: StagingContext, problems: Collector
) -> ResultData | None:
    where = (FILE, cell.row, cell.column)
    if (cell.row, cell.column) in problems.parser_errors:
        problems.failed = True  # the parser already said what is wrong with this cell
        return None
    analyte = context.analyte(cell.analyte_label)
    mapped = context.bead_regions.get(cell.bead_region) if cell.bead_region else None
    if analyte is not None and mapped is not None and analyte.pk != mapped.pk:
        problems.error(
            *_at(cell, "analyte"),
            "bead_region_conflict",
            f"{cell.analyte_label!r} is {analyte.short_name}, but the lab maps bead region "
            f"{cell.bead_region} to {mapped.short_name}; correct the export or the mapping",
        )
        return None
    analyte = analyte or mapped
    if analyte is None:
        problems.error(
            *_at(cell, "analyte"),
            "unknown_analyte",
            f"{cell.analyte_label!r} is not an analyte in the catalogue (code, name, alias or "
            "LOINC)"
            + (f" and bead region {cell.bead_region} is not mapped" if cell.bead_region else "")
            + "; nothing in this column was imported",
        )
        return None
    if cell.kind is ValueKind.EMPTY:
        if cell.unit is None and cell.column.casefold() == "value":
            problems.error(*where, "value_missing", "the value cell is empty")
        else:
            problems.staged.not_measured += 1
        return None
    if cell.kind is ValueKind.NOT_CALCULABLE:
        problems.error(
            *where,
            "no_value",
            f"the instrument gave no value ({cell.raw!r}) for {analyte.short_name}; re-run the "
            "sample or remove the cell",
        )
        return None
    text = cell.text or ""
    if cell.kind in (ValueKind.BELOW_RANGE, ValueKind.ABOVE_RANGE):
        limit_text = _recorded_limit(cell, analyte, context, problems)
        if limit_text is None:
            return None
        text = limit_text
    if cell.extrapolated:
        problems.error(
            *where,
            "extrapolated",
            f"{cell.raw!r} is extrapolated beyond the standard curve; report it as <LLOQ or >ULOQ, "
            "or re-run on dilution",
        )
        return None
    try:
        reported = _reported_value(text)
    except NotationError as error:
        problems.error(*where, "invalid_value", str(error))
        return None
    declared = (cell.unit or "").strip() or context.default_unit
    if not declared:
        problems.error(
            *_at(cell, "unit"), "unit_missing", f"no unit given for {analyte.short_name}"
        )
        return None
    unit = context.unit(declared, analyte)
    if unit is None:
        problems.error(*_at(cell, "unit"), "unit_not_allowed", unit_problem(declared, analyte))
        return None
    dilution: Decimal | None = None
    if cell.dilution_factor not in (None, ""):
        try:
            dilution = dilution_factor_clean(str(cell.dilution_factor))
        except FieldError as error:
            problems.error(
                *_at(cell, "dilution_factor"), "invalid_dilution", f"dilution factor: {error}"
            )
            return None
    return ResultData(
        analyte=analyte,
        analyte_as_received=cell.analyte_label[:120],
        raw_value=cell.raw[:64],
        reported=reported,
        unit=unit,
        dilution_factor=dilution,
    )
