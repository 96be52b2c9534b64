"""Admin for report jobs: read-only — reports change only through services (the one action,
"Retry rendering", calls ``report_retry`` for each selected failed report). A director sees only
their own lab's reports (``LabRowsAdmin``), a superuser every lab's."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from labpanel.accounts.admin import LabRowsAdmin
from labpanel.audit.admin_reads import ReadAuditedAdmin
from labpanel.exceptions import Conflict, NotAllowed
from reports.models import Report
from reports.services import report_retry


@admin.register(Report)
class ReportAdmin(ReadAuditedAdmin, LabRowsAdmin, admin.ModelAdmin[Report]):
    # Every view of a report (its changelist's pages too) is recorded in the read audit.
    read_audit_paths = {
        "patient": "panel.patient_id",
        "panel": "panel_id",
        "report": "pk",
        "lab": "panel.lab_id",
    }
    lab_path = "panel__lab_id"
    list_display = (
        "id",
        "panel",
        "stage",
        "status",
        "failure_kind",
        "attempts",
        "next_retry_at",
        "rendered_at",
        "checksum",
    )
    list_filter = ("stage", "status", "failure_kind")
    actions = ["retry_rendering"]
    search_fields = ("panel__accession",)
    readonly_fields = (
        "uuid",
        "panel",
        "stage",
        "status",
        "attempts",
        "error_message",
        "failure_kind",
        "auto_retries",
        "next_retry_at",
        "dispatch_failed_at",
        "rendering_started_at",
        "rendered_at",
        "pdf",
        "checksum",
        "ruleset_version",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Report | None = None) -> bool:
        # A report is a record of what was issued: only the services change it (a retry of its
        # rendering, an amendment or a release make or re-render reports; its panel, lab, stage
        # and amendment never change). The admin shows it and offers the retry action.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Report | None = None) -> bool:
        return False

    @admin.action(description="Retry rendering (failed reports)")
    def retry_rendering(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        retried: list[int] = []
        skipped: list[str] = []
        for report_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                report_retry(report_id=report_id, user=request.user)
            except (Conflict, NotAllowed) as error:
                skipped.append(f"report {report_id}: {error.message}")
            else:
                retried.append(report_id)
        if retried:
            self.message_user(
                request,
                f"Rendering requested again for {len(retried)} report(s).",
                messages.SUCCESS,
            )
        for reason in skipped:
            self.message_user(request, f"Not retried — {reason}.", messages.WARNING)
