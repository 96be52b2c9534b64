"""The ``any_of`` kind: met when any criterion is met, not met when every one is not met.

Anything else (a criterion undecided, none met) is indeterminate, with the reasons.
"""

from __future__ import annotations

from collections.abc import Sequence

from reference_ranges.engine.patterns.findings import (
    labels_met,
    make_finding,
    missing_of,
    not_evaluated,
    undecided_reasons,
)
from reference_ranges.engine.patterns.judging import Judgement
from reference_ranges.engine.patterns.types import Finding, FindingStatus, PatternRule


def evaluate_any_of(rule: PatternRule, judgements: Sequence[Judgement]) -> Finding:
    missing = missing_of(judgements)
    if not any(j.present for j in judgements):
        return not_evaluated(rule, missing)
    evidence = [j.evidence for j in judgements]
    values = {"met_labels": labels_met(judgements)}
    if any(j.satisfied is True for j in judgements):
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif all(j.satisfied is False for j in judgements):
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = f"{rule.name}: cannot be decided — {undecided_reasons(judgements)}"
    return make_finding(rule, status, statement, evidence, missing_inputs=missing)
