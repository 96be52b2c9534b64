"""HTTP endpoints for reports: status, the PDF once it is ready, a director's retry."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from labpanel.accounts import access
from labpanel.accounts.scopes import RESULTS_READ, RESULTS_SUBMIT
from labpanel.exceptions import NotReady
from labpanel.idempotency.views import IdempotentPosts
from panels.history import history_facts, panel_facts
from reports.models import Report, ReportStatus
from reports.read_audit import reports_read_record
from reports.selectors import report_get
from reports.serializers import ReportOutput
from reports.services import report_retry


class ReportViewSet(IdempotentPosts, viewsets.GenericViewSet[Report]):
    serializer_class = ReportOutput
    # token scopes (labpanel.accounts.scopes): retrying a failed report is a change
    required_scopes = {"retrieve": RESULTS_READ, "pdf": RESULTS_READ, "retry": RESULTS_SUBMIT}
    queryset = Report.objects.none()

    def _report(self, pk: Any) -> Report:
        try:
            report = report_get(pk=int(pk), user=self.request.user)
        except (TypeError, ValueError) as error:
            raise Http404 from error
        if report is None:
            raise Http404
        return report

    def retrieve(self, request: Request, pk: Any = None) -> Response:
        report = self._report(pk)
        data = ReportOutput(report, context={"request": request}).data
        reports_read_record(request=request, reports=[report])
        return Response(data)

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            403: OpenApiResponse(
                description="The PDF shows earlier results of the patient the caller may not "
                'open (README: "Who sees a patient\'s history")'
            ),
            409: OpenApiResponse(description="The report is not ready yet"),
        }
    )
    @action(detail=True, methods=["get"], url_path="pdf", url_name="pdf")
    def pdf(self, request: Request, pk: Any = None) -> FileResponse:
        report = self._report(pk)
        if report.status != ReportStatus.READY:
            raise NotReady(
                f"report {report.pk} is {report.status}, not ready",
                details=[{"field": "status", "message": report.status}],
            )
        panel = report.panel
        if not access.history_whole(request.user, lab_id=panel.lab_id):
            earlier = history_facts([panel]).get(panel.pk, {})
            access.report_pdf_check(
                request.user,
                current=panel_facts(panel, earlier),
                earlier=earlier,
                sends_preliminaries=panel.lab.preliminary_reports_to_clinicians,
            )
        response = FileResponse(
            report.pdf.open("rb"),
            content_type="application/pdf",
            filename=f"labpanel-report-{report.pk}.pdf",
        )
        response["Cache-Control"] = "private, no-store"
        reports_read_record(request=request, reports=[report])
        return response

    @extend_schema(
        request=None,
        responses={
            202: ReportOutput,
            403: OpenApiResponse(description="Not a director of the report's lab"),
            409: OpenApiResponse(description="The report is not failed"),
        },
    )
    @action(detail=True, methods=["post"], url_path="retry", url_name="retry")
    def retry(self, request: Request, pk: Any = None) -> Response:
        """Render a failed report again (a director's command): 202 with the pending report."""
        report = report_retry(report_id=self._report(pk).pk, user=request.user)
        data = ReportOutput(report, context={"request": request}).data
        reports_read_record(request=request, reports=[report])
        return Response(data, status=status.HTTP_202_ACCEPTED)
