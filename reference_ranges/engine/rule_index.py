"""A rule set indexed for interpretation: rule groups per analyte and unit, and their memos.

A :class:`RuleIndex` is built once per rule set: per analyte and unit, the :class:`Group` of
rules that can judge it (converting units only where physics defines it), and the bounded memos
that remember, per patient profile, which rule was chosen (or why none applies). Purely caches:
a result never depends on them (``tests/engine/test_fast_paths.py``).
"""

from __future__ import annotations

from decimal import Decimal

from reference_ranges.engine.classify import PreparedRule
from reference_ranges.engine.errors import AmbiguousRules, InvalidRuleSet
from reference_ranges.engine.matching import no_match_explained, rule_applies
from reference_ranges.engine.types import (
    AgeUnit,
    Interpretation,
    Measurement,
    PatientContext,
    RuleSet,
)
from reference_ranges.engine.units import conversion_obstacle, convert, quantity_of

_ZERO = Decimal(0)
_ONE = Decimal(1)

# Bounds of the memos. Per rule group, patient profiles (cleared when full: clear() is atomic, so
# threads sharing an index are safe).
_PROFILE_MEMO_SIZE = 4096
# Analyte/unit pairs outside the rule set (unknown analytes, other units) remembered per index.
_RESOLVED_LIMIT = 1024
# Units remembered per analyte in a profile's plan (other units are looked up each time), and
# analytes whose explanation (why no rule applies) is remembered per exact patient profile.
_PLAN_UNITS = 32
_UNMATCHED_ANALYTES = 64


class Choice:
    """The rule a group chose for some patients, with its memo of interpretations.

    Carries what an interpretation by it is built from (analyte, rule key, interval text, and
    whether measurements are converted first), so the hot loop reads one object.
    """

    __slots__ = ("analyte", "cache", "converts", "group", "prepared", "reference_text", "rule_key")

    def __init__(self, group: Group, prepared: PreparedRule) -> None:
        self.group = group
        self.analyte = group.analyte
        self.prepared = prepared
        self.converts = group.to_unit is not None
        self.rule_key = prepared.rule.key
        self.reference_text = prepared.reference_text
        self.cache: dict[str, Interpretation] = {}


class Group:
    """The rules of one analyte that can judge one measurement unit.

    ``to_unit`` is set when measurements in ``unit`` are converted into the rules' unit.
    ``fixed`` answers every patient alike: an interval that is not partitioned, or the
    explanation why no interval can judge this unit. ``memo`` maps a patient profile to the
    rule chosen for it, or to the explanation why none applies.
    """

    __slots__ = ("analyte", "choices", "fixed", "memo", "molecular_weight", "rules", "to_unit")

    def __init__(
        self,
        analyte: str,
        rules: tuple[PreparedRule, ...],
        *,
        to_unit: str | None = None,
        molecular_weight: Decimal | None = None,
        unmatched: Interpretation | None = None,
    ) -> None:
        self.analyte = analyte
        self.rules = rules
        self.to_unit = to_unit
        self.molecular_weight = molecular_weight
        self.choices = tuple(Choice(self, prepared) for prepared in rules)
        self.memo: dict[str, Choice | Interpretation] = {}
        self.fixed: Choice | Interpretation | None = unmatched
        if len(rules) == 1:
            rule = rules[0].rule
            if rule.specimen_types is None and rule.sex is None and not rule.is_age_partitioned:
                self.fixed = self.choices[0]


# analyte -> unit -> the rule chosen for one patient profile.
Plan = dict[str, dict[str, Choice]]
# analyte -> unit -> why no rule applies, for one exact patient profile.
Unmatched = dict[str, dict[str, Interpretation]]
# (plan, unmatched, profile, exact profile) of one patient: see ``RuleIndex.profile``.
Profile = tuple[Plan, Unmatched, str, str]


class RuleIndex:
    __slots__ = (
        "day_limits",
        "groups",
        "molecular_weights",
        "plans",
        "profiles",
        "resolved",
        "rule_groups",
        "ruleset",
        "year_limits",
    )

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        grouped: dict[str, dict[str, list[PreparedRule]]] = {}
        for rule in ruleset.rules:
            grouped.setdefault(rule.analyte, {}).setdefault(rule.unit, []).append(
                PreparedRule(rule)
            )
        # analyte -> unit -> group, for the rules' own units only.
        self.rule_groups = {
            analyte: {unit: Group(analyte, tuple(rules)) for unit, rules in by_unit.items()}
            for analyte, by_unit in grouped.items()
        }
        # The lookup table: the rules' groups, then groups resolved for other units and
        # analytes as measurements ask for them.
        self.groups = {analyte: dict(by_unit) for analyte, by_unit in self.rule_groups.items()}
        self.resolved = 0
        # Every age limit of the rule set, per unit: patients whose ages fall between the same
        # two limits are admitted by the same rules.
        self.year_limits = self._age_limits(AgeUnit.YEARS)
        self.day_limits = self._age_limits(AgeUnit.DAYS)
        # Patient facts -> (plan, unmatched, profile, exact profile); profile -> plan. A plan
        # maps analyte and unit to the rule chosen for the profile, for the pairs seen so far
        # that a rule judges; ``unmatched`` the pairs no rule judges for the exact profile to
        # the explanation why.
        self.profiles: dict[tuple[object, ...], Profile] = {}
        self.plans: dict[str, Plan] = {}
        weights: dict[str, Decimal] = {}
        for analyte, weight in ruleset.molecular_weights:
            if not weight > _ZERO:
                raise InvalidRuleSet(f"molecular weight of {analyte} ({weight} kDa) is not > 0")
            if weights.setdefault(analyte, weight) != weight:
                raise InvalidRuleSet(
                    f"rule set {ruleset.key} {ruleset.version} gives {analyte} two molecular "
                    f"weights ({weights[analyte]} and {weight} kDa)"
                )
        self.molecular_weights = weights

    def _age_limits(self, unit: AgeUnit) -> tuple[int, ...]:
        limits = {
            limit
            for rule in self.ruleset.rules
            if rule.age_unit is unit
            for limit in (rule.min_age, rule.max_age)
            if limit is not None
        }
        return tuple(sorted(limits))

    def profile(self, patient: PatientContext, key: tuple[object, ...]) -> Profile:
        """The patient's plan, explanations and profiles, remembered under ``key`` (the facts
        they depend on).

        Everything rule selection depends on, as one string: sex, specimen (with the lab's
        anticoagulant of generic plasma) and the age band
        between the rule set's age limits (``profile``); the same with the exact age, which an
        explanation why no rule applies may name (``exact_profile``).
        """
        age = patient.age
        if age is None:
            band = exact_age = "-"
        else:
            band = f"{_band(age.years, self.year_limits)}y{_band(age.days, self.day_limits)}d"
            # An explanation names the age in days only where some interval is in days.
            exact_age = f"{age.years}y{age.days}d" if self.day_limits else f"{age.years}y"
        specimen = patient.specimen_type
        if patient.plasma_anticoagulant is not None:
            specimen = f"{specimen}\x1e{patient.plasma_anticoagulant}"
        profile = "\x1f".join((patient.sex, specimen, band))
        exact_profile = "\x1f".join((patient.sex, specimen, exact_age, ""))
        plans = self.plans
        plan = plans.get(profile)
        if plan is None:
            if len(plans) >= _PROFILE_MEMO_SIZE:
                plans.clear()
            plan = plans[profile] = {}
        found: Profile = (plan, {}, profile, exact_profile)
        profiles = self.profiles
        if len(profiles) >= _PROFILE_MEMO_SIZE:
            profiles.clear()
        profiles[key] = found
        return found

    def unmatched(self, analyte: str, reason: str) -> Interpretation:
        return Interpretation(
            analyte=analyte,
            code=None,
            reason=reason,
            ruleset_key=self.ruleset.key,
            ruleset_version=self.ruleset.version,
        )

    def resolve(self, analyte: str, unit: str) -> Group:
        """The group for a unit (or analyte) the rule set has no interval in."""
        ruleset = self.ruleset
        by_unit = self.rule_groups.get(analyte)
        if by_unit is None:
            reason = (
                f"no reference interval for {analyte} in rule set {ruleset.key} {ruleset.version}"
            )
            group = Group(analyte, (), unmatched=self.unmatched(analyte, reason))
        else:
            group = self._converting_group(analyte, unit, by_unit)
        if self.resolved < _RESOLVED_LIMIT:
            self.resolved += 1
            self.groups.setdefault(analyte, {})[unit] = group
        return group

    def _converting_group(self, analyte: str, unit: str, by_unit: dict[str, Group]) -> Group:
        weight = self.molecular_weights.get(analyte)
        source = quantity_of(unit)
        convertible = [
            rule_unit
            for rule_unit in sorted(by_unit)
            if convert(_ONE, unit, rule_unit, molecular_weight_kda=weight) is not None
        ]
        if convertible:
            # Prefer a conversion by a power of ten (exact) over one by a molecular weight.
            convertible.sort(key=lambda rule_unit: quantity_of(rule_unit) is not source)
            to_unit = convertible[0]
            return Group(
                analyte,
                by_unit[to_unit].rules,
                to_unit=to_unit,
                molecular_weight=weight if quantity_of(to_unit) is not source else None,
            )
        obstacles = "; ".join(
            conversion_obstacle(
                unit, rule_unit, analyte=analyte, has_molecular_weight=weight is not None
            )
            for rule_unit in sorted(by_unit)
        )
        reason = (
            f"no reference interval in {unit} for {analyte} "
            f"(intervals exist in {', '.join(sorted(by_unit))}); {obstacles}"
        )
        return Group(analyte, (), unmatched=self.unmatched(analyte, reason))


# Memo of recent indexes. Each entry holds its rule set, so an id cannot be reused while cached;
# the identity check makes a stale entry harmless. Purely a cache: results never depend on it.
INDEX_CACHE: dict[int, RuleIndex] = {}
INDEX_CACHE_SIZE = 8


def index_for(ruleset: RuleSet) -> RuleIndex:
    cached = INDEX_CACHE.get(id(ruleset))
    if cached is not None and cached.ruleset is ruleset:
        return cached
    index = RuleIndex(ruleset)
    if len(INDEX_CACHE) >= INDEX_CACHE_SIZE:
        # clear() is atomic, unlike evicting one entry, so threads sharing the cache are safe.
        INDEX_CACHE.clear()
    INDEX_CACHE[id(ruleset)] = index
    return index


def _choose(
    index: RuleIndex, group: Group, patient: PatientContext, profile: str, exact_profile: str
) -> Choice | Interpretation:
    """Choose the group's rule for the patient and remember it for the patient's profile.

    A chosen rule is remembered for the age band (``profile``): the same for every age between
    the same two age limits of the rule set. Why no rule applies is remembered for the band too,
    unless it names the patient's age: then for the exact age (``exact_profile``).
    """
    memo = group.memo
    known = memo.get(exact_profile)
    if known is not None:
        return known
    applicable = [choice for choice in group.choices if rule_applies(choice.prepared.rule, patient)]
    if len(applicable) > 1:
        raise AmbiguousRules(group.analyte, [choice.prepared.rule.key for choice in applicable])
    chosen: Choice | Interpretation
    if applicable:
        chosen = applicable[0]
        key = profile
    else:
        reason, names_age = no_match_explained([prepared.rule for prepared in group.rules], patient)
        chosen = index.unmatched(group.analyte, reason)
        # An explanation that names the age is remembered for the exact age, any other for
        # the whole age band (it is the same for every age in it).
        key = exact_profile if names_age else profile
    if len(memo) >= _PROFILE_MEMO_SIZE:
        memo.clear()
    memo[key] = chosen
    return chosen


def lookup(
    index: RuleIndex,
    plan: Plan,
    unmatched: Unmatched,
    patient: PatientContext,
    profile: str,
    exact_profile: str,
    measurement: Measurement,
) -> Choice | Interpretation:
    """The rule chosen for the measurement's analyte and unit and the patient's profile, or the
    explanation why none applies. A chosen rule is kept in the profile's plan, an explanation
    with the exact profile's."""
    analyte, unit = measurement.analyte, measurement.unit
    explained = unmatched.get(analyte)
    if explained is not None:
        known = explained.get(unit)
        if known is not None:
            return known
    by_unit = index.groups.get(analyte)
    group = None if by_unit is None else by_unit.get(unit)
    if group is None:
        group = index.resolve(analyte, unit)
    choice = (
        group.fixed
        or group.memo.get(profile)
        or _choose(index, group, patient, profile, exact_profile)
    )
    if isinstance(choice, Choice):
        units = plan.get(analyte)
        if units is None:
            units = plan[analyte] = {}
        if len(units) < _PLAN_UNITS:
            units[unit] = choice
    elif explained is not None:
        if len(explained) < _PLAN_UNITS:
            explained[unit] = choice
    elif len(unmatched) < _UNMATCHED_ANALYTES:
        unmatched[analyte] = {unit: choice}
    return choice


def _band(age: int, limits: tuple[int, ...]) -> int:
    """How many of the sorted age limits ``age`` has reached."""
    band = 0
    for limit in limits:
        if age < limit:
            break
        band += 1
    return band
