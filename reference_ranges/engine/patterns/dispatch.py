"""One rule's finding, computed plainly: the kind's evaluator, after the required inputs check.

:func:`evaluate_rule` remembers nothing; :mod:`.memo` serves the same findings from memos and is
compared with this in ``tests/engine/test_fast_paths.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from reference_ranges.engine.patterns.any_of import evaluate_any_of
from reference_ranges.engine.patterns.astct import evaluate_astct
from reference_ranges.engine.patterns.count_of import evaluate_count_of
from reference_ranges.engine.patterns.findings import not_evaluated
from reference_ranges.engine.patterns.fold_rise import evaluate_fold_rise
from reference_ranges.engine.patterns.hscore import evaluate_hscore
from reference_ranges.engine.patterns.judging import Index, Judgement, judge
from reference_ranges.engine.patterns.types import (
    ANY_OF,
    ASTCT_CRS_GRADE,
    COUNT_OF,
    FOLD_RISE,
    HSCORE,
    Finding,
    PatternContext,
    PatternRule,
    PatternRuleError,
)

# The kinds whose finding is concluded from the judgements of the criteria alone.
CONCLUSIONS: Mapping[str, Callable[[PatternRule, Sequence[Judgement]], Finding]] = {
    ANY_OF: evaluate_any_of,
    COUNT_OF: evaluate_count_of,
    HSCORE: evaluate_hscore,
}


def evaluate_rule(rule: PatternRule, context: PatternContext, index: Index) -> Finding:
    finding = _evaluate_rule(rule, context, index)
    if not context.analyte_notes:
        return finding
    return with_analyte_notes(finding, context.analyte_notes)


def with_analyte_notes(finding: Finding, notes: Mapping[str, str]) -> Finding:
    """``finding`` with the note of every analyte it judged appended to its statement."""
    judged = dict.fromkeys(
        item.input
        for item in finding.evidence
        if item.value_text is not None and item.input in notes
    )
    if not judged:
        return finding
    extra = "; ".join(notes[analyte] for analyte in judged)
    return replace(finding, statement=f"{finding.statement} — {extra}")


def _evaluate_rule(rule: PatternRule, context: PatternContext, index: Index) -> Finding:
    absent = [name for name in rule.clinical_inputs if name not in context.clinical]
    if absent:
        return not_evaluated(rule, absent)
    if rule.kind == ANY_OF:
        return evaluate_any_of(rule, [judge(c, context, index) for c in rule.criteria])
    if rule.kind == COUNT_OF:
        return evaluate_count_of(rule, [judge(c, context, index) for c in rule.criteria])
    if rule.kind == HSCORE:
        return evaluate_hscore(rule, [judge(c, context, index) for c in rule.criteria])
    if rule.kind == ASTCT_CRS_GRADE:
        return evaluate_astct(rule, context)
    if rule.kind == FOLD_RISE:
        return evaluate_fold_rise(rule, context, index)
    raise PatternRuleError(rule.id, "kind", f"unknown kind {rule.kind!r}")
