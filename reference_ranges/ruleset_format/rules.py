"""Reading one rule of an exchange document field by field, recording every problem at once."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from reference_ranges.rule_fields import RULE_FIELDS
from reference_ranges.ruleset_format.spec import AGE_UNITS, SEXES, Problem, RuleSpec
from reference_ranges.ruleset_format.text import decimal_text

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


class RuleReader:
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


def rule_label(raw: Any, index: int, seen: Mapping[str, int]) -> str:
    key = raw.get("key") if isinstance(raw, Mapping) else None
    if isinstance(key, str) and key and len(key) <= 80 and key not in seen:
        return key
    return f"rules[{index}]"


def read_rule(
    raw: Mapping[str, Any],
    label: str,
    *,
    analytes: Mapping[str, Collection[str]],
    specimen_types: Collection[str],
    errors: list[Problem],
) -> tuple[RuleSpec | None, set[str]]:
    reader = RuleReader(raw, label, errors)
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
