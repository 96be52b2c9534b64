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

from reference_ranges.rule_fields import RULE_FIELDS, RULE_VALUE_FIELDS
from reference_ranges.ruleset_format.spec import (
    AGE_UNITS,
    DEFAULT_PANEL_TYPE,
    MAX_RULES,
    RULESET_FIELDS,
    SEXES,
    TOP_LEVEL_FIELDS,
    DocumentFormat,
    MolecularWeights,
    Problem,
    RulesetSpec,
    RuleSpec,
    ValidationOutcome,
)
from reference_ranges.ruleset_format.text import (
    decimal_text,
    document_dump,
    document_from_spec,
    document_load,
)
from reference_ranges.ruleset_format.validate import document_validate, problems_as_details

__all__ = [
    "AGE_UNITS",
    "DEFAULT_PANEL_TYPE",
    "MAX_RULES",
    "RULESET_FIELDS",
    "RULE_FIELDS",
    "RULE_VALUE_FIELDS",
    "SEXES",
    "TOP_LEVEL_FIELDS",
    "DocumentFormat",
    "MolecularWeights",
    "Problem",
    "RuleSpec",
    "RulesetSpec",
    "ValidationOutcome",
    "decimal_text",
    "document_dump",
    "document_from_spec",
    "document_load",
    "document_validate",
    "problems_as_details",
]
