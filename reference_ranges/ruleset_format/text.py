"""Reading and writing exchange documents as YAML or JSON text, and a spec as a document.

Bounds travel as decimal strings so that nothing is ever rounded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from labpanel.exceptions import InvalidInput
from reference_ranges.engine.decimals import trimmed_text
from reference_ranges.ruleset_format.spec import DocumentFormat, Problem, RulesetSpec


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
    return None if value is None else trimmed_text(value)


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
