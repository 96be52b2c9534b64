"""The ``hscore`` kind (HScore): points per input, the highest band met; compared with a cut-off.

A censored input that may fall in several bands leaves the score a range; the finding is
decided only when the whole range falls on one side of the cut-off.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from reference_ranges.engine.decimals import plain
from reference_ranges.engine.patterns.findings import (
    make_finding,
    missing_of,
    not_evaluated,
    undecided_reasons,
)
from reference_ranges.engine.patterns.judging import Judgement
from reference_ranges.engine.patterns.types import Evidence, Finding, FindingStatus, PatternRule


def _points(judgement: Judgement) -> int:
    return judgement.criterion.points or 0


def evaluate_hscore(rule: PatternRule, judgements: Sequence[Judgement]) -> Finding:
    missing = missing_of(judgements)
    if missing:
        return not_evaluated(rule, missing)
    cutoff = rule.threshold("cutoff")
    groups: dict[str, list[Judgement]] = {}
    for judgement in judgements:
        groups.setdefault(judgement.criterion.input, []).append(judgement)
    low_total = high_total = 0
    evidence_by_id: dict[int, Evidence] = {}
    for group in groups.values():
        certain = [j for j in group if j.satisfied is True]
        possible = [j for j in group if j.satisfied is not False]
        low = max((_points(j) for j in certain), default=0)
        high = max((_points(j) for j in possible), default=0)
        low_total += low
        high_total += high
        best = max(certain, key=_points) if certain and low == high else None
        for judgement in certain:
            item = judgement.evidence
            if judgement is best:
                note = f"scores {_points(judgement)} points"
            elif best is not None:
                note = "a higher band of this input scores instead"
            else:
                note = "the band this input scores in cannot be decided"
            note = f"{item.note}; {note}" if item.note else note
            evidence_by_id[id(judgement)] = Evidence(
                item.input, item.value_text, item.criterion, True, note
            )
    evidence = [evidence_by_id.get(id(j), j.evidence) for j in judgements]
    exact = low_total == high_total
    score_text = str(low_total) if exact else f"{low_total}–{high_total}"
    values = {"score": score_text, "cutoff": plain(cutoff)}
    score = Decimal(low_total) if exact else None
    if low_total >= cutoff:
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif high_total < cutoff:
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = (
            f"{rule.name}: score between {low_total} and {high_total}, on both sides of the "
            f"cut-off {plain(cutoff)} — cannot be decided ({undecided_reasons(judgements)})"
        )
    return make_finding(rule, status, statement, evidence, score=score, missing_inputs=())
