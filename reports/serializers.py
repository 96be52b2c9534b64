"""Output shapes of the reports API."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from reports.models import Report


class ReportOutput(serializers.ModelSerializer[Report]):
    panel = serializers.IntegerField(source="panel_id")
    accession = serializers.CharField(source="panel.accession")
    status = serializers.CharField(source="public_status")
    pdf_url = serializers.SerializerMethodField()
    amends = serializers.IntegerField(source="amends_id", allow_null=True)
    amended_by = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = (
            "id",
            "panel",
            "accession",
            "status",
            "stage",
            "error_message",
            "failure_kind",
            "attempts",
            "auto_retries",
            "next_retry_at",
            "ruleset_version",
            "checksum",
            "created_at",
            "rendered_at",
            "pdf_url",
            "amends",
            "amended_by",
            "amendment_reason",
            "corrections",
        )
        read_only_fields = fields

    def get_pdf_url(self, report: Report) -> str | None:
        if report.status != "ready":
            return None
        path = reverse("api:report-pdf", args=[report.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_amended_by(self, report: Report) -> int | None:
        """The report that replaced this one, if it was amended (this one stays as issued)."""
        amended = Report.objects.filter(amends_id=report.pk).values_list("pk", flat=True).first()
        return amended

    def to_representation(self, instance: Report) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["error_message"] = data["error_message"] or None
        data["failure_kind"] = data["failure_kind"] or None
        data["checksum"] = data["checksum"] or None
        data["amendment_reason"] = data["amendment_reason"] or None
        return dict(data)
