"""The ``fold_rise`` kind: cytokines that rose at least so many times over a baseline panel.

A fold change is computed only from exact results in the criterion's unit, at both times, over a
positive baseline, by methods that compare (:mod:`reference_ranges.engine.series`); otherwise
the criterion is undecided with the reason. The rule is met when ``required_count`` criteria
are met, or one cytokine reaches the ``fold_change_one_cytokine`` threshold. Not evaluated
without a baseline; the baseline is chosen by the caller with
:func:`reference_ranges.engine.kinetics.baseline_choose`, the rule the serial table follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Context, Decimal

from reference_ranges.engine.decimals import plain
from reference_ranges.engine.patterns.findings import (
    labels_met,
    make_finding,
    missing_of,
    not_evaluated,
    undecided_reasons,
)
from reference_ranges.engine.patterns.judging import (
    Index,
    Judgement,
    exact_satisfies,
    measurement_text,
    required_count_of,
    threshold_of,
)
from reference_ranges.engine.patterns.types import (
    Criterion,
    Evidence,
    Finding,
    FindingStatus,
    PatternContext,
    PatternRule,
    SerialPoint,
)
from reference_ranges.engine.series import series_admits, series_key, series_method
from reference_ranges.engine.types import Measurement

_ZERO = Decimal(0)
# Products of two reported values are computed exactly (a product has at most the sum of both
# operands' digits); 100 digits is far beyond any reported value.
_EXACT = Context(prec=100)
# Fold changes shown in evidence: 6 significant digits. Decisions never use this rounded value.
_FOLD_DISPLAY = Context(prec=6)


def _fold_text(current: Measurement, baseline: Measurement) -> str:
    if current.comparator.is_censored or baseline.comparator.is_censored:
        return ""
    if baseline.value <= _ZERO:
        return ""
    fold = _FOLD_DISPLAY.divide(current.value, baseline.value)
    return f" = {plain(fold)}×"


def _other_method_note(now: Measurement, base: Measurement, baseline_key: str) -> str:
    stated = (
        f"this result by {now.method}"
        if now.method
        else "this result states no method and the earlier results state more than one"
    )
    return (
        f"baseline ({baseline_key}) measured by {base.method}, {stated}: a fold change is "
        "never computed across methods"
    )


def _judge_fold(
    criterion: Criterion,
    high_fold: Decimal,
    index: Index,
    baseline: SerialPoint,
    history: Sequence[SerialPoint],
) -> tuple[Judgement, bool | None]:
    """The criterion's judgement (fold ≥ its value) and whether the fold reaches ``high_fold``."""
    fold = threshold_of(criterion)
    reported = index.get(criterion.input, ())
    label = criterion.label

    def undecided(text: str | None, note: str, present: bool = True) -> tuple[Judgement, None]:
        return Judgement(
            criterion, Evidence(criterion.input, text, label, None, note), present
        ), None

    if not reported:
        return undecided(None, "not measured", present=False)
    current = [m for m in reported if m.unit == criterion.unit]
    texts = "; ".join(sorted(measurement_text(m) for m in reported))
    if len(current) != 1:
        if not current:
            units = ", ".join(sorted({m.unit for m in reported}))
            return undecided(
                texts, f"reported in {units}; criterion is defined in {criterion.unit}"
            )
        return undecided(texts, f"reported {len(current)} times in {criterion.unit}")
    now = current[0]
    at_baseline = [m for m in baseline.measurements if m.analyte == criterion.input]
    # The baseline is of this panel's specimen type (kinetics.baseline_choose, the one rule the
    # trend table follows too); series_key decides what else a comparable result must share,
    # and the series' method is decided over every earlier result, as the trend table does.
    key = series_key(baseline.specimen_type, now)
    method = series_method(
        key,
        (
            other
            for point in history
            if point.specimen_type == baseline.specimen_type
            for other in (series_key(point.specimen_type, m) for m in point.measurements)
            if other.line == key.line
        ),
    )
    on_line = [m for m in at_baseline if series_key(baseline.specimen_type, m).line == key.line]
    in_unit = [m for m in on_line if series_admits(method, series_key(baseline.specimen_type, m))]
    if len(in_unit) != 1:
        if not at_baseline:
            return undecided(texts, f"not measured at baseline ({baseline.panel_key})")
        if not on_line:
            units = ", ".join(sorted({m.unit for m in at_baseline}))
            return undecided(
                texts, f"baseline reported in {units}; fold change needs {criterion.unit}"
            )
        if not in_unit:
            return undecided(texts, _other_method_note(now, on_line[0], baseline.panel_key))
        return undecided(texts, f"reported {len(in_unit)} times at baseline")
    base = in_unit[0]
    text = f"{measurement_text(now)} vs baseline {measurement_text(base)}{_fold_text(now, base)}"
    if now.comparator.is_censored or base.comparator.is_censored:
        return undecided(text, "censored value: a fold change is never computed from it")
    if not (now.value.is_finite() and base.value.is_finite()):
        return undecided(text, "not a finite number")
    if base.value <= _ZERO:
        return undecided(text, "baseline is zero: fold change undefined")
    satisfied = exact_satisfies(now.value, criterion.op, _EXACT.multiply(fold, base.value))
    high = now.value >= _EXACT.multiply(high_fold, base.value)
    note = f"≥{plain(high_fold)}× baseline" if high else ""
    judgement = Judgement(criterion, Evidence(criterion.input, text, label, satisfied, note), True)
    return judgement, high


def evaluate_fold_rise(rule: PatternRule, context: PatternContext, index: Index) -> Finding:
    baseline = context.baseline
    if baseline is None:
        return not_evaluated(rule, ("baseline",))
    high_fold = rule.threshold("fold_change_one_cytokine")
    pairs = [_judge_fold(c, high_fold, index, baseline, context.history) for c in rule.criteria]
    judgements = [judgement for judgement, _ in pairs]
    missing = missing_of(judgements)
    if not any(j.present for j in judgements):
        return not_evaluated(rule, missing)
    required = required_count_of(rule)
    met = sum(1 for j in judgements if j.satisfied is True)
    undecided = sum(1 for j in judgements if j.satisfied is None)
    values = {
        "met": str(met),
        "total": str(len(judgements)),
        "undecided": str(undecided),
        "met_labels": labels_met(judgements),
    }
    evidence = [j.evidence for j in judgements]
    if met >= required or any(high is True for _, high in pairs):
        status, statement = FindingStatus.MET, rule.statement_met.format_map(values)
    elif undecided == 0:
        status, statement = FindingStatus.NOT_MET, rule.statement_not_met.format_map(values)
    else:
        status = FindingStatus.INDETERMINATE
        statement = (
            f"{rule.name}: {met} of {len(judgements)} cytokines met, {undecided} not evaluable "
            f"— cannot be decided ({undecided_reasons(judgements)})"
        )
    return make_finding(rule, status, statement, evidence, missing_inputs=missing)
