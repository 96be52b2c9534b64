"""Admin for the analyte catalogue and rule sets. Published (non-draft) rule sets are read-only.

The publication fields are never edited by hand: drafts become active only through the publish
action (the same ``ruleset_publish`` service as the API and the command), which checks the
director, validates the set and retires its predecessor.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from labpanel.exceptions import DomainError
from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus
from reference_ranges.services import ruleset_publish


@admin.register(Analyte)
class AnalyteAdmin(admin.ModelAdmin[Analyte]):
    list_display = ("code", "short_name", "family", "inflammatory_role", "loinc", "loinc_verified")
    list_filter = ("family", "inflammatory_role", "loinc_verified")
    search_fields = ("code", "short_name", "name", "loinc")


def _is_published(ruleset: ReferenceRangeSet | None) -> bool:
    return ruleset is not None and ruleset.status != RuleSetStatus.DRAFT


class RuleInline(admin.TabularInline[ReferenceRangeRule, ReferenceRangeSet]):
    model = ReferenceRangeRule
    extra = 0
    fields = (
        "key",
        "analyte",
        "unit",
        "low",
        "low_inclusive",
        "high",
        "high_inclusive",
        "critical_low",
        "critical_high",
        "sex",
        "age_unit",
        "min_age",
        "max_age",
        "specimen_types",
        "method",
        "source",
        "test_code",
        "verified",
    )

    def has_change_permission(
        self, request: HttpRequest, obj: ReferenceRangeSet | None = None
    ) -> bool:
        return not _is_published(obj) and super().has_change_permission(request, obj)

    def has_add_permission(
        self, request: HttpRequest, obj: ReferenceRangeSet | None = None
    ) -> bool:
        return not _is_published(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: ReferenceRangeSet | None = None
    ) -> bool:
        return not _is_published(obj) and super().has_delete_permission(request, obj)


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
class ReferenceRangeSetAdmin(admin.ModelAdmin[ReferenceRangeSet]):
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
    readonly_fields = (
        "status",
        "effective_from",
        "published_at",
        "published_by",
        "created_by",
        "retired_at",
        "superseded_by",
    )
    actions = (publish_draft,)
    inlines = (RuleInline,)

    def has_change_permission(
        self, request: HttpRequest, obj: ReferenceRangeSet | None = None
    ) -> bool:
        return not _is_published(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: ReferenceRangeSet | None = None
    ) -> bool:
        return not _is_published(obj) and super().has_delete_permission(request, obj)


@admin.register(ReferenceRangeRule)
class ReferenceRangeRuleAdmin(admin.ModelAdmin[ReferenceRangeRule]):
    list_display = ("key", "ruleset", "analyte", "unit", "low", "high", "verified")
    list_filter = ("ruleset", "verified", "analyte")
    search_fields = ("key", "source")

    def has_change_permission(
        self, request: HttpRequest, obj: ReferenceRangeRule | None = None
    ) -> bool:
        published = obj is not None and _is_published(obj.ruleset)
        return not published and super().has_change_permission(request, obj)

    def has_delete_permission(
        self, request: HttpRequest, obj: ReferenceRangeRule | None = None
    ) -> bool:
        published = obj is not None and _is_published(obj.ruleset)
        return not published and super().has_delete_permission(request, obj)
