"""The lab's worklist page and its verification actions: one panel, or every checked panel whose
results are all normal (``panels.review``'s services, as the API's verify and bulk verify).

Server-rendered; htmx swaps a verified row in place, and every form works without JavaScript
(a plain POST, then a redirect with the outcome as messages). Who may see or do what is
``labpanel.accounts.access``: a panel outside the user's scope is a 404, a refused action a 403
naming the reason (or, asked by htmx, the row with the reason in it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from labpanel.accounts import access
from labpanel.audit.services import read_record
from labpanel.exceptions import Conflict, NotAllowed
from panels.models import Panel, ReviewState
from panels.review import panel_verify, panels_verify_bulk
from panels.selectors import panels_visible_to
from panels.worklist import (
    AWAITING,
    WorklistFilter,
    WorklistPanel,
    page_number,
    worklist_page_get,
    worklist_panel_get,
)
from panels.worklist_rows import filters_html, gone_html, rows_html

BULK_LIMIT = 200


class WorklistFilterForm(forms.Form):
    label_suffix = ""

    state = forms.ChoiceField(
        required=False,
        label="Review state",
        choices=[("", "Awaiting verification or release"), *[(s.value, s.label) for s in AWAITING]],
    )
    flagged = forms.BooleanField(required=False, label="Flagged results only")
    q = forms.CharField(
        required=False, max_length=120, label="Patient name, MRN or accession", strip=True
    )
    collected = forms.DateField(
        required=False, label="Collected on", widget=forms.DateInput(attrs={"type": "date"})
    )

    def narrowed(self) -> WorklistFilter:
        if not self.is_valid():
            return WorklistFilter()
        data = self.cleaned_data
        return WorklistFilter(
            state=data["state"] or "",
            flagged_only=bool(data["flagged"]),
            search=data["q"] or "",
            collected_on=data["collected"],
        )


@dataclass(frozen=True)
class WorklistRow:
    """A worklist line: the annotated panel, and why the user may not verify it ("" if they
    may; decided from the user's membership and the lab's settings, no query)."""

    panel: WorklistPanel
    verify_refusal: str
    release_refusal: str = ""
    message: str = ""
    is_error: bool = False


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def lab_user_check(request: HttpRequest) -> int:
    """The lab of the technician or director asking; else 403 with the reason."""
    try:
        return access.lab_screens_lab_id(request.user)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error


def lab_panel_get(request: HttpRequest, pk: int) -> Panel:
    """Panel ``pk`` for the lab's screens: 404 outside the user's scope (as the API), 403 with
    the reason for someone who sees it but does not work on the lab's screens."""
    panel = panels_visible_to(user=request.user).filter(pk=pk).first()
    if panel is None:
        raise Http404
    lab_user_check(request)
    return panel


def verify_refusal(request: HttpRequest, panel: Panel | WorklistPanel) -> str:
    if panel.review_state != ReviewState.RECEIVED:
        return ""
    try:
        access.verify_check(
            request.user, lab_id=panel.lab_id, submitted_by_id=panel.submitted_by_id
        )
    except NotAllowed as error:
        return error.message
    return ""


def release_refusal_known(request: HttpRequest, panel: Panel | WorklistPanel) -> str:
    """Why the user may not release ``panel``, when that is known without reading its findings
    (role, lab setting); "" otherwise. Releasing checks everything again."""
    if panel.review_state != ReviewState.VERIFIED:
        return ""
    try:
        access.release_check(request.user, lab_id=panel.lab_id, has_interpretive_findings=False)
    except NotAllowed as error:
        return error.message
    return ""


def worklist_row(
    request: HttpRequest, panel: WorklistPanel, message: str = "", *, is_error: bool = False
) -> WorklistRow:
    """``panel``'s line with what the user may not do to it and why, and ``message``."""
    return WorklistRow(
        panel=panel,
        verify_refusal=verify_refusal(request, panel),
        release_refusal=release_refusal_known(request, panel),
        message=message,
        is_error=is_error,
    )


def back_to(request: HttpRequest, default: str) -> str:
    """Where a plain POST returns: the page it came from (``next``), on this site only."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@login_required
def worklist_page(request: HttpRequest) -> HttpResponse:
    lab_user_check(request)
    form = WorklistFilterForm(request.GET or None)
    page = worklist_page_get(
        user=request.user, narrowed=form.narrowed(), number=page_number(request.GET.get("page"))
    )
    # what the user may not do to a panel depends on its state, its lab and its submitter
    # alone: decided once per distinct three, not per row
    decided: dict[tuple[str, int, int], WorklistRow] = {}
    rows = []
    for panel in page.panels:
        key = (panel.review_state, panel.lab_id, panel.submitted_by_id)
        if key not in decided:
            decided[key] = worklist_row(request, panel)
        rows.append(replace(decided[key], panel=panel))
    query = request.GET.copy()
    query.pop("page", None)
    csrf_token = get_token(request)
    response = render(
        request,
        "panels/worklist.html",
        {
            "filters": filters_html(form),
            "page": page,
            "rows": rows_html(rows, csrf_token=csrf_token, next_url=request.get_full_path()),
            "query": query.urlencode(),
            "next_url": request.get_full_path(),
            "csrf_token": csrf_token,  # one masked token for the page, not one more per render
        },
    )
    read_record(
        request=request,
        patient_ids=[panel.patient_id for panel in page.panels],
        panel_ids=[panel.pk for panel in page.panels],
    )
    return response


def worklist_row_response(
    request: HttpRequest, panel: Panel, message: str, *, is_error: bool = False
) -> HttpResponse:
    """The worklist row of ``panel`` as it now stands, with ``message`` (htmx swaps it in); a
    panel that left the worklist (released) is a row with the message alone (which names its
    accession). Either is recorded in the read audit."""
    line = worklist_panel_get(user=request.user, panel_id=panel.pk)
    if line is None:
        response = HttpResponse(gone_html(panel.pk, message, is_error=is_error))
    else:
        row = worklist_row(request, line, message, is_error=is_error)
        response = HttpResponse(
            rows_html([row], csrf_token=get_token(request), next_url=reverse("worklist:list"))
        )
    read_record(request=request, patient_ids=[panel.patient_id], panel_ids=[panel.pk])
    return response


@login_required
@require_POST
def verify_action(request: HttpRequest, pk: int) -> HttpResponse:
    panel = lab_panel_get(request, pk)
    reason = request.POST.get("reason", "")[:2000]
    try:
        panel_verify(panel_id=panel.pk, user=request.user, reason=reason)  # type: ignore[arg-type]
    except NotAllowed as error:
        if is_htmx(request):
            return worklist_row_response(request, panel, error.message, is_error=True)
        raise PermissionDenied(error.message) from error
    except Conflict as error:
        if is_htmx(request):
            return worklist_row_response(request, panel, error.message, is_error=True)
        messages.error(request, error.message)
        return redirect(back_to(request, "/worklist/"))
    done = f"Panel {panel.accession} verified."
    if is_htmx(request):
        return worklist_row_response(request, panel, done)
    messages.success(request, done)
    return redirect(back_to(request, "/worklist/"))


@login_required
@require_POST
def verify_bulk_action(request: HttpRequest) -> HttpResponse:
    """Verify every checked panel whose results are all normal; one message per panel."""
    lab_user_check(request)
    try:
        ids = [int(value) for value in request.POST.getlist("panel")][:BULK_LIMIT]
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, "Check the panels to verify first.")
        return redirect(back_to(request, "/worklist/"))
    outcome = panels_verify_bulk(panel_ids=ids, user=request.user)  # type: ignore[arg-type]
    shown = {
        pk: (accession, patient_id)
        for pk, accession, patient_id in panels_visible_to(user=request.user)
        .filter(pk__in=ids)
        .values_list("pk", "accession", "patient_id")
    }
    accessions = {pk: accession for pk, (accession, _) in shown.items()}
    if outcome.verified:
        names = ", ".join(accessions[panel_id] for panel_id in outcome.verified)
        messages.success(request, f"Verified {len(outcome.verified)}: {names}.")
    for refusal in outcome.refused:
        name = accessions.get(refusal["id"], f"#{refusal['id']}")
        blockers = "; ".join(blocker["message"] for blocker in refusal["blockers"])
        messages.error(
            request,
            f"Not verified {name}: {refusal['message']}" + (f" ({blockers})" if blockers else ""),
        )
    # The messages name the panels the user sees and why each was refused (their results).
    read_record(
        request=request,
        patient_ids=[patient_id for _, patient_id in shown.values()],
        panel_ids=list(shown),
    )
    return redirect(back_to(request, "/worklist/"))


app_name = "worklist"
urlpatterns = [
    path("worklist/", worklist_page, name="list"),
    path("worklist/verify/", verify_bulk_action, name="verify-bulk"),
    path("panels/<int:pk>/verify/", verify_action, name="verify"),
]
