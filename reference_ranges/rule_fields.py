"""The fields of a reference-range rule, named once: stored, edited, exported and imported alike.

The exchange format (:mod:`reference_ranges.ruleset_format`), its serializer, the draft editing
service, the seed loader and the admin all read these tuples, so a field added to the model is
added here and nowhere else.
"""

from __future__ import annotations

__all__ = ["RULE_FIELDS", "RULE_VALUE_FIELDS"]

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
"""The fields a rule carries besides its key and analyte."""

RULE_FIELDS = ("key", "analyte", *RULE_VALUE_FIELDS)
"""Every field of a rule, in the order the exchange format writes them."""
