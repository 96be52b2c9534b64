"""The shipped pattern rules (CRS / cytokine storm / HLH criteria) as engine objects.

Pattern rules are data: ``seed/pattern_rules.yaml`` names each rule's inputs, thresholds,
logic kind, citation, verification and whether it ships enabled, and declares the clinical
inputs (temperature, vasopressors, oxygen support...) a panel may carry. This module only reads
that file (once per process: it is part of the release) and hands the engine its rules.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from reference_ranges.engine.patterns import (
    ClinicalInputSpec,
    PatternRule,
    load_clinical_inputs,
    load_pattern_rules,
)

PATTERN_RULES_PATH = Path(__file__).resolve().parent / "seed" / "pattern_rules.yaml"


@lru_cache(maxsize=1)
def _document() -> Any:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(PATTERN_RULES_PATH.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506


@lru_cache(maxsize=1)
def pattern_rules_all() -> tuple[PatternRule, ...]:
    return load_pattern_rules(_document())


def pattern_rules_enabled() -> tuple[PatternRule, ...]:
    return tuple(rule for rule in pattern_rules_all() if rule.enabled)


@lru_cache(maxsize=1)
def clinical_inputs() -> dict[str, ClinicalInputSpec]:
    """The clinical inputs a panel may carry, by name."""
    return {spec.name: spec for spec in load_clinical_inputs(_document())}
