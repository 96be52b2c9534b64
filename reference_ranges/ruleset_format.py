"""The rule-set exchange format (docs/ruleset-format.md): documents in, validated specs out.

A document is a mapping with a ``ruleset`` header and a list of ``rules``, written as YAML or
JSON; it has the structure of ``seed/default_ranges.yaml``. :func:`document_validate` checks a
parsed document completely — every field of every rule, then the partitions of the whole set
(overlaps are errors, internal age gaps are warnings) — and returns every problem at once, each
naming the rule (its key, or ``rules[i]`` when it has none) and the field. It needs no database:
the caller passes the analyte catalogue's units and the known specimen types. Bounds travel as
decimal strings so that nothing is ever rounded.

A document may carry ``molecular_weights`` (analyte code -> kDa as decimal text), the only thing
that converts a mass concentration (pg/mL) to a substance concentration (pmol/L). Only analytes
the catalogue gives a single molecular weight may have one: a range (IL-6, 20-28 kDa) is not a
molecular weight. A document without the key takes the catalogue's weights when it is stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import yaml

from labpanel.exceptions import InvalidInput
from reference_ranges.engine.units import Quantity, quantity_of

DocumentFormat = Literal["yaml", "json"]

RULESET_FIELDS = ("key", "name", "version", "panel_type", "effective_from", "description")
# The fields a rule carries besides its key and analyte: stored, exported and imported alike.
RULE_VALUE_FIELDS = (
    "unit",
    "low",
    "low_inclusive",
    "high",
    "high_inclusive",
    "critical_low",
    "critical_high",
    "sex",
    "age_unit",
    "min_age",
    "max_age",
    "specimen_types",
    "source",
    "test_code",
    "test_name",
    "method",
    "citation",
    "verified",
    "published_text",
    "note",
)
RULE_FIELDS = ("key", "analyte", *RULE_VALUE_FIELDS)
# Top-level keys: ``defaults`` holds YAML anchors for rules to merge (``<<: *arup``); it is
# otherwise ignored.
TOP_LEVEL_FIELDS = ("ruleset", "rules", "defaults", "molecular_weights")
SEXES = ("female", "male", "other", "unknown")
AGE_UNITS = ("days", "years")
MAX_RULES = 5000
DEFAULT_PANEL_TYPE = "cytokine"

# The stored columns: DecimalField(max_digits=20, decimal_places=6) and the CharField lengths.
_MAX_DECIMAL_PLACES = 6
_MAX_INTEGER_DIGITS = 14
_TEXT_LIMITS = {
    "test_code": 80,
    "test_name": 200,
    "method": 200,
    "citation": None,
    "published_text": 120,
    "note": None,
}
_QUANTUM = Decimal(1).scaleb(-_MAX_DECIMAL_PLACES)
_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
_DAYS_PER_YEAR_MIN = 365
_DAYS_PER_YEAR_MAX = 366
# Analyte.molecular_weight_kda: DecimalField(max_digits=8, decimal_places=3).
_MW_MAX_DECIMAL_PLACES = 3
_MW_MAX_INTEGER_DIGITS = 5

MolecularWeights = tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a look) in a document.

    ``rule`` is the rule's key (``rules[i]`` when it has no usable key); ``None`` for the
    document or its ``ruleset`` header.
    """

    rule: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, str | None]:
        return {"rule": self.rule, "field": self.field, "message": self.message}


@dataclass(frozen=True)
class RuleSpec:
    key: str
    analyte: str
    unit: str
    low: Decimal | None
    low_inclusive: bool
    high: Decimal | None
    high_inclusive: bool
    critical_low: Decimal | None
    critical_high: Decimal | None
    sex: str  # "" = any
    age_unit: str
    min_age: int | None
    max_age: int | None
    specimen_types: tuple[str, ...] | None  # None = any
    source: str
    test_code: str
    test_name: str
    method: str
    citation: str
    verified: bool
    published_text: str
    note: str


@dataclass(frozen=True)
class RulesetSpec:
    key: str
    name: str
    version: str
    panel_type: str
    effective_from: date | None
    description: str
    rules: tuple[RuleSpec, ...]
    # Analyte code -> kDa, sorted by code. ``None``: the document did not say (take the
    # catalogue's when stored); ``()``: the set has none.
    molecular_weights: MolecularWeights | None = None


@dataclass
class ValidationOutcome:
    spec: RulesetSpec | None
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


# --- Reading and writing text --------------------------------------------------------------------


def document_load(text: str | bytes, *, document_format: DocumentFormat) -> Any:
    """Parse YAML or JSON text (JSON numbers become Decimals); raises ``InvalidInput``."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _unreadable(f"not UTF-8 text: {error}") from error
    try:
        if document_format == "json":
            return json.loads(text, parse_float=Decimal)
        loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except (ValueError, yaml.YAMLError) as error:
        raise _unreadable(f"not valid {document_format.upper()}: {error}") from error


def _unreadable(message: str) -> InvalidInput:
    return InvalidInput(
        "the rule set document cannot be read",
        details=[Problem(rule=None, field="document", message=message).as_dict()],
    )


def document_dump(document: Mapping[str, Any], *, document_format: DocumentFormat) -> str:
    """The document as text; YAML output starts with a comment naming the format's doc."""
    if document_format == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    header = "# Labpanel reference-range set; format: docs/ruleset-format.md\n"
    body = yaml.safe_dump(
        dict(document), sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )
    return header + body


def decimal_text(value: Decimal | None) -> str | None:
    """A bound as plain decimal text without padding zeros (2.500000 -> "2.5"), never rounded."""
    if value is None:
        return None
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def document_from_spec(spec: RulesetSpec) -> dict[str, Any]:
    """The exchange document for ``spec``: every field written, bounds as strings."""
    document: dict[str, Any] = {
        "ruleset": {
            "key": spec.key,
            "name": spec.name,
            "version": spec.version,
            "panel_type": spec.panel_type,
            "effective_from": spec.effective_from.isoformat() if spec.effective_from else None,
            "description": spec.description,
        },
        "rules": [
            {
                "key": rule.key,
                "analyte": rule.analyte,
                "unit": rule.unit,
                "low": decimal_text(rule.low),
                "low_inclusive": rule.low_inclusive,
                "high": decimal_text(rule.high),
                "high_inclusive": rule.high_inclusive,
                "critical_low": decimal_text(rule.critical_low),
                "critical_high": decimal_text(rule.critical_high),
                "sex": rule.sex or None,
                "age_unit": rule.age_unit,
                "min_age": rule.min_age,
                "max_age": rule.max_age,
                "specimen_types": list(rule.specimen_types) if rule.specimen_types else None,
                "source": rule.source,
                "test_code": rule.test_code,
                "test_name": rule.test_name,
                "method": rule.method,
                "citation": rule.citation,
                "verified": rule.verified,
                "published_text": rule.published_text,
                "note": rule.note,
            }
            for rule in spec.rules
        ],
    }
    if spec.molecular_weights is not None:
        document["molecular_weights"] = {
            analyte: decimal_text(weight) for analyte, weight in spec.molecular_weights
        }
    return document


# --- Validation ----------------------------------------------------------------------------------


class _RuleReader:
    """Reads one rule mapping field by field, recording a problem for each bad field."""

    def __init__(self, raw: Mapping[str, Any], label: str, errors: list[Problem]) -> None:
        self.raw = raw
        self.label = label
        self.errors = errors
        self.failed: set[str] = set()

    def fail(self, name: str, message: str) -> None:
        self.failed.add(name)
        self.errors.append(Problem(rule=self.label, field=name, message=message))

    def text(self, name: str, *, required: bool, limit: int | None) -> str:
        value = self.raw.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, "required")
            return ""
        if not isinstance(value, str):
            self.fail(name, "must be text (quote it)")
            return ""
        if limit is not None and len(value) > limit:
            self.fail(name, f"at most {limit} characters")
            return ""
        return value

    def boolean(self, name: str, *, default: bool | None) -> bool:
        value = self.raw.get(name)
        if value is None:
            if default is None:
                self.fail(name, "required: true or false")
                return False
            return default
        if not isinstance(value, bool):
            self.fail(name, "must be true or false")
            return False
        return value

    def decimal(self, name: str) -> Decimal | None:
        value = self.raw.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            self.fail(name, 'must be a number written as a string, e.g. "2.5"')
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(name, "must be a finite number")
            return None
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(name, f"{value!r} is not a number")
            return None
        if not number.is_finite():
            self.fail(name, "must be a finite number")
            return None
        if number < 0:
            self.fail(name, "must not be negative (concentrations are never negative)")
            return None
        if number.adjusted() >= _MAX_INTEGER_DIGITS:
            self.fail(name, f"more than {_MAX_INTEGER_DIGITS} digits before the decimal point")
            return None
        if number != number.quantize(_QUANTUM):
            self.fail(
                name, f"more than {_MAX_DECIMAL_PLACES} decimal places would be rounded; refused"
            )
            return None
        return number

    def age(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(name, "must be a whole number of 0 or more, or null")
            return None
        return value

    def choice(self, name: str, choices: Sequence[str], *, default: str) -> str:
        value = self.raw.get(name)
        if value is None or value == "":
            return default
        if value not in choices:
            self.fail(name, f"unknown {name} {value!r}; use one of {', '.join(choices)}")
            return default
        return str(value)

    def specimens(self, known: Collection[str]) -> tuple[str, ...] | None:
        value = self.raw.get("specimen_types")
        if value is None or value == []:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail("specimen_types", "must be a list of specimen types, or null for any")
            return None
        unknown = [item for item in value if item not in known]
        if unknown:
            self.fail(
                "specimen_types",
                f"unknown specimen type {', '.join(repr(item) for item in unknown)}; "
                f"use {', '.join(sorted(known))}",
            )
            return None
        if len(set(value)) != len(value):
            self.fail("specimen_types", "lists a specimen type twice")
            return None
        return tuple(value)


def _rule_label(raw: Any, index: int, seen: Mapping[str, int]) -> str:
    key = raw.get("key") if isinstance(raw, Mapping) else None
    if isinstance(key, str) and key and len(key) <= 80 and key not in seen:
        return key
    return f"rules[{index}]"


def _read_rule(
    raw: Mapping[str, Any],
    label: str,
    *,
    analytes: Mapping[str, Collection[str]],
    specimen_types: Collection[str],
    errors: list[Problem],
) -> tuple[RuleSpec | None, set[str]]:
    reader = _RuleReader(raw, label, errors)
    for name in raw:
        if name not in RULE_FIELDS:
            reader.fail(str(name), "unknown field")
    key = reader.text("key", required=True, limit=80)
    analyte = reader.text("analyte", required=True, limit=16)
    unit = reader.text("unit", required=True, limit=16)
    if analyte and "analyte" not in reader.failed and analyte not in analytes:
        reader.fail("analyte", f"unknown analyte {analyte!r}; use a catalogue code")
    elif analyte in analytes and unit and unit not in analytes[analyte]:
        allowed = ", ".join(analytes[analyte]) or "none"
        reader.fail("unit", f"{unit!r} is not a unit {analyte} is reported in (allowed: {allowed})")
    low = reader.decimal("low")
    high = reader.decimal("high")
    low_inclusive = reader.boolean("low_inclusive", default=None if low is not None else True)
    high_inclusive = reader.boolean("high_inclusive", default=None if high is not None else True)
    critical_low = reader.decimal("critical_low")
    critical_high = reader.decimal("critical_high")
    sex = reader.choice("sex", SEXES, default="")
    age_unit = reader.choice("age_unit", AGE_UNITS, default="years")
    min_age = reader.age("min_age")
    max_age = reader.age("max_age")
    specimens = reader.specimens(specimen_types)
    source = reader.text("source", required=True, limit=200)
    texts = {
        name: reader.text(name, required=False, limit=limit) for name, limit in _TEXT_LIMITS.items()
    }
    verified = reader.boolean("verified", default=None)

    if low is None and high is None and not {"low", "high"} & reader.failed:
        reader.fail("high", "a rule needs a low or a high limit (or both)")
    if low is not None and high is not None:
        if low > high:
            reader.fail("low", f"low {decimal_text(low)} is above high {decimal_text(high)}")
        elif low == high and not (low_inclusive and high_inclusive):
            reader.fail("low", "the interval is empty: low equals high and a bound is exclusive")
    if critical_low is not None and low is not None and critical_low > low:
        reader.fail(
            "critical_low",
            f"critical low {decimal_text(critical_low)} is above the low limit {decimal_text(low)}",
        )
    if critical_high is not None and high is not None and critical_high < high:
        reader.fail(
            "critical_high",
            f"critical high {decimal_text(critical_high)} is below the high limit "
            f"{decimal_text(high)}",
        )
    if critical_low is not None and critical_high is not None and critical_low >= critical_high:
        reader.fail("critical_high", "critical high must be above critical low")
    if min_age is not None and max_age is not None and min_age >= max_age:
        reader.fail("max_age", f"max_age {max_age} must be above min_age {min_age}")

    if reader.failed:
        return None, reader.failed
    return (
        RuleSpec(
            key=key,
            analyte=analyte,
            unit=unit,
            low=low,
            low_inclusive=low_inclusive,
            high=high,
            high_inclusive=high_inclusive,
            critical_low=critical_low,
            critical_high=critical_high,
            sex=sex,
            age_unit=age_unit,
            min_age=min_age,
            max_age=max_age,
            specimen_types=specimens,
            source=source,
            verified=verified,
            **texts,
        ),
        reader.failed,
    )


# A rule's partition, for the set-wide checks: (label, analyte, unit, sex, specimens, age_unit,
# min_age, max_age). Built even for rules with errors elsewhere, when these fields are sound.
@dataclass(frozen=True)
class _Partition:
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


def _partition_of(raw: Mapping[str, Any], label: str, failed: set[str]) -> _Partition | None:
    needed = {"analyte", "unit", "sex", "specimen_types", "age_unit", "min_age", "max_age"}
    if needed & failed or not isinstance(raw.get("analyte"), str):
        return None
    specimens = raw.get("specimen_types") or None
    return _Partition(
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


def _overlap(first: _Partition, second: _Partition) -> str | None:
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


def _partition_problems(
    partitions: Sequence[_Partition], *, weighed: Collection[str] = ()
) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    # Rules in units that convert into one another judge the same results (the engine converts
    # a result into a rule's unit when it has no rule in its own), so they must not overlap
    # either: which of them judged a result would depend on the unit it was reported in.
    by_family: dict[tuple[str, str], list[_Partition]] = {}
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
    families: dict[tuple[str, str, str, frozenset[str] | None], list[_Partition]] = {}
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


def _read_header(header: Any, errors: list[Problem]) -> dict[str, Any] | None:
    if not isinstance(header, Mapping):
        errors.append(Problem(rule=None, field="ruleset", message="required: a mapping"))
        return None
    values: dict[str, Any] = {}
    failed = False

    def fail(name: str, message: str) -> None:
        nonlocal failed
        failed = True
        errors.append(Problem(rule=None, field=f"ruleset.{name}", message=message))

    for name in header:
        if name not in RULESET_FIELDS:
            fail(str(name), "unknown field")
    for name, limit in (("key", 64), ("name", 200), ("version", 32)):
        value = header.get(name)
        if value is None or value == "":
            fail(name, "required")
        elif not isinstance(value, str):
            fail(name, 'must be text (quote it, e.g. "2026.10")')
        elif len(value) > limit:
            fail(name, f"at most {limit} characters")
        else:
            values[name] = value
    if "key" in values and not _SLUG.match(values["key"]):
        fail("key", "use letters, digits, '-' or '_'")
    panel_type = header.get("panel_type")
    if panel_type is None:
        values["panel_type"] = DEFAULT_PANEL_TYPE
    elif not isinstance(panel_type, str) or not panel_type or len(panel_type) > 32:
        fail("panel_type", "must be text of at most 32 characters")
    else:
        values["panel_type"] = panel_type
    effective = header.get("effective_from")
    values["effective_from"] = None
    if isinstance(effective, date):
        values["effective_from"] = effective
    elif isinstance(effective, str) and effective:
        try:
            values["effective_from"] = date.fromisoformat(effective)
        except ValueError:
            fail("effective_from", "not a date; use YYYY-MM-DD")
    elif effective not in (None, ""):
        fail("effective_from", "not a date; use YYYY-MM-DD")
    description = header.get("description")
    if description is not None and not isinstance(description, str):
        fail("description", "must be text")
    values["description"] = (description or "").strip()
    return None if failed else values


def _read_molecular_weights(
    raw: Any,
    *,
    analytes: Mapping[str, Collection[str]],
    catalogue_weights: Mapping[str, Decimal],
    errors: list[Problem],
    warnings: list[Problem],
) -> MolecularWeights | None:
    """The document's ``molecular_weights``; ``None`` when absent (or null)."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors.append(
            Problem(
                rule=None,
                field="molecular_weights",
                message='must be a mapping of analyte code to kDa, e.g. {IL1B: "17.5"}',
            )
        )
        return None
    weights: list[tuple[str, Decimal]] = []
    for analyte, value in raw.items():
        field_name = f"molecular_weights.{analyte}"

        def fail(message: str, field_name: str = field_name) -> None:
            errors.append(Problem(rule=None, field=field_name, message=message))

        if not isinstance(analyte, str) or analyte not in analytes:
            fail(f"unknown analyte {analyte!r}; use a catalogue code")
            continue
        weight = _weight_decimal(value)
        if weight is None:
            fail('must be a positive decimal number of kDa as a string, e.g. "17.5"')
            continue
        exponent = weight.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if places > _MW_MAX_DECIMAL_PLACES or weight.adjusted() >= _MW_MAX_INTEGER_DIGITS:
            fail(
                f"at most {_MW_MAX_INTEGER_DIGITS} digits before and "
                f"{_MW_MAX_DECIMAL_PLACES} after the decimal point"
            )
            continue
        known = catalogue_weights.get(analyte)
        if known is None:
            fail(
                f"the analyte catalogue gives {analyte} no single molecular weight; a set cannot "
                "give one (a range of weights, e.g. of a glycosylated protein, is not a "
                "molecular weight, and no midpoint is taken)"
            )
            continue
        if weight != known:
            warnings.append(
                Problem(
                    rule=None,
                    field=field_name,
                    message=f"{decimal_text(weight)} kDa differs from the catalogue's "
                    f"{decimal_text(known)} kDa; the set keeps {decimal_text(weight)} kDa",
                )
            )
        weights.append((analyte, weight))
    return tuple(sorted(weights))


def _weight_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        return None
    try:
        weight = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return weight if weight.is_finite() and weight > 0 else None


def document_validate(
    document: Any,
    *,
    analytes: Mapping[str, Collection[str]],
    specimen_types: Collection[str],
    molecular_weights: Mapping[str, Decimal] | None = None,
) -> ValidationOutcome:
    """Check every part of ``document``; never raises for content problems.

    ``analytes`` maps each catalogue code to the units it may be reported in;
    ``molecular_weights`` maps the codes the catalogue gives a single molecular weight (kDa) to
    it. Returns the spec (``None`` when there is any error), the errors and the warnings.
    Errors: unknown fields, missing or malformed values, unknown analyte, unit, sex, age unit or
    specimen type, duplicate keys, low above high, an empty interval, critical limits inside the
    interval, rules whose partitions overlap (in one unit, or in units that convert into each
    other), and a molecular weight for an analyte the catalogue gives none. Warnings: internal
    gaps between age bands of one partition family; a molecular weight that differs from the
    catalogue's.
    """
    errors: list[Problem] = []
    warnings: list[Problem] = []
    if not isinstance(document, Mapping):
        errors.append(Problem(rule=None, field="document", message="must be a mapping"))
        return ValidationOutcome(spec=None, errors=errors)
    for name in document:
        if name not in TOP_LEVEL_FIELDS:
            errors.append(Problem(rule=None, field=str(name), message="unknown field"))
    header = _read_header(document.get("ruleset"), errors)
    weights = _read_molecular_weights(
        document.get("molecular_weights"),
        analytes=analytes,
        catalogue_weights=molecular_weights or {},
        errors=errors,
        warnings=warnings,
    )
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        errors.append(Problem(rule=None, field="rules", message="required: a non-empty list"))
        return ValidationOutcome(spec=None, errors=errors, warnings=warnings)
    if len(raw_rules) > MAX_RULES:
        errors.append(Problem(rule=None, field="rules", message=f"at most {MAX_RULES} rules"))
        return ValidationOutcome(spec=None, errors=errors, warnings=warnings)

    rules: list[RuleSpec] = []
    partitions: list[_Partition] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        label = _rule_label(raw, index, seen)
        if not isinstance(raw, Mapping):
            errors.append(Problem(rule=label, field="rule", message="must be a mapping"))
            continue
        key = raw.get("key")
        if isinstance(key, str) and key in seen:
            errors.append(
                Problem(
                    rule=label,
                    field="key",
                    message=f"duplicate key {key!r} (first used by rules[{seen[key]}])",
                )
            )
        spec, failed = _read_rule(
            raw, label, analytes=analytes, specimen_types=specimen_types, errors=errors
        )
        if isinstance(key, str) and key:
            seen.setdefault(key, index)
        if spec is not None:
            rules.append(spec)
        partition = _partition_of(raw, label, failed)
        if partition is not None:
            partitions.append(partition)
    # A document that names no weights is stored with the catalogue's.
    weighed = set(molecular_weights or {}) if weights is None else {code for code, _ in weights}
    overlap_errors, gap_warnings = _partition_problems(partitions, weighed=weighed)
    errors.extend(overlap_errors)
    warnings.extend(gap_warnings)
    if errors or header is None:
        return ValidationOutcome(spec=None, errors=errors, warnings=warnings)
    return ValidationOutcome(
        spec=RulesetSpec(rules=tuple(rules), molecular_weights=weights, **header),
        errors=errors,
        warnings=warnings,
    )


def problems_as_details(problems: Sequence[Problem]) -> list[dict[str, str | None]]:
    return [problem.as_dict() for problem in problems]
