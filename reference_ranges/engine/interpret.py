"""Interpretation of measurements against a rule set: rule selection, flagging, and the words.

For each measurement the engine picks the one rule of the rule set for the measurement's analyte
and unit whose specimen, sex and age partitions admit the patient, then compares the value with
the rule's limits exactly as published (inclusive or exclusive, never rounded).

Units: when the rule set has no interval in the measurement's unit but has one in a unit that
physics converts it to (pg/mL ↔ ng/L ↔ ng/mL; pg/mL ↔ pmol/L with the rule set's molecular
weight for the analyte), the measurement, never the rule, is converted into the rule's unit
(:mod:`reference_ranges.engine.units`) and the conversion is shown in the reason and in
``Interpretation.conversion``. Arbitrary units (U/mL) are never converted.

Censored results ("<1.5", ">5000") keep their comparator and are judged on the whole set of
values they could stand for (concentrations are never negative):

* a definite code (N, H, L, HH, LL) only when every possible value would receive it;
* "<" when every possible value is low (at most some critically low), ">" when every possible
  value is high (at most some critically high), each with the reason;
* otherwise "IND" (indeterminate): the measuring limit straddles a limit of the interval
  ("<20" against "≤7.4" may be normal or high), and the reason says which.

Every conclusion carries the rule key, rule set key and version, the interval as published and a
reason naming the rule's source; an uncensored value outside the assay's measuring range
(LLOQ/ULOQ) is judged as reported and the reason says it was extrapolated; a dilution factor is
named in the reason.

Speed: rule sets are indexed once (per-rule limits, reason texts and value regions precomputed)
and identical questions get the identical, immutable answer from bounded memos kept with the
index: the rule chosen per patient profile (sex, specimen, and the band between the rule set's
age limits; an explanation why no rule applies is kept per exact age, since it names the age),
and the interpretation per (rule, unit, comparator and value exactly as written, "7.40" not
being "7.4"), for results without remarks of their own (measuring range, dilution). Per patient
facts (sex, specimen, age) the index remembers the profiles once computed, and per profile a
plan: analyte and unit straight to the chosen rule and its memo, so the loop over a panel's
results does two dictionary lookups before it reaches the answer. The memos are caches only: a
result never depends on them (tests compare warm and fresh rule sets, and every fast path with
a plain implementation that remembers nothing, ``tests/engine/test_fast_paths.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from reference_ranges.engine.classify import (
    classify_censored,
    classify_exact,
    format_interval,
    measurement_notes,
)
from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS, plain
from reference_ranges.engine.rule_index import INDEX_CACHE, Choice, RuleIndex, index_for, lookup
from reference_ranges.engine.types import (
    Comparator,
    Interpretation,
    InterpretationCode,
    Measurement,
    PatientContext,
    RuleSet,
)
from reference_ranges.engine.units import convert

__all__ = ["format_interval", "interpret"]

# A critical limit is the laboratory's own setting, not part of the published interval: its
# verdict is not followed by the interval's source, as if that source had set the limit.
_CRITICAL = frozenset({InterpretationCode.CRITICAL_HIGH, InterpretationCode.CRITICAL_LOW})

_EQ = Comparator.EQ

# Per rule and unit, the first distinct reported values are remembered and later ones are not
# (no eviction: clearing thousands of entries costs more than it saves).
_RESULT_MEMO_SIZE = 2048


def _evaluate(index: RuleIndex, choice: Choice, measurement: Measurement) -> Interpretation:
    group, prepared = choice.group, choice.prepared
    value, comparator = measurement.value, measurement.comparator
    conversion_text = None
    unit = measurement.unit
    if group.to_unit is not None:
        conversion = convert(
            value, unit, group.to_unit, molecular_weight_kda=group.molecular_weight
        )
        if conversion is None:  # pragma: no cover - the group exists because it converts
            raise AssertionError(f"{unit} no longer converts to {group.to_unit}")
        value, unit = conversion.value, conversion.to_unit
        conversion_text = conversion.describe(COMPARATOR_SYMBOLS[comparator])
    if comparator is _EQ:
        code, tail, _ = classify_exact(prepared, value)
        reason = plain(value) + tail
    else:
        code, reason = classify_censored(prepared, comparator, value, unit)
    if (
        measurement.lloq is not None
        or measurement.uloq is not None
        or measurement.dilution_factor is not None
    ):
        reason += measurement_notes(measurement)
    if code not in _CRITICAL:
        reason += prepared.suffix
    if conversion_text is not None:
        reason = f"{conversion_text}; {reason}"
    ruleset = index.ruleset
    # Positional arguments, not keywords: this runs once per result (figures: bench/engine.py).
    return Interpretation(
        group.analyte,
        code,
        reason,
        prepared.rule.key,
        ruleset.key,
        ruleset.version,
        prepared.reference_text,
        conversion_text,
    )


def interpret(
    measurements: Sequence[Measurement], patient: PatientContext, ruleset: RuleSet
) -> list[Interpretation]:
    """Interpret each measurement for the patient against the rule set.

    Returns one ``Interpretation`` per measurement, in input order; none is ever dropped. A
    measurement no rule applies to gets ``code=None`` and a reason saying why (analyte not in
    the rule set, no interval in its unit or in a unit it converts to, or no partition for the
    patient's specimen, sex or age, including an unknown sex or age). Only the measurement is
    ever converted, only where physics defines it, and the conversion is shown; an unknown sex
    or age is never guessed, and limits are compared exactly as published.

    Raises ``AmbiguousRules`` when more than one rule applies to one measurement: overlapping
    partitions are an error in the rule set, not in the patient's data. Raises
    ``InvalidRuleSet`` for contradictory molecular weights. Has no side effects beyond its
    memos, which never change a result.
    """
    # The rule set's index (rule_index.index_for), its cache read inline: once per panel.
    index = INDEX_CACHE.get(id(ruleset))
    if index is None or index.ruleset is not ruleset:
        index = index_for(ruleset)
    ruleset_key, ruleset_version = ruleset.key, ruleset.version
    # The patient's profile (and the plan of rules chosen for it), remembered per patient facts:
    # sex, specimen (with the lab's anticoagulant of generic plasma) and age (in days only
    # where some interval is in days).
    age = patient.age
    specimen = patient.specimen_type
    if patient.plasma_anticoagulant is not None:
        specimen = f"{specimen}\x1e{patient.plasma_anticoagulant}"
    if age is None:
        facts: tuple[object, ...] = (patient.sex, specimen)
    elif index.day_limits:
        facts = (patient.sex, specimen, age.years, age.days)
    else:
        facts = (patient.sex, specimen, age.years)
    known = index.profiles.get(facts)
    plan, unmatched, profile, exact_profile = known or index.profile(patient, facts)
    results: list[Interpretation] = []
    append = results.append
    # Locals, not globals, in the loop: each global lookup costs as much as the work around it.
    exact, classify, new = _EQ, classify_exact, Interpretation
    limit = _RESULT_MEMO_SIZE
    for measurement in measurements:
        by_unit = plan.get(measurement.analyte)
        choice = None if by_unit is None else by_unit.get(measurement.unit)
        if choice is None:
            # Why no rule judges this analyte and unit for this exact patient, when known:
            # kept inline too (a panel's unmatched analytes are asked for on every panel).
            explained = unmatched.get(measurement.analyte)
            if explained is not None:
                known_reason = explained.get(measurement.unit)
                if known_reason is not None:
                    append(known_reason)
                    continue
            chosen = lookup(index, plan, unmatched, patient, profile, exact_profile, measurement)
            if isinstance(chosen, Interpretation):
                append(chosen)
                continue
            choice = chosen
        if measurement.dilution_factor is None:
            value = measurement.value
            comparator = measurement.comparator
            if comparator is exact:
                lloq, uloq = measurement.lloq, measurement.uloq
                if (lloq is None or lloq <= value) and (uloq is None or value <= uloq):
                    # The common case, kept inline: an exact value within the measuring range.
                    # The memo key is the value as written ("7.40" is not "7.4").
                    text = str(value)
                    cache = choice.cache
                    found = cache.get(text)
                    if found is None:
                        if choice.converts:
                            found = _evaluate(index, choice, measurement)
                        else:
                            code, _, tail = classify(choice.prepared, value)
                            found = new(
                                choice.analyte,
                                code,
                                (format(value, "f") if "E" in text else text) + tail,
                                choice.rule_key,
                                ruleset_key,
                                ruleset_version,
                                choice.reference_text,
                                None,
                            )
                        if len(cache) < limit:
                            cache[text] = found
                    append(found)
                    continue
            else:
                key = comparator + str(value)
                cache = choice.cache
                found = cache.get(key)
                if found is None:
                    found = _evaluate(index, choice, measurement)
                    if len(cache) < limit:
                        cache[key] = found
                append(found)
                continue
        # Outside the measuring range, or diluted: the reason has remarks of its own.
        append(_evaluate(index, choice, measurement))
    return results
