"""Pattern rules: published CRS, cytokine-storm and HLH criteria, evaluated from data.

A pattern rule is data (``reference_ranges/seed/pattern_rules.yaml``): its inputs, thresholds,
logic (one of a few *kinds*), citation, whether its criteria were verified in the source, and
whether it ships enabled. :func:`load_pattern_rules` builds and validates rules from the parsed
document; :func:`evaluate_patterns` judges one panel (plus optional clinical inputs, earlier
panels and a baseline) against the enabled rules and returns one :class:`Finding` per rule, with
the evidence a lab needs to audit it.

Principles, enforced here rather than left to review:

* Thresholds are compared exactly as published (``>`` and ``≥`` differ), never rounded, and
  units are never converted: a result in another unit than the criterion's leaves the criterion
  undecided, with a reason naming both units.
* A censored result ("<2", ">5000") is never used as a number. It decides a criterion only when
  every value it can stand for would decide it the same way (">5000" is above 80; "<100" may or
  may not be); otherwise the criterion is undecided.
* Cytokine values alone never yield a CRS grade: only the ``astct_crs_grade`` kind may state a
  grade, and it reads clinical inputs only. A finding from cytokines alone is worded exactly
  :data:`CYTOKINE_ONLY_STATEMENT`.
* Unverified rules are marked in every finding they produce (``verified`` and the statement).
* Nothing here reads a clock or imports a framework: times and values are passed in.

Layout: :mod:`.types` (rules, inputs, findings); :mod:`.reading`, :mod:`.clinical_inputs` and
:mod:`.loader` (the document); :mod:`.judging` (one criterion against a panel) and
:mod:`.findings` (what a finding is built from); one module per rule kind (:mod:`.any_of`,
:mod:`.count_of`, :mod:`.hscore`, :mod:`.astct`, :mod:`.fold_rise`); :mod:`.dispatch` (a rule's
finding, plainly) and :mod:`.memo` (the same findings, remembered).
"""

from reference_ranges.engine.patterns.clinical_inputs import (
    check_clinical_value,
    load_clinical_inputs,
)
from reference_ranges.engine.patterns.loader import load_pattern_rules
from reference_ranges.engine.patterns.memo import evaluate_patterns
from reference_ranges.engine.patterns.types import (
    ASTCT_INPUTS,
    ASTCT_OXYGEN_DEVICES,
    CYTOKINE_ONLY_STATEMENT,
    PATTERN_KINDS,
    UNVERIFIED_SUFFIX,
    ClinicalInputSpec,
    ClinicalValue,
    Criterion,
    Evidence,
    Finding,
    FindingStatus,
    PatternContext,
    PatternRule,
    PatternRuleError,
    SerialPoint,
)

__all__ = [
    "ASTCT_INPUTS",
    "ASTCT_OXYGEN_DEVICES",
    "CYTOKINE_ONLY_STATEMENT",
    "PATTERN_KINDS",
    "UNVERIFIED_SUFFIX",
    "ClinicalInputSpec",
    "ClinicalValue",
    "Criterion",
    "Evidence",
    "Finding",
    "FindingStatus",
    "PatternContext",
    "PatternRule",
    "PatternRuleError",
    "SerialPoint",
    "check_clinical_value",
    "evaluate_patterns",
    "load_clinical_inputs",
    "load_pattern_rules",
]
