"""The lab's correction form: change one result's value, with the reason, on the web.

One submission path: the form's answer is checked by the API's ``AmendmentInput`` (the same
notation, unit and reason rules) and stored by ``panels.intake.amendments.panel_amend`` with
``intake="web"``, exactly as ``POST /api/v1/panels/{id}/amendments/``. A refused correction
shows the offending field's error and changes nothing. Who may correct is
``access.amend_check``, after the lab's screens' own check (404 outside scope, 403 with the
reason).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from labpanel.accounts import access
from labpanel.audit.services import read_record
from labpanel.exceptions import InvalidInput, NotAllowed, NotReady
from panels.intake.amendments import CORRECTION, panel_amend
from panels.intake.inputs import AmendmentInput
from panels.models import Panel, Result
from panels.worklist_pages import lab_panel_get
from reference_ranges.selectors import analyte_catalogue_get

# The API's error paths ("results[0].value", "results.0.unit") → this form's fields.
_FIELDS = {"reason": "reason", "analyte": "analyte", "value": "value", "unit": "unit"}


class CorrectionForm(forms.Form):
    analyte = forms.ChoiceField(label="Result to correct")
    value = forms.CharField(
        label="Corrected value",
        max_length=64,
        strip=False,
        help_text="As reported, comparator included: e.g. 12.4, <2.0, >5000",
    )
    unit = forms.CharField(label="Unit", max_length=16)
    reason = forms.CharField(
        label="Reason for the correction",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required; printed on the amended report",
    )

    def __init__(self, *args: Any, results: list[Result], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["analyte"]
        assert isinstance(field, forms.ChoiceField)  # noqa: S101 - declared above
        field.choices = [
            (result.analyte.code, f"{result.analyte.short_name}: {result.value_text} {result.unit}")
            for result in results
        ]


def _field_of(path_text: str) -> str | None:
    last = path_text.replace("]", "").replace("[", ".").split(".")[-1]
    return _FIELDS.get(last)


def _add_errors(form: CorrectionForm, details: Any, fallback: str) -> None:
    """Put each ``{"field", "message"}`` of an API-shaped error on its form field."""
    placed = False
    for detail in details if isinstance(details, list) else []:
        field = _field_of(str(detail.get("field", "")))
        form.add_error(field, str(detail.get("message", fallback)))
        placed = True
    if not placed:
        form.add_error(None, fallback)


def _flatten(errors: Any, prefix: str = "") -> list[dict[str, str]]:
    if isinstance(errors, dict):
        return [
            item
            for key, value in errors.items()
            for item in _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(errors, list) and errors and not isinstance(errors[0], str | bytes):
        return [item for index, value in enumerate(errors) for item in _flatten(value, prefix)]
    if isinstance(errors, list):
        return [{"field": prefix, "message": str(message)} for message in errors]
    return [{"field": prefix, "message": str(errors)}]


def _amend(request: HttpRequest, panel: Panel, form: CorrectionForm) -> bool:
    """Check the form through the API's input and amend; False with the errors on ``form``."""
    data = form.cleaned_data
    serializer = AmendmentInput(
        data={
            "reason": data["reason"],
            "kind": CORRECTION,
            "results": [{"analyte": data["analyte"], "value": data["value"], "unit": data["unit"]}],
        },
        context={"lab": panel.lab, "catalogue": analyte_catalogue_get()},
    )
    if not serializer.is_valid():
        _add_errors(form, _flatten(serializer.errors), "the correction is not valid")
        return False
    try:
        amended = panel_amend(
            panel_id=panel.pk,
            user=request.user,  # type: ignore[arg-type]
            corrections=serializer.corrections(),
            reason=serializer.validated_data["reason"],
            kind=CORRECTION,
            intake="web",
        )
    except (InvalidInput, NotReady) as error:
        _add_errors(form, error.details, error.message)
        if isinstance(error, NotReady):
            form.add_error(None, error.message)
        return False
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    messages.success(
        request,
        f"Corrected: the amended report ({amended.report.pk}) is being prepared; the earlier "
        "report is kept.",
    )
    return True


@login_required
def correction_page(request: HttpRequest, pk: int) -> HttpResponse:
    panel = lab_panel_get(request, pk)
    try:
        access.amend_check(request.user, lab_id=panel.lab_id, submitted_by_id=panel.submitted_by_id)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    results = list(
        Result.objects.current().filter(panel=panel).select_related("analyte").order_by("position")
    )
    units = {result.analyte.code: result.unit for result in results}
    form = CorrectionForm(
        initial={"unit": results[0].unit if results else ""},
        results=results,
    )
    if request.method == "POST":
        form = CorrectionForm(request.POST, results=results)
        if form.is_valid() and _amend(request, panel, form):
            return redirect("lab_panels:detail", pk=panel.pk)
    response = render(
        request,
        "panels/correct.html",
        {"panel": panel, "form": form, "units": units},
    )
    read_record(request=request, patient_ids=[panel.patient_id], panel_ids=[panel.pk])
    return response


app_name = "corrections"
urlpatterns = [path("panels/<int:pk>/correct/", correction_page, name="correct")]
