"""Admin for report jobs: read-only — reports change only through services."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from reports.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin[Report]):
    list_display = ("id", "panel", "status", "attempts", "rendered_at", "checksum")
    list_filter = ("status",)
    search_fields = ("panel__accession",)
    readonly_fields = (
        "uuid",
        "panel",
        "status",
        "attempts",
        "error_message",
        "rendering_started_at",
        "rendered_at",
        "pdf",
        "checksum",
        "ruleset_version",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Report | None = None) -> bool:
        return False
