"""Value types of the interpretation engine: immutable, Decimal values, no Django.

The engine judges one panel's measurements against one published rule set. Everything it needs
arrives in these types (frozen dataclasses); everything it concludes leaves in them, carrying the
rule key, the rule set version and the source that produced it, so every flag can be traced and
replayed. :class:`Interpretation`, built once per result, is an immutable slotted class rather
than a frozen dataclass, for speed; it behaves like one (constructor, equality, hash, repr).
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
    """HL7 v2 table 0078 / FHIR v3-ObservationInterpretation codes the engine can emit.

    ``IND`` (indeterminate) is for a censored result that cannot be placed: "<20" against an
    interval "≤7.4" may be normal or high. It is neither normal nor abnormal, so
    :attr:`is_abnormal` is false for it, while :attr:`is_flagged` (anything but ``N``) is true:
    a reader must look at it.
    """

    NORMAL = "N"
    HIGH = "H"
    LOW = "L"
    CRITICAL_HIGH = "HH"
    CRITICAL_LOW = "LL"
    OFF_SCALE_LOW = "<"
    OFF_SCALE_HIGH = ">"
    INDETERMINATE = "IND"

    @property
    def is_abnormal(self) -> bool:
        """Certainly outside the interval: H, L, HH, LL, and "<" / ">" (certainly below/above)."""
        return self not in _NOT_ABNORMAL

    @property
    def is_flagged(self) -> bool:
        """Anything but normal: abnormal, or indeterminate (cannot be placed)."""
        return self is not InterpretationCode.NORMAL

    @property
    def is_critical(self) -> bool:
        """At or beyond a critical limit: HH or LL."""
        return self is InterpretationCode.CRITICAL_HIGH or self is InterpretationCode.CRITICAL_LOW


_NOT_ABNORMAL = frozenset({InterpretationCode.NORMAL, InterpretationCode.INDETERMINATE})


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
    """One published rule set.

    ``molecular_weights`` pairs analyte codes with a single molecular weight in kDa, the only
    thing that lets a mass concentration (pg/mL) be converted to a substance concentration
    (pmol/L) and back. It belongs to the rule set, not to ``interpret()``, so that a replay of
    the same rule set version converts the same way. An analyte without a single molecular
    weight (IL-6 is glycosylated, 20–28 kDa) is simply left out: its values are never converted
    between pg/mL and pmol/L.
    """

    key: str
    version: str
    rules: tuple[RangeRule, ...]
    molecular_weights: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True, slots=True)
class Measurement:
    """One reported result: analyte catalogue code, Decimal value with its comparator, unit.

    The value is kept exactly as the lab reported it: "<1.5" is ``value=1.5, comparator=LT``,
    and the comparator travels with it end to end. ``lloq`` / ``uloq`` are the assay's lower and
    upper limits of quantitation (its measuring range), in the measurement's unit, when the lab
    sends them; an uncensored value outside them is judged as reported, and the reason says it
    was extrapolated. ``dilution_factor`` is informative only: the lab's reported value already
    includes it, so the engine never multiplies by it; it is carried into the reason.
    ``method`` is the measurement method as the lab stated it ("" when not stated): it never
    picks an interval, and decides only which results compare across panels
    (:mod:`reference_ranges.engine.series`).
    """

    analyte: str
    value: Decimal
    comparator: Comparator
    unit: str
    lloq: Decimal | None = None
    uloq: Decimal | None = None
    dilution_factor: Decimal | None = None
    method: str = ""

    def __post_init__(self) -> None:
        if self.lloq is not None and self.uloq is not None and self.lloq > self.uloq:
            raise ValueError(
                f"{self.analyte}: LLOQ {self.lloq} is above ULOQ {self.uloq}; "
                "a measuring range must not be empty"
            )
        if self.dilution_factor is not None and not self.dilution_factor > 0:
            raise ValueError(f"{self.analyte}: dilution factor {self.dilution_factor} is not > 0")

    @property
    def is_censored(self) -> bool:
        """True for "<x", "≤x", ">x", "≥x": the number is a limit, not the value."""
        return self.comparator is not Comparator.EQ

    @property
    def exact_value(self) -> Decimal | None:
        """The value as a number, or ``None`` when censored.

        Use this, never ``value``, wherever arithmetic happens (fold change, trend, average):
        a censored value is a bound, not a number.
        """
        return self.value if self.comparator is Comparator.EQ else None


#: The specimen type that names plasma without its anticoagulant.
GENERIC_PLASMA = "plasma"
#: Plasma specimen types that name the anticoagulant, and how a reason names them.
ANTICOAGULATED_PLASMAS: dict[str, str] = {
    "plasma_edta": "EDTA plasma",
    "plasma_heparin": "heparin plasma",
    "plasma_citrate": "citrate plasma",
}


@dataclass(frozen=True, slots=True)
class PatientContext:
    """What rule selection may depend on. ``age=None`` / ``sex=UNKNOWN`` are never guessed.

    ``plasma_anticoagulant`` is the lab's own statement of what its generic "plasma" specimen
    is (one of :data:`ANTICOAGULATED_PLASMAS`), ``None`` when the lab has not said: an interval
    defined for a specific anticoagulant then never judges generic plasma (one tube cannot be
    both lithium heparin and EDTA).
    """

    sex: Sex
    age: Age | None
    specimen_type: str
    plasma_anticoagulant: str | None = None


class Interpretation:
    """The engine's conclusion for one measurement. Immutable.

    ``code`` is ``None`` when no rule applies; ``reason`` then says why (no rule for the unit,
    age unknown, no partition for this age/sex/specimen). ``reference_text`` is the interval as
    a clinician reads it ("≤7.4 pg/mL", "137–838 U/mL"), ``None`` when no rule applies.
    ``conversion`` is set when the value was converted into the rule's unit before it was
    judged ("12.4 ng/L = 12.4 pg/mL (1 ng/L = 1 pg/mL)"); the reason then starts with it.

    Not a dataclass, for speed (the engine builds one per result, and a frozen dataclass costs
    more to build; figures: bench/engine.py): a slotted class whose fields are read-only
    properties, with the constructor, equality, hash and repr a frozen dataclass would have.
    Assigning a field raises ``AttributeError``. The engine hands out shared instances for
    identical questions, which immutability makes safe. ``dataclasses.replace``/``asdict`` do
    not apply: build a new ``Interpretation`` instead.
    """

    __slots__ = (
        "_analyte",
        "_code",
        "_conversion",
        "_reason",
        "_reference_text",
        "_rule_key",
        "_ruleset_key",
        "_ruleset_version",
    )
    __match_args__ = (
        "analyte",
        "code",
        "reason",
        "rule_key",
        "ruleset_key",
        "ruleset_version",
        "reference_text",
        "conversion",
    )

    def __init__(
        self,
        analyte: str,
        code: InterpretationCode | None,
        reason: str,
        rule_key: str | None = None,
        ruleset_key: str | None = None,
        ruleset_version: str | None = None,
        reference_text: str | None = None,
        conversion: str | None = None,
    ) -> None:
        self._analyte = analyte
        self._code = code
        self._reason = reason
        self._rule_key = rule_key
        self._ruleset_key = ruleset_key
        self._ruleset_version = ruleset_version
        self._reference_text = reference_text
        self._conversion = conversion

    @property
    def analyte(self) -> str:
        return self._analyte

    @property
    def code(self) -> InterpretationCode | None:
        return self._code

    @property
    def reason(self) -> str:
        return self._reason

    @property
    def rule_key(self) -> str | None:
        return self._rule_key

    @property
    def ruleset_key(self) -> str | None:
        return self._ruleset_key

    @property
    def ruleset_version(self) -> str | None:
        return self._ruleset_version

    @property
    def reference_text(self) -> str | None:
        return self._reference_text

    @property
    def conversion(self) -> str | None:
        return self._conversion

    def _fields(self) -> tuple[object, ...]:
        return (
            self._analyte,
            self._code,
            self._reason,
            self._rule_key,
            self._ruleset_key,
            self._ruleset_version,
            self._reference_text,
            self._conversion,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Interpretation) or other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(self.__match_args__, self._fields(), strict=True)
        )
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[type[Interpretation], tuple[object, ...]]:
        return (type(self), self._fields())

    @property
    def is_abnormal(self) -> bool:
        """Certainly outside the interval (see :attr:`InterpretationCode.is_abnormal`)."""
        return self._code is not None and self._code.is_abnormal

    @property
    def is_flagged(self) -> bool:
        """Abnormal or indeterminate: anything a reader must look at beyond "normal"."""
        return self._code is not None and self._code.is_flagged
