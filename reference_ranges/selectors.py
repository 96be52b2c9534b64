"""Reads of the catalogue, rule sets, pattern-rule settings and assay measuring ranges.

Rule sets visible to a user: :func:`labpanel.accounts.access.rulesets_scope` (technicians,
directors and integrators see their own lab's sets and the installation-wide ones; anyone else
sees none). Views answer 404 for the rest.
Measuring ranges leave as plain frozen dataclasses (:class:`MeasuringRangeFacts`), ready to be
put on engine ``Measurement``s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Prefetch, Q, QuerySet, Subquery

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from reference_ranges.engine.decimals import trimmed
from reference_ranges.engine.units import convert as unit_convert
from reference_ranges.engine.units import quantity_of
from reference_ranges.models import (
    Analyte,
    AssayMeasuringRange,
    LabSpecimenSetting,
    PatternRuleSetting,
    ReferenceRangeRule,
    ReferenceRangeSet,
)
from reference_ranges.ruleset_format import (
    RULE_VALUE_FIELDS,
    DocumentFormat,
    RulesetSpec,
    RuleSpec,
    document_dump,
    document_from_spec,
)

_SEPARATORS = re.compile(r"[\s\-_./]+")


def analyte_name_key(name: str) -> str:
    """Normalise an analyte name for matching: case, spaces, hyphens, dots and slashes ignored."""
    return _SEPARATORS.sub("", name.strip().casefold())


@dataclass(frozen=True)
class AnalyteCatalogue:
    """Every way an analyte may be named (code, LOINC, aliases) mapped to its catalogue row."""

    by_key: dict[str, Analyte]
    updated_at: datetime | None = None
    """When the catalogue last changed: the latest ``updated_at`` of its rows (``None``: empty).
    A document built from these rows names it (``panels.models_documents.PanelDocument``)."""

    def resolve(self, name: str) -> Analyte | None:
        return self.by_key.get(analyte_name_key(name))


def analyte_catalogue_get() -> AnalyteCatalogue:
    by_key: dict[str, Analyte] = {}
    updated_at: datetime | None = None
    for analyte in Analyte.objects.all():
        names = [analyte.code, analyte.short_name, analyte.name, *analyte.aliases]
        if analyte.loinc:
            names.append(analyte.loinc)
        for name in names:
            by_key[analyte_name_key(name)] = analyte
        if updated_at is None or analyte.updated_at > updated_at:
            updated_at = analyte.updated_at
    return AnalyteCatalogue(by_key=by_key, updated_at=updated_at)


def catalogue_updated_at() -> Subquery:
    """When the analyte catalogue last changed (:attr:`AnalyteCatalogue.updated_at`), as a
    subquery: read in the statement that uses it."""
    return Subquery(Analyte.objects.order_by("-updated_at").values("updated_at")[:1])


def analyte_units_get() -> dict[str, list[str]]:
    """Each catalogue code and the units a result (and so a rule) may be given in."""
    return dict(Analyte.objects.values_list("code", "allowed_units"))


def analyte_molecular_weights_get() -> dict[str, Decimal]:
    """Each catalogue code with a single molecular weight, and that weight in kDa."""
    rows = Analyte.objects.filter(molecular_weight_kda__isnull=False).values_list(
        "code", "molecular_weight_kda"
    )
    return {code: trimmed(weight) for code, weight in rows if weight is not None}


def ruleset_get_active(
    *, panel_type: str = "cytokine", lab: Lab | None = None
) -> ReferenceRangeSet | None:
    """The set in force now for ``panel_type``: the lab's own active set when ``lab`` has one,
    otherwise the installation-wide active set. ``None`` if neither.

    Publishing takes effect immediately, so the active set is the one in force today.
    """
    sets = ReferenceRangeSet.objects.active().filter(panel_type=panel_type)
    if lab is None:
        return sets.filter(lab__isnull=True).first()
    return (
        sets.filter(Q(lab_id=lab.pk) | Q(lab__isnull=True))
        .order_by(F("lab_id").asc(nulls_last=True))
        .first()
    )


def rulesets_visible_to(*, user: User | AnonymousUser) -> QuerySet[ReferenceRangeSet]:
    return ReferenceRangeSet.objects.filter(access.rulesets_scope(user))


def _with_details(rulesets: QuerySet[ReferenceRangeSet]) -> QuerySet[ReferenceRangeSet]:
    return rulesets.select_related(
        "lab", "published_by", "created_by", "superseded_by"
    ).prefetch_related(
        Prefetch(
            "rules", queryset=ReferenceRangeRule.objects.select_related("analyte").order_by("pk")
        )
    )


def ruleset_list(*, user: User | AnonymousUser) -> QuerySet[ReferenceRangeSet]:
    return _with_details(rulesets_visible_to(user=user)).order_by("key", "-created_at", "-pk")


def ruleset_get(*, pk: int, user: User | AnonymousUser) -> ReferenceRangeSet | None:
    return _with_details(rulesets_visible_to(user=user)).filter(pk=pk).first()


def ruleset_get_by_version(*, key: str, version: str) -> ReferenceRangeSet | None:
    """A set by its installation-wide identity (key and version), for management commands."""
    return _with_details(ReferenceRangeSet.objects.filter(key=key, version=version)).first()


def ruleset_spec_get(*, ruleset: ReferenceRangeSet) -> RulesetSpec:
    """The stored set as an exchange-format spec, rules in the order they were stored."""
    rules = ReferenceRangeRule.objects.filter(ruleset=ruleset).select_related("analyte")
    return RulesetSpec(
        key=ruleset.key,
        name=ruleset.name,
        version=ruleset.version,
        panel_type=ruleset.panel_type,
        effective_from=ruleset.effective_from,
        description=ruleset.description,
        molecular_weights=ruleset_molecular_weights(ruleset=ruleset),
        rules=tuple(
            RuleSpec(
                key=rule.key,
                analyte=rule.analyte.code,
                **_rule_values(rule),
                specimen_types=tuple(rule.specimen_types) if rule.specimen_types else None,
            )
            for rule in rules.order_by("pk")
        ),
    )


def ruleset_document_get(*, ruleset: ReferenceRangeSet) -> dict[str, Any]:
    """The stored set as an exchange document (docs/ruleset-format.md)."""
    return document_from_spec(ruleset_spec_get(ruleset=ruleset))


def ruleset_export(*, ruleset: ReferenceRangeSet, document_format: DocumentFormat) -> str:
    return document_dump(ruleset_document_get(ruleset=ruleset), document_format=document_format)


def _rule_values(rule: ReferenceRangeRule) -> dict[str, Any]:
    """The stored rule's values, except ``specimen_types`` (a list here, a tuple in a spec)."""
    return {name: getattr(rule, name) for name in RULE_VALUE_FIELDS if name != "specimen_types"}


def ruleset_molecular_weights(*, ruleset: ReferenceRangeSet) -> tuple[tuple[str, Decimal], ...]:
    """The molecular weights (kDa) the set was created with, sorted by analyte code."""
    return tuple(
        sorted((code, Decimal(str(weight))) for code, weight in ruleset.molecular_weights.items())
    )


# --- Pattern-rule settings --------------------------------------------------------------------


@dataclass(frozen=True)
class PatternRuleSwitch:
    """One stored on/off choice for a pattern rule version, and whose choice it is."""

    rule_id: str
    rule_version: str
    enabled: bool
    is_lab_setting: bool


def pattern_rule_switches_get(*, lab_id: int | None) -> dict[str, list[PatternRuleSwitch]]:
    """The stored settings that may decide each rule for ``lab_id``: the lab's own first, then
    the installation default (only the latter when ``lab_id`` is None)."""
    settings = PatternRuleSetting.objects.installation_defaults()
    if lab_id is not None:
        settings = PatternRuleSetting.objects.filter(Q(lab_id=lab_id) | Q(lab__isnull=True))
    switches: dict[str, list[PatternRuleSwitch]] = {}
    for rule_id, version, enabled, owner in settings.values_list(
        "rule_id", "rule_version", "enabled", "lab_id"
    ).order_by(F("lab_id").asc(nulls_last=True)):
        switches.setdefault(rule_id, []).append(
            PatternRuleSwitch(
                rule_id=rule_id,
                rule_version=version,
                enabled=enabled,
                is_lab_setting=owner is not None,
            )
        )
    return switches


# --- Assay measuring ranges ---------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuringRangeFacts:
    """An assay's measuring range for one analyte, as the engine's ``Measurement`` takes it.

    ``lloq`` / ``uloq`` are in ``unit`` (either may be ``None``: a one-sided range). Use
    :meth:`limits_in` to get them in the unit a result was reported in.
    """

    id: int
    analyte: str
    assay: str
    lloq: Decimal | None
    uloq: Decimal | None
    unit: str
    effective_from: date

    def limits_in(self, unit: str) -> tuple[Decimal | None, Decimal | None] | None:
        """(lloq, uloq) in ``unit``; ``None`` when ``unit`` is not a unit the limits convert to
        exactly (a power of ten between mass concentrations, or the same unit).

        Never converts through a molecular weight, nor from or to an arbitrary unit (U/mL):
        such a result is simply judged without its measuring range.
        """
        if unit == self.unit:
            return self.lloq, self.uloq
        if quantity_of(unit) is None or quantity_of(unit) is not quantity_of(self.unit):
            return None
        limits: list[Decimal | None] = []
        for limit in (self.lloq, self.uloq):
            if limit is None:
                limits.append(None)
                continue
            conversion = unit_convert(limit, self.unit, unit)
            if conversion is None or not conversion.exact:
                return None
            limits.append(conversion.value)
        return limits[0], limits[1]


def _measuring_range_facts(row: AssayMeasuringRange) -> MeasuringRangeFacts:
    return MeasuringRangeFacts(
        id=row.pk,
        analyte=row.analyte.code,
        assay=row.assay,
        lloq=None if row.lloq is None else trimmed(row.lloq),
        uloq=None if row.uloq is None else trimmed(row.uloq),
        unit=row.unit,
        effective_from=row.effective_from,
    )


def measuring_ranges_active(*, lab_id: int, on: date) -> Mapping[str, MeasuringRangeFacts]:
    """The measuring range in force on ``on`` for each analyte the lab has recorded one for.

    Analyte code -> facts. The range in force is the one with the latest ``effective_from`` on
    or before ``on``; analytes without one are absent. One query.
    """
    if isinstance(on, datetime):
        raise TypeError("on is a date (the lab's calendar day), not a datetime")
    rows = (
        AssayMeasuringRange.objects.filter(lab_id=lab_id, effective_from__lte=on)
        .select_related("analyte")
        .order_by("analyte__code", "-effective_from")
    )
    active: dict[str, MeasuringRangeFacts] = {}
    for row in rows:
        # Newest first per analyte: the first row seen is the one in force.
        if row.analyte.code not in active:
            active[row.analyte.code] = _measuring_range_facts(row)
    return active


def measuring_ranges_list(*, lab_id: int) -> list[AssayMeasuringRange]:
    """Every range the lab recorded, newest first per analyte (for the admin and commands)."""
    return list(
        AssayMeasuringRange.objects.filter(lab_id=lab_id)
        .select_related("analyte", "created_by")
        .order_by("analyte__code", "-effective_from")
    )


# --- Specimen settings ---------------------------------------------------------------------------


def plasma_anticoagulant_get(*, lab_id: int) -> str | None:
    """What ``lab_id`` says its generic "plasma" specimen is (a specimen type code such as
    ``plasma_edta``), or ``None`` when it has not said."""
    stated = (
        LabSpecimenSetting.objects.filter(lab_id=lab_id)
        .values_list("plasma_anticoagulant", flat=True)
        .first()
    )
    return stated or None
