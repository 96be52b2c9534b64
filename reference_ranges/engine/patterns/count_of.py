"""The ``count_of`` kind (HLH-2004): met when at least ``required_count`` criteria are met.

A criterion with ``points`` is sufficient on its own (HLH-2004's molecular diagnosis); the
others are counted. Undecided criteria that could still reach the count make it indeterminate.
"""

from __future__ import annotations

from collections.abc import Sequence

from reference_ranges.engine.patterns.findings import make_finding, not_evaluated
from reference_ranges.engine.patterns.judging import Judgement, required_count_of
from reference_ranges.engine.patterns.types import Evidence, Finding, FindingStatus, PatternRule


def evaluate_count_of(rule: PatternRule, judgements: Sequence[Judgement]) -> Finding:
    # One pass (this kind is judged for every panel): what is missing, and the counts. Criteria
    # without points are counted; a criterion with points is sufficient on its own.
    missing: list[str] = []
    present = False
    counted = met = undecided = 0
    sufficient_met = False
    open_sufficient: list[str] = []
    met_labels: list[str] = []
    evidence: list[Evidence] = []
    for judgement in judgements:
        item = judgement.evidence
        evidence.append(item)
        satisfied = item.satisfied
        criterion = judgement.criterion
        if judgement.present:
            present = True
        elif criterion.input not in missing:
            missing.append(criterion.input)
        if satisfied is True:
            met_labels.append(criterion.label)
        if criterion.points is None:
            counted += 1
            if satisfied is True:
                met += 1
            elif satisfied is None:
                undecided += 1
        elif satisfied is True:
            sufficient_met = True
        elif satisfied is None:
            open_sufficient.append(criterion.label)
    if not present:
        return not_evaluated(rule, tuple(missing))
    required = required_count_of(rule)
    values = {
        "met": str(met),
        "total": str(counted),
        "undecided": str(undecided),
        "met_labels": "; ".join(met_labels),
    }
    if met >= required or sufficient_met:
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif met + undecided < required and not open_sufficient:
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = f"{rule.name}: {met} of {counted} criteria met, {undecided} not evaluable"
        for label in open_sufficient:
            statement += f"; {label}: not evaluable"
        statement += " — cannot be decided"
    return make_finding(rule, status, statement, evidence, missing_inputs=missing)
