"""Value types of the interpretation engine: frozen dataclasses, Decimal values, no Django.

The engine judges one panel's measurements against one published rule set. Everything it needs
arrives in these types; everything it concludes leaves in them, carrying the rule key, the rule
set version and the source that produced it, so every flag can be traced and replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class Comparator(StrEnum):
    """How the reported number relates to the true value ("<1.5" is LT with value 1.5)."""

    EQ = ""
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="

    @property
    def is_censored(self) -> bool:
        return self is not Comparator.EQ


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class AgeUnit(StrEnum):
    DAYS = "days"
    YEARS = "years"


class InterpretationCode(StrEnum):
    """HL7 v2 table 0078 / FHIR v3-ObservationInterpretation codes the engine can emit."""

    NORMAL = "N"
    HIGH = "H"
    LOW = "L"
    CRITICAL_HIGH = "HH"
    CRITICAL_LOW = "LL"
    OFF_SCALE_LOW = "<"
    OFF_SCALE_HIGH = ">"

    @property
    def is_abnormal(self) -> bool:
        return self is not InterpretationCode.NORMAL


@dataclass(frozen=True, slots=True)
class Age:
    """A patient's age on the collection date, both as exact days and completed years."""

    days: int
    years: int


@dataclass(frozen=True, slots=True)
class RangeRule:
    """One published reference interval for one partition (analyte, unit, sex, age, specimen).

    Bounds are exactly as published: ``high=7.4, high_inclusive=True`` is "≤7.4";
    ``high=20, high_inclusive=False`` is "<20". ``None`` means unbounded on that side.
    Age limits are half-open, ``min_age <= age < max_age``, in ``age_unit``; ``None`` is open.
    ``sex=None`` means the rule applies whatever the patient's sex (including unknown);
    ``specimen_types=None`` means any specimen. Critical limits are inclusive: a value at or
    beyond ``critical_high`` / ``critical_low`` is critical.
    """

    key: str
    analyte: str
    unit: str
    low: Decimal | None
    low_inclusive: bool
    high: Decimal | None
    high_inclusive: bool
    source: str
    citation: str = ""
    verified: bool = True
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    sex: Sex | None = None
    age_unit: AgeUnit = AgeUnit.YEARS
    min_age: int | None = None
    max_age: int | None = None
    specimen_types: frozenset[str] | None = None

    @property
    def is_age_partitioned(self) -> bool:
        return self.min_age is not None or self.max_age is not None


@dataclass(frozen=True, slots=True)
class RuleSet:
    key: str
    version: str
    rules: tuple[RangeRule, ...]


@dataclass(frozen=True, slots=True)
class Measurement:
    """One reported result: analyte catalogue code, Decimal value with its comparator, unit."""

    analyte: str
    value: Decimal
    comparator: Comparator
    unit: str


@dataclass(frozen=True, slots=True)
class PatientContext:
    """What rule selection may depend on. ``age=None`` / ``sex=UNKNOWN`` are never guessed."""

    sex: Sex
    age: Age | None
    specimen_type: str


@dataclass(frozen=True, slots=True)
class Interpretation:
    """The engine's conclusion for one measurement.

    ``code`` is ``None`` when no rule applies; ``reason`` then says why (no rule for the unit,
    age unknown, no partition for this age/sex/specimen). ``reference_text`` is the interval as
    a clinician reads it ("≤7.4 pg/mL", "137–838 U/mL"), ``None`` when no rule applies.
    """

    analyte: str
    code: InterpretationCode | None
    reason: str
    rule_key: str | None = None
    ruleset_key: str | None = None
    ruleset_version: str | None = None
    reference_text: str | None = None

    @property
    def is_abnormal(self) -> bool:
        return self.code is not None and self.code.is_abnormal
