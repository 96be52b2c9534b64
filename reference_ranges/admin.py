"""Admin for the analyte catalogue and the rule sets.

Published (non-draft) rule sets are read-only. The publication fields are never edited by hand:
drafts become active only through the publish action (the same ``ruleset_publish`` service as
the API and the command), which checks the director, validates the set and retires its
predecessor. The lab-configuration pages (pattern-rule switches, measuring ranges, specimen
settings) are in :mod:`reference_ranges.lab_admin`, registered from here. A director sees their
own lab's rule sets and reads the installation-wide ones (``LabRowsAdmin``); a superuser, all.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import BaseModelAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from labpanel.accounts.admin import LabRowsAdmin
from labpanel.exceptions import DomainError
from reference_ranges.models import (
    Analyte,
    ReferenceRangeRule,
    ReferenceRangeSet,
    RuleSetStatus,
)
from reference_ranges.rule_fields import RULE_FIELDS
from reference_ranges.services import (
    ruleset_publish,
)


@admin.register(Analyte)
class AnalyteAdmin(admin.ModelAdmin[Analyte]):
    list_display = ("code", "short_name", "family", "inflammatory_role", "loinc", "loinc_verified")
    list_filter = ("family", "inflammatory_role", "loinc_verified")
    search_fields = ("code", "short_name", "name", "loinc")


def _is_published(ruleset: ReferenceRangeSet | None) -> bool:
    return ruleset is not None and ruleset.status != RuleSetStatus.DRAFT


class _EditableWhileDraft(BaseModelAdmin[Any]):
    """Changed or deleted only while its rule set is a draft: a published set never changes."""

    def _ruleset_of(self, obj: Any) -> ReferenceRangeSet | None:
        """The rule set ``obj`` (a set, or None) belongs to."""
        return obj  # type: ignore[no-any-return]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        published = _is_published(self._ruleset_of(obj))
        return not published and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        published = _is_published(self._ruleset_of(obj))
        return not published and super().has_delete_permission(request, obj)


class RuleInline(_EditableWhileDraft, admin.TabularInline[ReferenceRangeRule, ReferenceRangeSet]):
    model = ReferenceRangeRule
    extra = 0
    fields = RULE_FIELDS

    def has_add_permission(
        self, request: HttpRequest, obj: ReferenceRangeSet | None = None
    ) -> bool:
        return not _is_published(obj) and super().has_add_permission(request, obj)


@admin.action(description="Publish the selected draft (as yourself, a director)")
def publish_draft(
    modeladmin: ReferenceRangeSetAdmin, request: HttpRequest, queryset: QuerySet[ReferenceRangeSet]
) -> None:
    rulesets = list(queryset[:2])
    if len(rulesets) != 1:
        modeladmin.message_user(request, "Select exactly one draft to publish.", messages.ERROR)
        return
    user = request.user
    if not isinstance(user, User):
        return
    try:
        outcome = ruleset_publish(ruleset=rulesets[0], published_by=user)
    except DomainError as error:
        details = "; ".join(
            str(item.get("message", item)) if isinstance(item, dict) else str(item)
            for item in error.details
        )
        modeladmin.message_user(
            request, f"{error.message}{': ' + details if details else ''}", messages.ERROR
        )
        return
    retired = outcome.retired
    modeladmin.message_user(
        request,
        f"Published {outcome.ruleset}."
        + (f" Retired {retired.key} v{retired.version}." if retired else ""),
        messages.SUCCESS,
    )


@admin.register(ReferenceRangeSet)
class ReferenceRangeSetAdmin(
    LabRowsAdmin, _EditableWhileDraft, admin.ModelAdmin[ReferenceRangeSet]
):
    installation_wide_rows = True
    list_display = (
        "key",
        "version",
        "panel_type",
        "lab",
        "status",
        "effective_from",
        "published_at",
        "retired_at",
    )
    list_filter = ("status", "panel_type", "lab")
    readonly_fields = ReferenceRangeSet.LIFECYCLE_FIELDS
    actions = (publish_draft,)
    inlines = (RuleInline,)


@admin.register(ReferenceRangeRule)
class ReferenceRangeRuleAdmin(
    LabRowsAdmin, _EditableWhileDraft, admin.ModelAdmin[ReferenceRangeRule]
):
    lab_path = "ruleset__lab_id"
    installation_wide_rows = True
    list_display = ("key", "ruleset", "analyte", "unit", "low", "high", "verified")
    list_filter = ("ruleset", "verified", "analyte")
    search_fields = ("key", "source")

    def _ruleset_of(self, obj: Any) -> ReferenceRangeSet | None:
        return obj.ruleset if obj is not None else None


# The lab-configuration pages register themselves on import.
from reference_ranges import lab_admin  # noqa: E402, F401
