"""Judging one criterion against a panel: an analyte result or a clinical input, exactly.

Thresholds are compared exactly as published (``>`` and ``≥`` differ), never rounded, and units
are never converted: a result in another unit than the criterion's leaves it undecided. A
censored result decides a criterion only when every value it can stand for decides it the same
way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reference_ranges.engine.censoring import Span, possible_values
from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS, plain
from reference_ranges.engine.patterns.types import (
    IS_TRUE,
    NUMERIC_OPS,
    ClinicalValue,
    Criterion,
    Evidence,
    PatternContext,
    PatternRule,
    PatternRuleError,
)
from reference_ranges.engine.types import Comparator, Measurement
from reference_ranges.engine.units import identity_of


def measurement_text(measurement: Measurement) -> str:
    comparator = COMPARATOR_SYMBOLS[measurement.comparator]
    return f"{comparator}{plain(measurement.value)} {measurement.unit}".strip()


def span_of(measurement: Measurement) -> Span | None:
    """The values a result can stand for; ``None`` for none ("<0": concentrations are never
    negative). An exact result stands for itself."""
    value, comparator = measurement.value, measurement.comparator
    if comparator is Comparator.EQ:
        return (value, True, value, True)
    return possible_values(comparator, value)


def span_satisfies(span: Span, op: str, threshold: Decimal) -> bool | None:
    """True if every value of the span satisfies ``x op threshold``, False if none does."""
    low, low_closed, high, high_closed = span
    if op == ">":
        every = low is not None and (low > threshold or (low == threshold and not low_closed))
        none = high is not None and high <= threshold
    elif op == ">=":
        every = low is not None and low >= threshold
        none = high is not None and (high < threshold or (high == threshold and not high_closed))
    elif op == "<":
        every = high is not None and (high < threshold or (high == threshold and not high_closed))
        none = low is not None and low >= threshold
    else:
        every = high is not None and high <= threshold
        none = low is not None and (low > threshold or (low == threshold and not low_closed))
    if every:
        return True
    if none:
        return False
    return None


def exact_satisfies(value: Decimal, op: str, threshold: Decimal) -> bool:
    if op == ">":
        return value > threshold
    if op == ">=":
        return value >= threshold
    if op == "<":
        return value < threshold
    return value <= threshold


def judge_measurement(
    measurement: Measurement, op: str, threshold: Decimal
) -> tuple[bool | None, str]:
    if not measurement.value.is_finite():
        return None, "not a finite number"
    span = span_of(measurement)
    if span is None:
        return None, "no concentration is possible (concentrations are never negative)"
    result = span_satisfies(span, op, threshold)
    if measurement.comparator is Comparator.EQ:
        return result, ""
    if result is True:
        return True, "censored result: every value it can stand for meets the criterion"
    if result is False:
        return False, "censored result: no value it can stand for meets the criterion"
    return None, "censored result: may or may not meet the criterion"


def threshold_of(criterion: Criterion) -> Decimal:
    if not isinstance(criterion.value, Decimal) or isinstance(criterion.value, bool):
        raise PatternRuleError(None, f"criterion {criterion.label!r}", "value must be a number")
    return criterion.value


def required_count_of(rule: PatternRule) -> int:
    if rule.required_count is None:
        raise PatternRuleError(rule.id, "required_count", f"required for {rule.kind}")
    return rule.required_count


@dataclass(frozen=True, slots=True)
class Judgement:
    criterion: Criterion
    evidence: Evidence
    present: bool

    @property
    def satisfied(self) -> bool | None:
        return self.evidence.satisfied


Index = Mapping[str, Sequence[Measurement]]


def index_measurements(measurements: Sequence[Measurement]) -> Index:
    grouped: dict[str, list[Measurement]] = {}
    for measurement in measurements:
        analyte = measurement.analyte
        same = grouped.get(analyte)
        if same is None:
            grouped[analyte] = [measurement]
        else:
            same.append(measurement)
    return grouped


def clinical_number(value: object) -> Decimal | None:
    """A clinical number: a finite Decimal, or an int (counts), never a bool or a float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    return None


def clinical_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = clinical_number(value)
    if number is not None:
        return plain(number)
    return str(value)


def judge_analyte(criterion: Criterion, index: Index) -> Judgement:
    reported = index.get(criterion.input, ())
    if not reported:
        evidence = Evidence(criterion.input, None, criterion.label, None, "not measured")
        return Judgement(criterion, evidence, present=False)
    texts = "; ".join(sorted(measurement_text(m) for m in reported))
    unit = criterion.unit
    in_unit = [m for m in reported if m.unit == unit]
    identity = ""
    if not in_unit and unit is not None:
        # The same unit written another way (µg/L and ng/mL): the number is judged unchanged,
        # and the evidence prints the identity.
        identities = {identity_of(m.unit, unit) for m in reported} - {None}
        if identities:
            in_unit = [m for m in reported if identity_of(m.unit, unit)]
            identity = "; ".join(sorted(f"{text} (identity)" for text in identities if text))
    if not in_unit:
        units = ", ".join(sorted({m.unit for m in reported}))
        note = f"reported in {units}; criterion is defined in {unit}"
        return Judgement(
            criterion, Evidence(criterion.input, texts, criterion.label, None, note), True
        )
    threshold = threshold_of(criterion)
    results = {judge_measurement(m, criterion.op, threshold) for m in in_unit}
    if len(results) == 1:
        satisfied, note = next(iter(results))
    elif len({satisfied for satisfied, _ in results}) == 1:
        satisfied = next(iter(results))[0]
        note = f"reported {len(in_unit)} times in {criterion.unit}; all agree"
    else:
        satisfied = None
        note = f"reported {len(in_unit)} times in {criterion.unit} with conflicting results"
    if identity:
        note = f"{identity}; {note}" if note else identity
    return Judgement(
        criterion, Evidence(criterion.input, texts, criterion.label, satisfied, note), True
    )


def judge_clinical(criterion: Criterion, clinical: Mapping[str, ClinicalValue]) -> Judgement:
    supplied = clinical.get(criterion.input)
    if supplied is None:
        evidence = Evidence(criterion.input, None, criterion.label, None, "not supplied")
        return Judgement(criterion, evidence, present=False)
    value = supplied.value
    text = clinical_text(value)
    satisfied: bool | None
    note = ""
    if criterion.op in NUMERIC_OPS:
        number = clinical_number(value)
        if number is None:
            satisfied, note = None, "expected a number"
        else:
            satisfied = exact_satisfies(number, criterion.op, threshold_of(criterion))
    elif criterion.op == IS_TRUE:
        satisfied, note = (value, "") if isinstance(value, bool) else (None, "expected yes/no")
    elif isinstance(criterion.value, bool):
        if isinstance(value, bool):
            satisfied = value is criterion.value
        else:
            satisfied, note = None, "expected yes/no"
    elif isinstance(value, str):
        satisfied = value == criterion.value
    else:
        satisfied, note = None, "expected a choice"
    evidence = Evidence(criterion.input, text, criterion.label, satisfied, note)
    return Judgement(criterion, evidence, present=True)


def judge(criterion: Criterion, context: PatternContext, index: Index) -> Judgement:
    if criterion.is_analyte:
        judgement = judge_analyte(criterion, index)
        extra = context.analyte_notes.get(criterion.input) if context.analyte_notes else None
        if extra is None or not judgement.present:
            return judgement
        item = judgement.evidence
        note = f"{item.note}; {extra}" if item.note else extra
        evidence = Evidence(item.input, item.value_text, item.criterion, item.satisfied, note)
        return Judgement(criterion, evidence, present=True)
    return judge_clinical(criterion, context.clinical)
