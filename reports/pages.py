"""The clinician's web pages: the inbox of their patients' reports and the report page (the
results table from the same ``ReportDocument`` the PDF is drawn from, the stage, the PDF link,
"Acknowledge"). Server-rendered over ``reports.inbox`` (the inbox's read model),
``reports.selectors`` and ``reports.receipts``; what a user sees is ``access.reports_scope`` (the
inbox: its mirror, ``access.inbox_scope``), as in the API: 404 outside it, so existence never
leaks."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from labpanel.accounts import access
from labpanel.audit.services import read_record
from labpanel.exceptions import NotAllowed
from panels.critical_selectors import critical_alerts_awaiting
from reports.document_builder import report_document_build
from reports.inbox import inbox_rows, page_number, rows_html
from reports.models import Report, ReportStatus
from reports.page_sections import document_sections
from reports.read_audit import reports_read_record
from reports.receipts import report_acknowledge, report_opened_record
from reports.selectors import report_get


class InboxSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=120, label="Patient name or MRN", strip=True)
    collected = forms.DateField(
        required=False,
        label="Collected on",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _report(request: HttpRequest, pk: int) -> Report:
    """The report ``pk`` if the user may see it; else 404, as the API answers."""
    report = report_get(pk=pk, user=request.user)
    if report is not None:
        return report
    raise Http404


def _acknowledge_refusal(request: HttpRequest) -> str:
    """Why the user may not acknowledge the reports they see; "" when they may."""
    try:
        access.report_acknowledge_check(request.user)
    except NotAllowed as error:
        return error.message
    return ""


@login_required
def inbox_page(request: HttpRequest) -> HttpResponse:
    form = InboxSearchForm(request.GET or None)
    search, collected_on = "", None
    if form.is_valid():
        search = form.cleaned_data["q"] or ""
        collected_on = form.cleaned_data["collected"]
    page = inbox_rows(
        user=request.user,
        search=search,
        collected_on=collected_on,
        page=page_number(request.GET.get("page")),
    )
    query = request.GET.copy()
    query.pop("page", None)
    alerts = critical_alerts_awaiting(user=request.user)
    context = {
        "form": form,
        "page": page,
        "rows": page.rows,
        "rows_html": rows_html(page.rows),
        "query": query.urlencode(),
        # Critical results awaiting acknowledgement head the inbox (panels.critical_selectors).
        "critical_alerts": alerts,
    }
    response = render(request, "reports/inbox.html", context)
    read_record(
        request=request,
        patient_ids=[
            *(alert.patient_id for alert in alerts),
            *(row["patient_id"] for row in page.rows),
        ],
        panel_ids=[*(alert.panel_id for alert in alerts), *(row["panel_id"] for row in page.rows)],
        report_ids=[row["report_id"] for row in page.rows],
    )
    return response


@login_required
def report_page(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    receipt = report_opened_record(report=report, user=request.user)  # type: ignore[arg-type]
    # The report as its PDF shows it, less the earlier panels this viewer may not see.
    document = report_document_build(
        report=report, reported_at=report.rendered_at or report.created_at, viewer=request.user
    )
    context = {
        "report": report,
        "document": document,
        "receipt": receipt,
        "is_ready": report.status == ReportStatus.READY,
        "can_acknowledge": _acknowledge_refusal(request) == "",
        "pdf_url": reverse("api:report-pdf", kwargs={"pk": report.pk}),
        "amends_url": (
            reverse("reports:detail", kwargs={"pk": report.amends_id})
            if report.amends_id is not None
            else ""
        ),
        # Lab staff came from the panel's page; a clinician from the inbox.
        "back_url": (
            reverse("lab_panels:detail", kwargs={"pk": report.panel_id})
            if access.lab_screen_refusal(request.user) == ""
            else ""
        ),
        **document_sections(document),
    }
    response = render(request, "reports/report.html", context)
    reports_read_record(request=request, reports=[report])
    return response


@login_required
@require_POST
def report_acknowledge_page(request: HttpRequest, pk: int) -> HttpResponse:
    report = _report(request, pk)
    refusal = _acknowledge_refusal(request)
    if refusal:
        raise PermissionDenied(refusal)
    acknowledged_at = report_acknowledge(report=report, user=request.user)  # type: ignore[arg-type]
    messages.success(request, f"Acknowledged at {acknowledged_at:%Y-%m-%d %H:%M} UTC.")
    return redirect("reports:detail", pk=report.pk)


app_name = "reports"
urlpatterns = [
    path("inbox/", inbox_page, name="inbox"),
    path("reports/<int:pk>/", report_page, name="detail"),
    path("reports/<int:pk>/acknowledge/", report_acknowledge_page, name="acknowledge"),
]
