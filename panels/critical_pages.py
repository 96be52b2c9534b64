"""The critical alert's page (``/critical/<id>/``): the critical results, who was told when by
which channel and with what outcome, where escalation stands, and the two ways it ends:
"Acknowledge" (the ordering clinician) and "Record phone read-back" (the lab's technicians and
directors). Seen by the ordering clinician and the lab's staff; anyone else gets 404. And the
list (``/critical/``) of the alerts nobody has acknowledged yet, oldest first: the lab's staff
see their lab's (where a phone call is due), a clinician their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from labpanel.accounts import access
from labpanel.audit.services import read_record
from labpanel.exceptions import Conflict, NotAllowed
from panels.critical import (
    ESCALATION_ORDER,
    critical_alert_acknowledge,
    critical_alert_read_back_record,
)
from panels.critical_selectors import critical_alert_get, critical_alerts_awaiting
from panels.models_critical import CriticalAlert, CriticalAlertState, CriticalLevel

FLAG_WORDS = {"HH": "Critical high", "LL": "Critical low"}


class ReadBackForm(forms.Form):
    person_called = forms.CharField(
        max_length=200, label="Person called (name and role)", strip=True
    )
    read_back_by = forms.CharField(max_length=200, label="Who read the value back", strip=True)
    told_at = forms.DateTimeField(
        label="Time of the call",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def clean_told_at(self) -> datetime:
        told_at: datetime = self.cleaned_data["told_at"]
        if told_at > timezone.now():
            raise forms.ValidationError("the call cannot be in the future")
        return told_at


def _alert(request: HttpRequest, pk: int) -> CriticalAlert:
    alert = critical_alert_get(pk=pk, user=request.user)
    if alert is None:
        raise Http404
    return alert


def _allowed(check: Callable[[], None]) -> bool:
    try:
        check()
    except NotAllowed:
        return False
    return True


def _next_level(alert: CriticalAlert) -> str:
    index = ESCALATION_ORDER.index(CriticalLevel(alert.level)) + 1
    if index >= len(ESCALATION_ORDER):
        return "none left: escalation ends (exhausted)"
    return str(ESCALATION_ORDER[index].label)


def _page(request: HttpRequest, alert: CriticalAlert, form: ReadBackForm | None) -> HttpResponse:
    user = request.user
    awaiting = alert.state != CriticalAlertState.ACKNOWLEDGED
    can_acknowledge = awaiting and _allowed(
        lambda: access.critical_acknowledge_check(
            user, ordering_clinician_id=alert.panel.ordering_clinician_id
        )
    )
    can_read_back = awaiting and _allowed(
        lambda: access.critical_read_back_check(user, lab_id=alert.panel.lab_id)
    )
    if can_read_back and form is None:
        now = timezone.localtime()
        form = ReadBackForm(initial={"told_at": now.strftime("%Y-%m-%dT%H:%M")})
    results = [
        (result, FLAG_WORDS.get(result.interpretation, result.interpretation))
        for result in alert.results.all()
    ]
    context = {
        "alert": alert,
        "panel": alert.panel,
        "results": results,
        "notifications": list(alert.notifications.all()),
        "next_level": _next_level(alert) if alert.state == CriticalAlertState.OPEN else "",
        "can_acknowledge": can_acknowledge,
        "can_read_back": can_read_back,
        "form": form if can_read_back else None,
    }
    status = 400 if form is not None and form.errors else 200
    response = render(request, "panels/critical_alert.html", context, status=status)
    read_record(request=request, patient_ids=[alert.panel.patient_id], panel_ids=[alert.panel_id])
    return response


@login_required
def critical_alerts_page(request: HttpRequest) -> HttpResponse:
    alerts = critical_alerts_awaiting(user=request.user)
    response = render(request, "panels/critical_alerts.html", {"critical_alerts": alerts})
    read_record(
        request=request,
        patient_ids=[alert.patient_id for alert in alerts],
        panel_ids=[alert.panel_id for alert in alerts],
    )
    return response


@login_required
def critical_alert_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _alert(request, pk), None)


@login_required
@require_POST
def critical_alert_acknowledge_page(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert(request, pk)
    try:
        critical_alert_acknowledge(alert_id=alert.pk, user=request.user)  # type: ignore[arg-type]
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except Conflict as error:
        messages.info(request, error.message)
        return redirect("critical:detail", pk=alert.pk)
    messages.success(request, "Critical result acknowledged: escalation stopped.")
    return redirect("critical:detail", pk=alert.pk)


@login_required
@require_POST
def critical_alert_read_back_page(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert(request, pk)
    form = ReadBackForm(request.POST)
    collected_at = alert.panel.collected_at
    if form.is_valid() and form.cleaned_data["told_at"] < collected_at:
        form.add_error(
            "told_at",
            f"the call cannot be before the collection ({collected_at:%Y-%m-%d %H:%M} UTC)",
        )
    if not form.is_valid():
        return _page(request, alert, form)
    try:
        critical_alert_read_back_record(
            alert_id=alert.pk,
            user=request.user,  # type: ignore[arg-type]
            person_called=form.cleaned_data["person_called"],
            read_back_by=form.cleaned_data["read_back_by"],
            told_at=form.cleaned_data["told_at"],
        )
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    except Conflict as error:
        messages.info(request, error.message)
        return redirect("critical:detail", pk=alert.pk)
    messages.success(request, "Phone read-back recorded: escalation stopped.")
    return redirect("critical:detail", pk=alert.pk)


app_name = "critical"
urlpatterns = [
    path("", critical_alerts_page, name="list"),
    path("<int:pk>/", critical_alert_page, name="detail"),
    path("<int:pk>/acknowledge/", critical_alert_acknowledge_page, name="acknowledge"),
    path("<int:pk>/read-back/", critical_alert_read_back_page, name="read_back"),
]
