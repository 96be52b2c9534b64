"""The lab's panel page and its release action.

The page shows a panel to the lab's technicians and directors: the results table and findings
from the same ``ReportDocument`` the PDF and the clinician's report page are drawn from (their
template partials), each result's rule, rule-set version and source, the review history, the
patient's earlier panels, the panel's reports (stage, PDF) and the actions (verify, release,
correct), each offered with the reason when ``labpanel.accounts.access`` refuses it. It lives
in ``reports`` because it shows reports and releasing makes the FINAL one
(``reports.release.panel_release``). 404 outside the user's scope, 403 with the reason for a
refused action, as the API answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from labpanel.accounts import access
from labpanel.exceptions import Conflict, NotAllowed
from panels.models import Panel, Result, ReviewState
from panels.read_audit import panels_read_record
from panels.review_rules import panel_has_interpretive_findings
from panels.selectors import panel_details, panels_visible_to
from panels.worklist_pages import (
    back_to,
    is_htmx,
    lab_panel_get,
    verify_refusal,
    worklist_row_response,
)
from reports.document_builder import panel_document_build
from reports.release import panel_release
from reports.results_builder import FLAG_TEXT
from reports.selectors import with_reports

EARLIER_PANELS_SHOWN = 20


@dataclass(frozen=True)
class RuleLine:
    """What judged one current result: its value as given, the flag, the rule behind it."""

    analyte: str
    value_text: str
    unit: str
    conversion: str
    flag: str
    rule_key: str
    ruleset_version: str
    source: str
    is_verified: bool
    reason: str


def _rule_line(result: Result) -> RuleLine:
    rule = result.rule
    return RuleLine(
        analyte=result.analyte.short_name,
        value_text=result.value_text,
        unit=result.unit,
        conversion=result.conversion,
        flag=(
            f"{FLAG_TEXT.get(result.interpretation, result.interpretation)} "
            f"({result.interpretation})"
            if result.interpretation
            else "Not interpreted"
        ),
        rule_key=rule.key if rule is not None else "",
        ruleset_version=result.ruleset_version,
        source=rule.source if rule is not None else "",
        is_verified=rule.verified if rule is not None else True,
        reason=result.interpretation_reason,
    )


def _refusal(check: object, *args: object, **kwargs: object) -> str:
    try:
        check(*args, **kwargs)  # type: ignore[operator]
    except NotAllowed as error:
        return error.message
    return ""


def _release_refusal(request: HttpRequest, panel: Panel) -> str:
    if panel.review_state != ReviewState.VERIFIED:
        return ""
    return _refusal(
        access.release_check,
        request.user,
        lab_id=panel.lab_id,
        has_interpretive_findings=panel_has_interpretive_findings(panel=panel),
    )


@login_required
def panel_page(request: HttpRequest, pk: int) -> HttpResponse:
    lab_panel_get(request, pk)
    panel = (
        with_reports(panel_details(panels_visible_to(user=request.user)), user=request.user)
        .filter(pk=pk)
        .first()
    )
    if panel is None:
        raise Http404
    reports = list(panel.reports.all())
    latest = reports[0] if reports else None
    document = (
        panel_document_build(
            panel=panel,
            report=latest,
            reported_at=latest.rendered_at or latest.created_at,
            viewer=request.user,
        )
        if latest is not None
        else None
    )
    earlier = (
        panels_visible_to(user=request.user)
        .filter(patient_id=panel.patient_id, collected_at__lt=panel.collected_at)
        .only("pk", "accession", "collected_at", "review_state", "patient_id")
        .order_by("-collected_at", "-pk")[:EARLIER_PANELS_SHOWN]
    )
    earlier_panels = list(earlier)
    context = {
        "panel": panel,
        "document": document,
        "rule_lines": [_rule_line(result) for result in panel.results.all()],
        "superseded": getattr(panel, "superseded", []),
        "transitions": list(panel.review_transitions.all()),
        "earlier": earlier_panels,
        "reports": [
            (
                report,
                reverse("api:report-pdf", kwargs={"pk": report.pk}),
                reverse("reports:detail", kwargs={"pk": report.pk}),
            )
            for report in reports
        ],
        "verify_refusal": verify_refusal(request, panel),
        "release_refusal": _release_refusal(request, panel),
        "amend_refusal": _refusal(
            access.amend_check,
            request.user,
            lab_id=panel.lab_id,
            submitted_by_id=panel.submitted_by_id,
        ),
    }
    response = render(request, "reports/lab_panel.html", context)
    # The panel, its reports and the same patient's earlier panels listed with it.
    panels_read_record(
        request=request,
        panels=[panel, *earlier_panels],
        with_reports=False,
        report_ids=[report.pk for report in reports],
    )
    return response


@login_required
@require_POST
def release_action(request: HttpRequest, pk: int) -> HttpResponse:
    panel = lab_panel_get(request, pk)
    reason = request.POST.get("reason", "")[:2000]
    try:
        report = panel_release(panel_id=panel.pk, user=request.user, reason=reason)  # type: ignore[arg-type]
    except NotAllowed as error:
        if is_htmx(request):
            return worklist_row_response(request, panel, error.message, is_error=True)
        raise PermissionDenied(error.message) from error
    except Conflict as error:
        if is_htmx(request):
            return worklist_row_response(request, panel, error.message, is_error=True)
        messages.error(request, error.message)
        return redirect(back_to(request, reverse("lab_panels:detail", kwargs={"pk": panel.pk})))
    done = f"Panel {panel.accession} released: its FINAL report ({report.pk}) is being prepared."
    if is_htmx(request):
        return worklist_row_response(request, panel, done)
    messages.success(request, done)
    return redirect(back_to(request, reverse("lab_panels:detail", kwargs={"pk": panel.pk})))


app_name = "lab_panels"
urlpatterns = [
    path("panels/<int:pk>/", panel_page, name="detail"),
    path("panels/<int:pk>/release/", release_action, name="release"),
]
