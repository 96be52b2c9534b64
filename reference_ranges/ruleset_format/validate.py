"""Validating a whole exchange document: the header, molecular weights, every rule, the set.

:func:`document_validate` never raises for content problems; it returns every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from reference_ranges.ruleset_format.partitions import (
    Partition,
    partition_of,
    partition_problems,
)
from reference_ranges.ruleset_format.rules import read_rule, rule_label
from reference_ranges.ruleset_format.spec import (
    DEFAULT_PANEL_TYPE,
    MAX_RULES,
    RULESET_FIELDS,
    TOP_LEVEL_FIELDS,
    MolecularWeights,
    Problem,
    RulesetSpec,
    RuleSpec,
    ValidationOutcome,
)
from reference_ranges.ruleset_format.text import decimal_text

_SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
# Analyte.molecular_weight_kda: DecimalField(max_digits=8, decimal_places=3).
_MW_MAX_DECIMAL_PLACES = 3
_MW_MAX_INTEGER_DIGITS = 5


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
    partitions: list[Partition] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_rules):
        label = rule_label(raw, index, seen)
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
        spec, failed = read_rule(
            raw, label, analytes=analytes, specimen_types=specimen_types, errors=errors
        )
        if isinstance(key, str) and key:
            seen.setdefault(key, index)
        if spec is not None:
            rules.append(spec)
        partition = partition_of(raw, label, failed)
        if partition is not None:
            partitions.append(partition)
    # A document that names no weights is stored with the catalogue's.
    weighed = set(molecular_weights or {}) if weights is None else {code for code, _ in weights}
    overlap_errors, gap_warnings = partition_problems(partitions, weighed=weighed)
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
