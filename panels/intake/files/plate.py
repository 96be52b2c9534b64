"""What the three instrument exports share: wells gathered into samples, value cells read the
same way, replicate wells and repeated cells reported."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

from panels.intake.files.common import Context, formula_warning
from panels.intake.files.types import CellValue, ParsedSample, ProblemCode, SampleKind, ValueKind
from panels.intake.files.values import Reading, read_value

_CACHE_LIMIT = 50_000


@dataclass
class _Well:
    row: int
    sample_id: str
    kind: SampleKind
    well: str | None
    values: list[CellValue] = field(default_factory=list)
    seen: dict[Hashable, CellValue] = field(default_factory=dict)


class Plate:
    """Samples in the order first met; each key (e.g. plate, well, sample) is one sample."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.wells: dict[Hashable, _Well] = {}
        self.readings: dict[str, Reading] = {}

    def sample(
        self, key: Hashable, row: int, sample_id: str, kind: SampleKind, well: str | None
    ) -> _Well:
        found = self.wells.get(key)
        if found is None:
            found = self.wells[key] = _Well(row, sample_id, kind, well)
        return found

    def read(self, raw: str) -> Reading:
        reading = self.readings.get(raw)
        if reading is None:
            reading = read_value(raw, decimal_comma=self.ctx.decimal_comma)
            if len(self.readings) < _CACHE_LIMIT:
                self.readings[raw] = reading
        return reading

    def add(
        self,
        sample: _Well,
        value_key: Hashable,
        *,
        row: int,
        column: str,
        label: str,
        bead_region: str | None,
        raw: str,
        reading: Reading,
        unit: str | None,
        dilution: str | None,
    ) -> None:
        """Record one value cell and its problems; a second value for the same key is not kept."""
        ctx = self.ctx
        if reading.formula:
            formula_warning(raw, row, column, ctx.problems)
        if reading.code is not None:
            ctx.problems.add(row, column, reading.code, f"line {row}, {column}: {reading.message}")
        if reading.kind is ValueKind.NUMBER and ctx.decimal_comma:
            ctx.note_number(raw, row, column)
        where = f"well {sample.well}" if sample.well else "the plate"
        first = sample.seen.get(value_key)
        if first is not None:
            same = raw.strip() == first.raw.strip()
            ctx.problems.add(
                row,
                column,
                ProblemCode.DUPLICATE_ROW,
                f"line {row}: {label} of sample {sample.sample_id!r} on {where} "
                + (
                    f"is repeated: duplicate row, first at line {first.row}"
                    if same
                    else f"is {raw.strip()!r} here but {first.raw.strip()!r} on line {first.row}"
                )
                + "; the repeat was not read",
            )
            return
        cell = CellValue(
            row,
            column,
            label,
            bead_region,
            raw,
            reading.kind,
            reading.text,
            reading.extrapolated,
            unit,
            dilution,
        )
        sample.seen[value_key] = cell
        sample.values.append(cell)

    def freeze(self) -> list[ParsedSample]:
        samples = [
            ParsedSample(
                row=well.row,
                sample_id=well.sample_id,
                kind=well.kind,
                well=well.well,
                patient=None,
                values=tuple(well.values),
                accession=None,
            )
            for well in self.wells.values()
        ]
        self._warn_replicates(samples)
        return samples

    def _warn_replicates(self, samples: list[ParsedSample]) -> None:
        wells: dict[str, list[ParsedSample]] = {}
        for sample in samples:
            if sample.kind is SampleKind.PATIENT:
                wells.setdefault(sample.sample_id, []).append(sample)
        for sample_id, group in wells.items():
            if len(group) > 1:
                names = ", ".join(sample.well or f"line {sample.row}" for sample in group)
                self.ctx.problems.warn(
                    group[1].row,
                    None,
                    ProblemCode.REPLICATE_WELLS,
                    f"sample {sample_id!r} is on {len(group)} wells ({names}); each well is "
                    "reported as it is, nothing is averaged",
                )


def missing_sample_id(ctx: Context, row: int, column: str, well: str | None) -> None:
    where = f" (well {well})" if well else ""
    ctx.problems.add(
        row,
        column,
        ProblemCode.SAMPLE_WITHOUT_ID,
        f"line {row}: a sample on the plate{where} has no sample ID; its values were not read",
    )
