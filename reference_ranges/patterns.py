"""The shipped pattern rules (CRS / cytokine storm / HLH criteria) as engine objects, and which
of them a lab evaluates.

Pattern rules are data: ``seed/pattern_rules.yaml`` names each rule's inputs, thresholds,
logic kind, citation, verification and whether it ships enabled, and declares the clinical
inputs (temperature, vasopressors, oxygen support...) a panel may carry. This module reads that
file (once per process: it is part of the release) and hands the engine its rules.

Whether a rule is evaluated is decided, in this order, by the lab's own setting, the
installation default (both ``PatternRuleSetting`` rows, changed by a director in the admin), and
the file's ``enabled`` flag. A setting applies only to the rule version it was made for: a new
version of a rule must be reviewed again. A rule switched on keeps its verification: an
unverified rule's findings stay labelled unverified.
"""

from __future__ import annotations

from dataclasses import replace
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
from reference_ranges.selectors import pattern_rule_switches_get

PATTERN_RULES_PATH = Path(__file__).resolve().parent / "seed" / "pattern_rules.yaml"


@lru_cache(maxsize=1)
def _document() -> Any:
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(PATTERN_RULES_PATH.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506


@lru_cache(maxsize=1)
def pattern_rules_all() -> tuple[PatternRule, ...]:
    """Every shipped rule, with the file's ``enabled`` flag, in the file's order."""
    return load_pattern_rules(_document())


def pattern_rule_get(rule_id: str) -> PatternRule | None:
    """The shipped rule ``rule_id``, or ``None``."""
    for rule in pattern_rules_all():
        if rule.id == rule_id:
            return rule
    return None


def pattern_rules_enabled(*, lab_id: int | None = None) -> tuple[PatternRule, ...]:
    """The rules to evaluate for a panel of ``lab_id`` (``None``: the installation default),
    in the file's order, each with ``enabled=True``.

    Each rule is decided by the lab's setting for its current version, else the installation
    default for its current version, else the file's flag. One query.
    """
    switches = pattern_rule_switches_get(lab_id=lab_id)
    chosen = []
    for rule in pattern_rules_all():
        enabled = rule.enabled
        for switch in switches.get(rule.id, ()):
            if switch.rule_version == rule.version:
                enabled = switch.enabled
                break
        if enabled:
            chosen.append(rule if rule.enabled else replace(rule, enabled=True))
    return tuple(chosen)


@lru_cache(maxsize=1)
def clinical_inputs() -> dict[str, ClinicalInputSpec]:
    """The clinical inputs a panel may carry, by name."""
    return {spec.name: spec for spec in load_clinical_inputs(_document())}
