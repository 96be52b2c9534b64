"""The value types of the rule-set exchange format: problems, rule and set specs, the outcome.

Validated documents become :class:`RulesetSpec` values (bounds as exact Decimals); everything
wrong or worth a look is a :class:`Problem` naming the rule and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

DocumentFormat = Literal["yaml", "json"]

RULESET_FIELDS = ("key", "name", "version", "panel_type", "effective_from", "description")
# Top-level keys: ``defaults`` holds YAML anchors for rules to merge (``<<: *arup``); it is
# otherwise ignored.
TOP_LEVEL_FIELDS = ("ruleset", "rules", "defaults", "molecular_weights")
SEXES = ("female", "male", "other", "unknown")
AGE_UNITS = ("days", "years")
MAX_RULES = 5000
DEFAULT_PANEL_TYPE = "cytokine"

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
