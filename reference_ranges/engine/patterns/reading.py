"""Field readers for a parsed pattern rules document: each checks one value's type and shape.

Every reader raises :class:`PatternRuleError` naming the rule id (``None`` for the document)
and the field; numbers must be exact (a YAML float is refused: quote it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation

from reference_ranges.engine.patterns.types import PatternRuleError

_DOCUMENT_KEYS = frozenset({"format_version", "clinical_inputs", "rules"})
_FORMAT_VERSION = 1


def mapping_of(value: object, rule_id: str | None, field: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) for key in value):
        raise PatternRuleError(rule_id, field, "must be a mapping with text keys")
    return value


def sequence_of(value: object, rule_id: str | None, field: str) -> Sequence[object]:
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise PatternRuleError(rule_id, field, "must be a list")
    return value


def text_of(
    raw: Mapping[str, object], key: str, rule_id: str | None, field: str, *, required: bool = True
) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise PatternRuleError(rule_id, field, "must be non-empty text")
    return value.strip()


def item_text(value: object, rule_id: str | None, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PatternRuleError(rule_id, field, "must be non-empty text")
    return value.strip()


def flag_of(raw: Mapping[str, object], key: str, rule_id: str | None, field: str) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        raise PatternRuleError(rule_id, field, "must be true or false")
    return value


def decimal_of(value: object, rule_id: str | None, field: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise PatternRuleError(rule_id, field, "must be a number")
    if isinstance(value, float):
        raise PatternRuleError(
            rule_id, field, f"write {value!r} as quoted text (e.g. '{value!r}') so it is exact"
        )
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise PatternRuleError(rule_id, field, f"{value!r} is not a number") from None
    else:
        raise PatternRuleError(rule_id, field, "must be a number")
    if not number.is_finite():
        raise PatternRuleError(rule_id, field, "must be a finite number")
    return number


def integer_of(value: object, rule_id: str | None, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PatternRuleError(rule_id, field, "must be a whole number")
    return value


def check_keys(
    raw: Mapping[str, object], allowed: frozenset[str], rule_id: str | None, field: str
) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PatternRuleError(rule_id, field, f"unknown key(s) {', '.join(unknown)}")


def is_identifier(name: str) -> bool:
    return bool(name) and name[0].isalpha() and all(c.isalnum() or c == "_" for c in name)


def is_analyte_code(name: str) -> bool:
    return is_identifier(name) and name == name.upper()


def words_of(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() else " " for c in text).split()


def document_mapping(document: Mapping[str, object]) -> Mapping[str, object]:
    raw = mapping_of(document, None, "document")
    check_keys(raw, _DOCUMENT_KEYS, None, "document")
    if raw.get("format_version", _FORMAT_VERSION) != _FORMAT_VERSION:
        raise PatternRuleError(None, "format_version", f"must be {_FORMAT_VERSION}")
    return raw
