"""The reference-ranges impact preview page: which stored interpretations a draft would change.

It reads the panels' stored results (``panels.ruleset_impact.ruleset_impact_preview``, the
service behind ``GET /api/v1/rulesets/{id}/impact/``), so it lives here, above the rule sets.
The same decision as the API: a director of the set's own lab (installation-wide sets are the
operator's); 404 for a set the user does not read.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

from labpanel.accounts import access
from labpanel.audit.services import read_record
from labpanel.exceptions import InvalidInput, NotAllowed
from panels.ruleset_impact import ruleset_impact_preview
from reference_ranges.selectors import ruleset_get

EXAMPLES_SHOWN = 50


@login_required
def impact_page(request: HttpRequest, pk: int) -> HttpResponse:
    ruleset = ruleset_get(pk=pk, user=request.user)
    if ruleset is None:
        raise Http404
    try:
        access.ruleset_manager_check(
            request.user, lab_id=ruleset.lab_id, installation_wide_allowed=False
        )
    except NotAllowed as error:
        raise PermissionDenied(error.message) from error
    preview, problem = None, ""
    try:
        preview = ruleset_impact_preview(candidate=ruleset, limit_examples=EXAMPLES_SHOWN)
    except InvalidInput as error:
        problem = error.message
    response = render(
        request,
        "panels/ruleset_impact.html",
        {"ruleset": ruleset, "preview": preview, "problem": problem},
    )
    examples = preview.examples if preview is not None else ()
    read_record(
        request=request,
        patient_ids=[example.patient_id for example in examples],
        panel_ids=[example.panel_id for example in examples],
    )
    return response


app_name = "ruleset_pages"
urlpatterns = [path("<int:pk>/impact/", impact_page, name="impact")]
