"""Memos of findings: identical inputs to a rule get the identical (immutable) finding.

Findings and judgements are immutable, so a rule remembers them (bounded, per rule object) by
exactly what they are computed from: which of its clinical inputs were supplied and their values
with their types ("39.0" is not "39", ``True`` is not ``1``), and the results of the analytes it
names (value as written, comparator, unit, in order). ``fold_rise`` also reads the baseline and
is never remembered. Purely caches: ``tests/engine/test_fast_paths.py`` compares them with the
plain evaluation (:func:`reference_ranges.engine.patterns.dispatch.evaluate_rule`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from decimal import Decimal

from reference_ranges.engine.patterns.dispatch import CONCLUSIONS, evaluate_rule
from reference_ranges.engine.patterns.findings import not_evaluated
from reference_ranges.engine.patterns.judging import Index, Judgement, index_measurements, judge
from reference_ranges.engine.patterns.types import (
    ANY_OF,
    ASTCT_CRS_GRADE,
    ASTCT_INPUTS,
    COUNT_OF,
    HSCORE,
    ClinicalValue,
    Finding,
    PatternContext,
    PatternRule,
)
from reference_ranges.engine.types import Comparator, Measurement

# Findings remembered per rule: the first distinct inputs, no eviction (as in interpret()).
_FINDING_MEMO_SIZE = 2048
# Rules whose memos are kept (cleared when full; clear() is atomic, so threads are safe).
_RULE_MEMO_SIZE = 64
# A key part for an input that was not supplied / not measured.
_NOT_SUPPLIED = None
# Key parts never serve: the input cannot be keyed exactly, evaluate without the memo.
_UNKEYABLE: tuple[object, ...] = ()


def _clinical_key(supplied: ClinicalValue) -> object:
    """What a finding reads of one supplied clinical value, exactly; ``_UNKEYABLE`` otherwise.

    The type is part of the key: ``True``, ``1`` and ``Decimal(1)`` are equal but judged
    differently. A Decimal is keyed by its text, which keeps "39.0" apart from "39".
    """
    if supplied.__class__ is not ClinicalValue:
        return _UNKEYABLE
    value = supplied.value
    kind: type = value.__class__
    if kind is Decimal:
        return (kind, str(value))
    if kind is bool or kind is int or kind is str:
        return (kind, value)
    return _UNKEYABLE


def _measurements_key(reported: Sequence[Measurement]) -> object:
    """What a finding reads of one analyte's results, exactly (value as written, comparator,
    unit, in order); ``_UNKEYABLE`` for values, comparators or units of unexpected types."""
    parts = []
    for measurement in reported:
        value, comparator, unit = measurement.value, measurement.comparator, measurement.unit
        if (
            value.__class__ is not Decimal
            or comparator.__class__ is not Comparator
            or unit.__class__ is not str
        ):
            return _UNKEYABLE
        parts.append((str(value), comparator, unit))
    return tuple(parts)


class _RuleMemo:
    """One rule's findings, by the inputs it reads.

    A finding of every kind but ``fold_rise`` (which also reads the baseline) depends only on
    the rule, on which of the rule's clinical inputs were supplied and their values, and on the
    results of the analytes its criteria name; findings are immutable, so identical inputs get
    the identical finding. Purely a cache: a finding never depends on it.
    """

    __slots__ = (
        "analytes",
        "clinical",
        "conclude",
        "findings",
        "held",
        "judged",
        "none_supplied",
        "not_evaluated",
        "positions",
        "required",
        "rule",
    )

    def __init__(self, rule: PatternRule, held: object) -> None:
        self.rule = rule
        self.held = held
        self.required = rule.clinical_inputs
        names = list(rule.clinical_inputs)
        if rule.kind == ASTCT_CRS_GRADE:
            names += ASTCT_INPUTS
        names += (c.input for c in rule.criteria if not c.is_analyte)
        self.clinical = tuple(dict.fromkeys(names))
        self.analytes = tuple(dict.fromkeys(c.input for c in rule.criteria if c.is_analyte))
        self.none_supplied = (_NOT_SUPPLIED,) * len(self.clinical)
        # Keyed findings; None: this kind is never remembered.
        self.findings: dict[tuple[object, ...], Finding] | None = (
            {} if rule.kind in (ANY_OF, COUNT_OF, HSCORE, ASTCT_CRS_GRADE) else None
        )
        self.not_evaluated: dict[tuple[str, ...], Finding] = {}
        # Where each criterion's input is in a key; per criterion, its judgement by that input.
        self.positions = tuple(
            self.analytes.index(c.input) + len(self.clinical)
            if c.is_analyte
            else self.clinical.index(c.input)
            for c in rule.criteria
        )
        self.judged: tuple[dict[object, Judgement], ...] = tuple({} for _ in rule.criteria)
        self.conclude = CONCLUSIONS.get(rule.kind)

    def evaluate(self, rule: PatternRule, context: PatternContext, index: Index) -> Finding:
        """``rule``'s finding: the memo's rule, or one whose fields are the same objects."""
        clinical = context.clinical
        if self.required:
            absent = (
                tuple(name for name in self.required if name not in clinical)
                if clinical
                else self.required
            )
            if absent:
                known = self.not_evaluated.get(absent)
                if known is None:
                    known = not_evaluated(rule, absent)
                    if len(self.not_evaluated) < _FINDING_MEMO_SIZE:
                        self.not_evaluated[absent] = known
                return known
        findings = self.findings
        notes = context.analyte_notes
        if findings is None or (notes and any(analyte in notes for analyte in self.analytes)):
            # Rare: a note on an analyte this rule reads (not part of the key): no memo.
            return evaluate_rule(rule, context, index)
        key: list[object] = []
        if clinical:
            for name in self.clinical:
                supplied = clinical.get(name, _NOT_SUPPLIED)
                part = _NOT_SUPPLIED if supplied is _NOT_SUPPLIED else _clinical_key(supplied)
                if part is _UNKEYABLE:
                    return evaluate_rule(rule, context, index)
                key.append(part)
        else:
            key += self.none_supplied
        for analyte in self.analytes:
            reported = index.get(analyte)
            part = _NOT_SUPPLIED if reported is None else _measurements_key(reported)
            if part is _UNKEYABLE:
                return evaluate_rule(rule, context, index)
            key.append(part)
        frozen = tuple(key)
        found = findings.get(frozen)
        if found is None:
            conclude = self.conclude
            if conclude is None:
                found = evaluate_rule(rule, context, index)
            else:
                # Each criterion reads only its own input: judged once per distinct input.
                judgements = []
                for criterion, position, judged in zip(
                    rule.criteria, self.positions, self.judged, strict=True
                ):
                    part = frozen[position]
                    judgement = judged.get(part)
                    if judgement is None:
                        judgement = judge(criterion, context, index)
                        if len(judged) < _FINDING_MEMO_SIZE:
                            judged[part] = judgement
                    judgements.append(judgement)
                found = conclude(rule, judgements)
            if len(findings) < _FINDING_MEMO_SIZE:
                findings[frozen] = found
        return found


# id(rule) -> its memo, for the rule objects memos were made for (each memo holds its rule, so
# an id cannot be reused while cached; the identity check makes a stale entry harmless).
_RULE_MEMOS: dict[int, _RuleMemo] = {}
# The identities of a rule's fields (all but ``enabled``, which no finding reads) -> its memo:
# a copy of a rule (``dataclasses.replace(rule, enabled=True)``, made per panel for a rule a
# lab switched on) shares the memo of the rule it copies. Identities, not equality: rules
# whose limits are equal but written differently ("169" and "169.0") word findings differently.
# Each memo holds the fields it was made for, so their identities cannot be reused while cached.
_SHARED_MEMOS: dict[tuple[int, ...], _RuleMemo] = {}
_RULE_FIELDS = tuple(f.name for f in fields(PatternRule) if f.name != "enabled")


def _memo_for(rule: PatternRule) -> _RuleMemo:
    memo = _RULE_MEMOS.get(id(rule))
    if memo is not None and memo.rule is rule:
        return memo
    held = tuple([getattr(rule, name) for name in _RULE_FIELDS])
    key = tuple(map(id, held))
    memo = _SHARED_MEMOS.get(key)
    if memo is not None:
        return memo
    memo = _RuleMemo(rule, held)
    if len(_SHARED_MEMOS) >= _RULE_MEMO_SIZE:
        # clear() is atomic, unlike evicting one entry, so threads sharing the memos are safe.
        _SHARED_MEMOS.clear()
    _SHARED_MEMOS[key] = memo
    if len(_RULE_MEMOS) >= _RULE_MEMO_SIZE:
        _RULE_MEMOS.clear()
    _RULE_MEMOS[id(rule)] = memo
    return memo


def evaluate_patterns(rules: Sequence[PatternRule], context: PatternContext) -> list[Finding]:
    """One :class:`Finding` per enabled rule, in rule order; disabled rules yield nothing.

    Pure: no clock, no I/O. The order of ``context.measurements`` never changes a finding.
    Identical inputs to a rule get the identical (immutable) finding from a bounded memo.
    """
    index = index_measurements(context.measurements)
    return [_memo_for(rule).evaluate(rule, context, index) for rule in rules if rule.enabled]
