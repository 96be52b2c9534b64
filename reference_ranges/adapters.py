"""The boundary between stored rule sets and the pure engine: DB rows in, engine dataclasses out.

This is the only module that knows both worlds. Published rule sets never change, so their
engine form is cached per (rule set id, version). The molecular weights a set was created with
(``ReferenceRangeSet.molecular_weights``) become the engine rule set's ``molecular_weights``,
the only thing that lets the engine convert pg/mL to pmol/L and back.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from reference_ranges.engine.decimals import trimmed
from reference_ranges.engine.types import AgeUnit, RangeRule, RuleSet, Sex
from reference_ranges.models import ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus


def _trimmed(value: Decimal | None) -> Decimal | None:
    """The stored bound without the column's padding zeros (2.500000 -> 2.5), never rounded."""
    return None if value is None else trimmed(value)


def rule_to_engine(rule: ReferenceRangeRule, *, analyte_code: str) -> RangeRule:
    return RangeRule(
        key=rule.key,
        analyte=analyte_code,
        unit=rule.unit,
        low=_trimmed(rule.low),
        low_inclusive=rule.low_inclusive,
        high=_trimmed(rule.high),
        high_inclusive=rule.high_inclusive,
        source=" ".join(part for part in (rule.source, rule.test_code) if part),
        citation=rule.citation,
        verified=rule.verified,
        critical_low=_trimmed(rule.critical_low),
        critical_high=_trimmed(rule.critical_high),
        sex=Sex(rule.sex) if rule.sex else None,
        age_unit=AgeUnit(rule.age_unit),
        min_age=rule.min_age,
        max_age=rule.max_age,
        specimen_types=frozenset(rule.specimen_types) if rule.specimen_types else None,
    )


def _build(ruleset: ReferenceRangeSet) -> RuleSet:
    rules = ruleset.rules.select_related("analyte").order_by("key")
    return RuleSet(
        key=ruleset.key,
        version=ruleset.version,
        rules=tuple(rule_to_engine(rule, analyte_code=rule.analyte.code) for rule in rules),
        molecular_weights=tuple(
            sorted(
                (code, Decimal(str(weight))) for code, weight in ruleset.molecular_weights.items()
            )
        ),
    )


@lru_cache(maxsize=32)
def _published_ruleset(ruleset_id: int, version: str) -> RuleSet:
    return _build(ReferenceRangeSet.objects.get(pk=ruleset_id, version=version))


def ruleset_to_engine(ruleset: ReferenceRangeSet) -> RuleSet:
    """The engine form of ``ruleset``; drafts are rebuilt each time, published sets cached."""
    if ruleset.status == RuleSetStatus.DRAFT:
        return _build(ruleset)
    return _published_ruleset(ruleset.pk, ruleset.version)


def clear_cache() -> None:
    _published_ruleset.cache_clear()
