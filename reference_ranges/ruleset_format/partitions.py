"""The set-wide checks of an exchange document: overlapping partitions and age gaps.

Two rules of one analyte whose partitions (sex, specimen, age band) can both admit one patient
are an error, in one unit or in units the engine converts into each other; a gap between the age
bands of one partition family is a warning.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reference_ranges.engine.units import Quantity, quantity_of
from reference_ranges.ruleset_format.spec import Problem

_DAYS_PER_YEAR_MIN = 365
_DAYS_PER_YEAR_MAX = 366


# A rule's partition, for the set-wide checks: (label, analyte, unit, sex, specimens, age_unit,
# min_age, max_age). Built even for rules with errors elsewhere, when these fields are sound.
@dataclass(frozen=True)
class Partition:
    label: str
    analyte: str
    unit: str
    sex: str
    specimens: frozenset[str] | None
    age_unit: str
    min_age: int | None
    max_age: int | None

    @property
    def is_age_partitioned(self) -> bool:
        return self.min_age is not None or self.max_age is not None

    def days(self, *, widest: bool) -> tuple[float, float]:
        """The age band in days; years are converted (365 days, or 366 at the top if widest)."""
        low = 0 if self.min_age is None else self.min_age
        high = math.inf if self.max_age is None else self.max_age
        if self.age_unit == "days":
            return low, high
        return low * _DAYS_PER_YEAR_MIN, high * (
            _DAYS_PER_YEAR_MAX if widest else _DAYS_PER_YEAR_MIN
        )

    def age_text(self) -> str:
        if self.min_age is None and self.max_age is None:
            return "any age"
        if self.min_age is None:
            return f"<{self.max_age} {self.age_unit}"
        if self.max_age is None:
            return f"≥{self.min_age} {self.age_unit}"
        return f"{self.min_age} to <{self.max_age} {self.age_unit}"


def partition_of(raw: Mapping[str, Any], label: str, failed: set[str]) -> Partition | None:
    needed = {"analyte", "unit", "sex", "specimen_types", "age_unit", "min_age", "max_age"}
    if needed & failed or not isinstance(raw.get("analyte"), str):
        return None
    specimens = raw.get("specimen_types") or None
    return Partition(
        label=label,
        analyte=raw["analyte"],
        unit=str(raw.get("unit")),
        sex=raw.get("sex") or "",
        specimens=frozenset(specimens) if specimens else None,
        age_unit=raw.get("age_unit") or "years",
        min_age=raw.get("min_age"),
        max_age=raw.get("max_age"),
    )


def _sex_text(sex: str) -> str:
    return sex or "any sex"


def _specimen_text(specimens: frozenset[str] | None) -> str:
    return "any specimen" if specimens is None else "/".join(sorted(specimens))


def _overlap(first: Partition, second: Partition) -> str | None:
    """How two rules of one analyte and unit can both apply to one patient; None if they can't."""
    if first.sex and second.sex and first.sex != second.sex:
        return None
    if first.specimens is None:
        specimens = second.specimens
    elif second.specimens is None:
        specimens = first.specimens
    else:
        specimens = first.specimens & second.specimens
        if not specimens:
            return None
    if first.age_unit == second.age_unit:
        low = max(first.days(widest=False)[0], second.days(widest=False)[0])
        high = min(first.days(widest=False)[1], second.days(widest=False)[1])
    else:
        # Completed years and elapsed days do not convert exactly (leap days): compare the
        # widest day range each band can hold, so a real overlap is never missed.
        low = max(first.days(widest=True)[0], second.days(widest=True)[0])
        high = min(first.days(widest=True)[1], second.days(widest=True)[1])
    if low >= high:
        return None
    sex = first.sex or second.sex
    if first.age_unit == second.age_unit:
        ages = _band_text(low, high, first.age_unit)
    else:
        ages = f"{first.age_text()} and {second.age_text()}"
    return f"{_sex_text(sex)}, {_specimen_text(specimens)}, ages {ages}"


def _band_text(low_days: float, high_days: float, unit: str) -> str:
    """An age band given in days (years as 365 days each) written in ``unit``."""
    per_unit = _DAYS_PER_YEAR_MIN if unit == "years" else 1
    low = int(low_days // per_unit)
    if high_days == math.inf:
        return f"≥{low} {unit}" if low else "any age"
    high = int(high_days // per_unit)
    if low == 0:
        return f"<{high} {unit}"
    return f"{low} to <{high} {unit}"


def _unit_family(unit: str, *, has_molecular_weight: bool) -> str:
    """Units the engine converts into one another share a family; any other unit is its own.

    Mass concentrations convert among themselves (pg/mL, ng/L, ng/mL...), and to substance
    concentrations (pmol/L) only with the analyte's molecular weight. Arbitrary units (U/mL)
    never convert.
    """
    quantity = quantity_of(unit)
    if quantity is None:
        return f"unit:{unit}"
    if has_molecular_weight:
        return "amount"
    return "mass" if quantity is Quantity.MASS_CONCENTRATION else "substance"


def partition_problems(
    partitions: Sequence[Partition], *, weighed: Collection[str] = ()
) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    # Rules in units that convert into one another judge the same results (the engine converts
    # a result into a rule's unit when it has no rule in its own), so they must not overlap
    # either: which of them judged a result would depend on the unit it was reported in.
    by_family: dict[tuple[str, str], list[Partition]] = {}
    for partition in partitions:
        family = _unit_family(partition.unit, has_molecular_weight=partition.analyte in weighed)
        by_family.setdefault((partition.analyte, family), []).append(partition)
    for members in by_family.values():
        for position, second in enumerate(members):
            for first in members[:position]:
                where = _overlap(first, second)
                if where is None:
                    continue
                if first.unit == second.unit:
                    message = (
                        f"overlaps rule {first.label} for {second.analyte} in "
                        f"{second.unit} ({where}): both would apply to one patient"
                    )
                else:
                    message = (
                        f"overlaps rule {first.label} for {second.analyte} in {first.unit} "
                        f"({where}): {second.unit} and {first.unit} convert into each other, so "
                        "which rule judged a result would depend on the unit it was reported in"
                    )
                errors.append(Problem(rule=second.label, field="partition", message=message))
    families: dict[tuple[str, str, str, frozenset[str] | None], list[Partition]] = {}
    for partition in partitions:
        family_key = (partition.analyte, partition.unit, partition.sex, partition.specimens)
        families.setdefault(family_key, []).append(partition)
    for (analyte, unit, sex, specimens), members in families.items():
        if len(members) < 2 or not any(member.is_age_partitioned for member in members):
            continue
        age_units = {member.age_unit for member in members}
        shown_unit = age_units.pop() if len(age_units) == 1 else "days"
        ordered = sorted(members, key=lambda member: member.days(widest=False))
        reach = ordered[0].days(widest=False)[1]
        previous = ordered[0]
        for member in ordered[1:]:
            start, end = member.days(widest=False)
            if start > reach:
                gap = _band_text(reach, start, shown_unit)
                warnings.append(
                    Problem(
                        rule=member.label,
                        field="min_age",
                        message=(
                            f"age gap: no rule covers {analyte} in {unit} for "
                            f"{_sex_text(sex)}, {_specimen_text(specimens)}, ages {gap} "
                            f"(between rules {previous.label} and {member.label})"
                        ),
                    )
                )
            if end > reach:
                reach, previous = end, member
    return errors, warnings
