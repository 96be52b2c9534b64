"""Admin for the analyte catalogue and rule sets. Published (non-draft) rule sets are read-only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from reference_ranges.models import Analyte, ReferenceRangeRule, ReferenceRangeSet, RuleSetStatus


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
        "sex",
        "min_age",
        "max_age",
        "specimen_types",
        "source",
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


@admin.register(ReferenceRangeSet)
class ReferenceRangeSetAdmin(admin.ModelAdmin[ReferenceRangeSet]):
    list_display = ("key", "version", "panel_type", "status", "effective_from", "published_at")
    list_filter = ("status", "panel_type")
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
