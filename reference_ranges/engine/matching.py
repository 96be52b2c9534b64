"""Which rule applies to a patient: age arithmetic, the partition tests, and why none applied.

A rule applies when its specimen, sex and age partitions all admit the patient. Unknown patient
facts are never guessed: generic "plasma" is judged by an interval for a specific anticoagulant
only when the lab has said which anticoagulant its plasma is; a sex-specific rule never applies
to a patient of unknown (or other) sex, and an age-partitioned rule never applies to a patient
of unknown age. When no rule
applies, :func:`no_match_reason` says which partition kept the nearest rules out, in words a
clinician can act on ("patient age unknown; intervals are age-partitioned").
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import date

from reference_ranges.engine.types import (
    ANTICOAGULATED_PLASMAS,
    GENERIC_PLASMA,
    Age,
    AgeUnit,
    PatientContext,
    RangeRule,
    Sex,
)

__all__ = ["age_on", "no_match_reason", "rule_applies"]

_SPECIMEN = "specimen"
_SEX = "sex"
_AGE = "age"


def age_on(birth_date: date, on_date: date) -> Age:
    """Return the age on ``on_date`` of someone born on ``birth_date``.

    ``days`` is the exact number of days elapsed; ``years`` is the number of completed calendar
    years, by birthday arithmetic (someone born on 29 February becomes a year older on 1 March
    in non-leap years). Raises ``ValueError`` if ``on_date`` is before ``birth_date``.
    """
    if on_date < birth_date:
        raise ValueError(
            f"date {on_date.isoformat()} is before birth date {birth_date.isoformat()}"
        )
    before_birthday = (on_date.month, on_date.day) < (birth_date.month, birth_date.day)
    years = on_date.year - birth_date.year - int(before_birthday)
    return Age(days=(on_date - birth_date).days, years=years)


def _age_in(age: Age, unit: AgeUnit) -> int:
    return age.days if unit is AgeUnit.DAYS else age.years


def _specimen_admits(rule: RangeRule, patient: PatientContext) -> bool:
    types = rule.specimen_types
    if types is None:
        return True
    specimen = patient.specimen_type
    if specimen != GENERIC_PLASMA:
        return specimen in types
    specific = [kind for kind in types if kind in ANTICOAGULATED_PLASMAS]
    if specific:
        # An interval for a named anticoagulant: only the plasma the lab says is that one.
        return patient.plasma_anticoagulant in specific
    return GENERIC_PLASMA in types


def _sex_admits(rule: RangeRule, patient: PatientContext) -> bool:
    # Sex.UNKNOWN and Sex.OTHER are never equal to a rule's FEMALE/MALE, so they only ever
    # match rules that apply whatever the sex.
    return rule.sex is None or rule.sex == patient.sex


def _age_admits(rule: RangeRule, patient: PatientContext) -> bool:
    if rule.min_age is None and rule.max_age is None:
        return True
    if patient.age is None:
        return False
    age = _age_in(patient.age, rule.age_unit)
    if rule.min_age is not None and age < rule.min_age:
        return False
    return rule.max_age is None or age < rule.max_age


def rule_applies(rule: RangeRule, patient: PatientContext) -> bool:
    """True when the rule's specimen, sex and age partitions all admit the patient.

    Does not look at analyte or unit: callers pick candidates by those first.
    """
    return (
        _specimen_admits(rule, patient)
        and (rule.sex is None or rule.sex == patient.sex)
        and _age_admits(rule, patient)
    )


def _failed_partitions(rule: RangeRule, patient: PatientContext) -> tuple[str, ...]:
    failed: list[str] = []
    if not _specimen_admits(rule, patient):
        failed.append(_SPECIMEN)
    if not _sex_admits(rule, patient):
        failed.append(_SEX)
    if not _age_admits(rule, patient):
        failed.append(_AGE)
    return tuple(failed)


def _age_band_text(rule: RangeRule) -> str:
    unit = rule.age_unit.value
    if rule.min_age is not None and rule.max_age is not None:
        return f"{rule.min_age} to <{rule.max_age} {unit}"
    if rule.min_age is not None:
        return f"≥{rule.min_age} {unit}"
    return f"<{rule.max_age} {unit}"


def _patient_age_text(age: Age, units: set[AgeUnit]) -> str:
    if units == {AgeUnit.DAYS}:
        return f"{age.days} days"
    if units == {AgeUnit.YEARS}:
        return f"{age.years} years"
    return f"{age.years} years ({age.days} days)"


def _specimen_reason(rules: Sequence[RangeRule], patient: PatientContext) -> str:
    admitted = sorted({s for rule in rules if rule.specimen_types for s in rule.specimen_types})
    if patient.specimen_type == GENERIC_PLASMA:
        specific = [
            ANTICOAGULATED_PLASMAS[kind] for kind in admitted if kind in ANTICOAGULATED_PLASMAS
        ]
        if specific:
            applies = f"the interval applies to {' or '.join(specific)}"
            declared = patient.plasma_anticoagulant
            if declared is None:
                return (
                    f"no reference interval for unspecified plasma: {applies}; the lab has not "
                    "said which anticoagulant its plasma is"
                )
            return (
                f"no reference interval for plasma: {applies}, and the lab's plasma is "
                f"{ANTICOAGULATED_PLASMAS.get(declared, declared)}"
            )
    return (
        f"no reference interval for specimen {patient.specimen_type} "
        f"(intervals exist for {', '.join(admitted) or 'no specimen type'})"
    )


def _sex_reason(rules: Sequence[RangeRule], patient: PatientContext) -> str:
    if patient.sex is Sex.UNKNOWN:
        return "patient sex unknown; intervals for this analyte are sex-specific"
    sexes = sorted({rule.sex.value for rule in rules if rule.sex is not None})
    if patient.sex is Sex.OTHER:
        return (
            "no reference interval for patient sex other; intervals for this analyte are "
            f"sex-specific ({', '.join(sexes)})"
        )
    return (
        f"no reference interval for {patient.sex.value} patients "
        f"(intervals exist for {', '.join(sexes)})"
    )


def _age_reason(rules: Sequence[RangeRule], patient: PatientContext) -> str:
    if patient.age is None:
        return "patient age unknown; intervals are age-partitioned"
    bands = sorted(
        (rule for rule in rules if rule.is_age_partitioned),
        key=lambda rule: (
            rule.age_unit.value,
            -1 if rule.min_age is None else rule.min_age,
            sys.maxsize if rule.max_age is None else rule.max_age,
        ),
    )
    band_texts = list(dict.fromkeys(_age_band_text(rule) for rule in bands))
    age_text = _patient_age_text(patient.age, {rule.age_unit for rule in bands})
    return (
        f"no reference interval for age {age_text}; no age partition covers it "
        f"(intervals exist for ages {', '.join(band_texts)})"
    )


def no_match_reason(rules: Sequence[RangeRule], patient: PatientContext) -> str:
    """Explain why none of ``rules`` fits the patient (see :func:`no_match_explained`)."""
    return no_match_explained(rules, patient)[0]


def no_match_explained(rules: Sequence[RangeRule], patient: PatientContext) -> tuple[str, bool]:
    """Explain why none of ``rules`` (same analyte and unit, none applying) fits the patient.

    The explanation is drawn from the rules that came nearest (fewest partitions failed). Among
    those, rules kept out only by an unknown patient fact (sex unknown, age unknown) win: a rule
    set with adult sex-specific and paediatric unisex intervals tells an adult of unknown sex
    that the intervals are sex-specific, not that no interval exists for the age. Each partition
    that kept a chosen rule out contributes one clause, in the order specimen, sex, age, joined
    by " / ".

    Also says whether the explanation names the patient's age (an age clause for a known age):
    where it does not, it is the same for every patient of the same sex, specimen and age band
    between the rules' age limits, which is what the engine's memo keeps it for.
    """
    failures = [(rule, _failed_partitions(rule, patient)) for rule in rules]
    fewest = min(len(failed) for _, failed in failures)
    nearest = [(rule, failed) for rule, failed in failures if len(failed) == fewest]
    unknown = {_SEX} if patient.sex is Sex.UNKNOWN else set()
    if patient.age is None:
        unknown.add(_AGE)
    only_unknown = [(rule, failed) for rule, failed in nearest if unknown.issuperset(failed)]
    if only_unknown:
        nearest = only_unknown
    clauses: list[str] = []
    for partition, explain in (
        (_SPECIMEN, _specimen_reason),
        (_SEX, _sex_reason),
        (_AGE, _age_reason),
    ):
        kept_out = [rule for rule, failed in nearest if partition in failed]
        if kept_out:
            clauses.append(explain(kept_out, patient))
    names_age = any(_AGE in failed for _, failed in nearest) and patient.age is not None
    return " / ".join(clauses), names_age
