"""Reads of the analyte catalogue and rule sets: the set in force, who may see which sets, exports.

Rule sets visible to a user: technicians, directors and integrators see their own lab's sets and
the installation-wide ones (lab NULL); anyone else sees none. Views answer 404 for the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Prefetch, Q, QuerySet

from panels.models import Lab, StaffMember
from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet
from reference_ranges.ruleset_format import (
    RULE_VALUE_FIELDS,
    DocumentFormat,
    RulesetSpec,
    RuleSpec,
    document_dump,
    document_from_spec,
)

_SEPARATORS = re.compile(r"[\s\-_./]+")
READING_ROLES = ("technician", "director", "integrator")


def analyte_name_key(name: str) -> str:
    """Normalise an analyte name for matching: case, spaces, hyphens, dots and slashes ignored."""
    return _SEPARATORS.sub("", name.strip().casefold())


@dataclass(frozen=True)
class AnalyteCatalogue:
    """Every way an analyte may be named (code, LOINC, aliases) mapped to its catalogue row."""

    by_key: dict[str, Analyte]

    def resolve(self, name: str) -> Analyte | None:
        return self.by_key.get(analyte_name_key(name))


def analyte_catalogue_get() -> AnalyteCatalogue:
    by_key: dict[str, Analyte] = {}
    for analyte in Analyte.objects.all():
        names = [analyte.code, analyte.short_name, analyte.name, *analyte.aliases]
        if analyte.loinc:
            names.append(analyte.loinc)
        for name in names:
            by_key[analyte_name_key(name)] = analyte
    return AnalyteCatalogue(by_key=by_key)


def analyte_units_get() -> dict[str, list[str]]:
    """Each catalogue code and the units a result (and so a rule) may be given in."""
    return dict(Analyte.objects.values_list("code", "allowed_units"))


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


def _staff_lab_id(user: User | AnonymousUser) -> int | None:
    if not user.is_authenticated:
        return None
    staff = StaffMember.objects.filter(user_id=user.pk, role__in=READING_ROLES).first()
    return None if staff is None else staff.lab_id


def rulesets_visible_to(*, user: User | AnonymousUser) -> QuerySet[ReferenceRangeSet]:
    lab_id = _staff_lab_id(user)
    if lab_id is None:
        return ReferenceRangeSet.objects.none()
    return ReferenceRangeSet.objects.filter(Q(lab_id=lab_id) | Q(lab__isnull=True))


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
