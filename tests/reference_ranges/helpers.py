"""Small exchange documents for the rule-set tests."""

from __future__ import annotations

from typing import Any

SPECIMEN_TYPES = ("serum", "plasma", "plasma_edta", "plasma_heparin", "plasma_citrate", "csf")


def rule(key: str, **fields: Any) -> dict[str, Any]:
    """A valid IL-6 rule ("≤2.5 pg/mL", any sex, age or specimen) with ``fields`` replaced."""
    return {
        "key": key,
        "analyte": "IL6",
        "unit": "pg/mL",
        "high": "2.5",
        "high_inclusive": True,
        "source": "Test Laboratory",
        "verified": True,
        **fields,
    }


def document(*rules: dict[str, Any], version: str = "1", key: str = "test-set") -> dict[str, Any]:
    return {
        "ruleset": {"key": key, "name": "Test set", "version": version},
        "rules": list(rules),
    }
