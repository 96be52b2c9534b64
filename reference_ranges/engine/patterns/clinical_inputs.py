"""The clinical input vocabulary of a pattern rules document, and checking a supplied value.

A panel may carry clinical inputs (temperature, vasopressors, oxygen support...); the document
declares each one's type, unit, choices and limits, and :func:`check_clinical_value` says why a
supplied value does not fit its declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from reference_ranges.engine.decimals import plain
from reference_ranges.engine.patterns.judging import clinical_number
from reference_ranges.engine.patterns.reading import (
    check_keys,
    decimal_of,
    document_mapping,
    is_identifier,
    item_text,
    mapping_of,
    sequence_of,
    text_of,
)
from reference_ranges.engine.patterns.types import (
    INPUT_TYPES,
    ClinicalInputSpec,
    PatternRuleError,
)

_INPUT_KEYS = frozenset(
    {"name", "label", "type", "unit", "choices", "integer", "min", "max", "description"}
)


def _parse_input(raw_value: object, index: int) -> ClinicalInputSpec:
    field = f"clinical_inputs[{index}]"
    raw = mapping_of(raw_value, None, field)
    check_keys(raw, _INPUT_KEYS, None, field)
    name = text_of(raw, "name", None, f"{field}.name")
    if not is_identifier(name) or name != name.lower():
        raise PatternRuleError(None, f"{field}.name", f"{name!r} must be lower_snake_case")
    kind = text_of(raw, "type", None, f"clinical input {name}.type")
    if kind not in INPUT_TYPES:
        raise PatternRuleError(
            None, f"clinical input {name}.type", f"must be one of {', '.join(INPUT_TYPES)}"
        )
    choices = tuple(
        item_text(c, None, f"clinical input {name}.choices")
        for c in sequence_of(raw.get("choices"), None, f"clinical input {name}.choices")
    )
    if (kind == "choice") != bool(choices) or len(set(choices)) != len(choices):
        raise PatternRuleError(
            None,
            f"clinical input {name}.choices",
            "a choice input needs distinct choices; other types take none",
        )
    integer = raw.get("integer", False)
    if not isinstance(integer, bool) or (integer and kind != "number"):
        raise PatternRuleError(None, f"clinical input {name}.integer", "true only for a number")
    limits: list[Decimal | None] = []
    for key in ("min", "max"):
        value = raw.get(key)
        if value is not None and kind != "number":
            raise PatternRuleError(None, f"clinical input {name}.{key}", "only for a number")
        limits.append(
            None if value is None else decimal_of(value, None, f"clinical input {name}.{key}")
        )
    unit = text_of(raw, "unit", None, f"clinical input {name}.unit", required=False) or None
    return ClinicalInputSpec(
        name=name,
        type=kind,
        unit=unit,
        choices=choices,
        integer=integer,
        minimum=limits[0],
        maximum=limits[1],
        description=text_of(raw, "description", None, f"clinical input {name}.description"),
        label=text_of(raw, "label", None, f"clinical input {name}.label", required=False)
        or name.replace("_", " "),
    )


def load_clinical_inputs(document: Mapping[str, object]) -> tuple[ClinicalInputSpec, ...]:
    """The ``clinical_inputs`` vocabulary of a pattern rules document, validated, in order."""
    raw = document_mapping(document)
    specs = tuple(
        _parse_input(item, index)
        for index, item in enumerate(
            sequence_of(raw.get("clinical_inputs"), None, "clinical_inputs")
        )
    )
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise PatternRuleError(
            None, "clinical_inputs", f"duplicate name(s) {', '.join(duplicates)}"
        )
    return specs


def check_clinical_value(spec: ClinicalInputSpec, value: Decimal | bool | str) -> str | None:
    """Return why ``value`` is not acceptable for ``spec``, or ``None`` when it is."""
    if spec.type == "boolean":
        return None if isinstance(value, bool) else f"{spec.name} must be true or false"
    if spec.type == "choice":
        if isinstance(value, str) and value in spec.choices:
            return None
        return f"{spec.name} must be one of {', '.join(spec.choices)}"
    number = clinical_number(value)
    if number is None:
        return f"{spec.name} must be a number"
    if spec.integer and number != number.to_integral_value():
        return f"{spec.name} must be a whole number"
    if spec.minimum is not None and number < spec.minimum:
        return f"{spec.name} must be at least {plain(spec.minimum)}"
    if spec.maximum is not None and number > spec.maximum:
        return f"{spec.name} must be at most {plain(spec.maximum)}"
    return None
