"""The access module: one membership look-up per request, and its scopes on their own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labpanel.accounts import access
from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.exceptions import NotAllowed
from panels.models import Panel
from reports.models import Report
from tests.factories import make_lab, make_staff, make_user

pytestmark = pytest.mark.django_db

# The membership look-up: the staff row of one user (not the clinician list, which joins users).
MEMBERSHIP = re.compile(r'FROM "panels_staffmember".*WHERE "panels_staffmember"\."user_id" = ')


def _membership_queries(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in context.captured_queries if MEMBERSHIP.search(query["sql"])]


def test_a_panel_post_looks_the_membership_up_once(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    with CaptureQueriesContext(connection) as context:
        response = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == 201
    # read with the token and its user (labpanel.accounts.token_auth), never again
    assert len(_membership_queries(context)) == 0
    with_token = [
        query["sql"]
        for query in context.captured_queries
        if '"knox_authtoken"' in query["sql"] and '"panels_staffmember"' in query["sql"]
    ]
    assert len(with_token) == 1


def test_the_membership_is_kept_on_the_user_until_forgotten(technician: StaffMember) -> None:
    user = technician.user
    with CaptureQueriesContext(connection) as first:
        staff = access.staff_for(user)
        assert access.staff_for(user) is staff
    assert staff is not None
    assert staff.role == Role.TECHNICIAN
    assert len(_membership_queries(first)) == 1

    StaffMember.objects.filter(pk=technician.pk).update(role=Role.CLINICIAN)
    assert access.submitting_lab(user) == technician.lab  # still the answer kept on the user
    access.staff_forget(user)
    with pytest.raises(NotAllowed, match="only technicians, directors and integrators"):
        access.submitting_lab(user)


def test_someone_without_a_membership_is_refused_everything() -> None:
    user = make_user("no.membership")

    assert access.staff_for(user) is None
    assert not access.can_submit_panels(access.staff_for(user))
    assert Panel.objects.filter(access.panels_scope(user)).count() == 0
    for check in (access.submitting_lab, access.hl7_receiver_lab, access.importing_lab):
        with pytest.raises(NotAllowed):
            check(user)
    assert access.directed_lab_id(user) is None


def test_the_panel_scope_follows_the_role(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    lab: Lab,
    technician: StaffMember,
    clinician: StaffMember,
    director: StaffMember,
    integrator: StaffMember,
) -> None:
    assert (
        technician_client.post("/api/v1/panels/", panel_payload, format="json").status_code == 201
    )
    panel = Panel.objects.get()
    other_clinician = make_staff(username="dr.cuddy", lab=lab, role=Role.CLINICIAN)
    elsewhere = make_staff(username="far.tech", lab=make_lab(), role=Role.TECHNICIAN)

    def seen(staff: StaffMember) -> tuple[list[int], list[int]]:
        user = staff.user
        panels = list(Panel.objects.filter(access.panels_scope(user)).values_list("pk", flat=True))
        reports = Report.objects.filter(access.reports_scope(user))
        return panels, sorted({report.panel_id for report in reports})

    assert seen(technician) == ([panel.pk], [panel.pk])
    assert seen(director) == ([panel.pk], [panel.pk])
    assert seen(clinician) == ([], [])  # dr.house ordered it, but it is not released
    lab.preliminary_reports_to_clinicians = True
    lab.save()
    access.staff_forget(clinician.user)
    assert seen(clinician) == ([panel.pk], [panel.pk])  # the lab sends preliminaries
    assert seen(other_clinician) == ([], [])
    assert seen(integrator) == ([], [])  # submitted by the technician, not the interface
    assert seen(elsewhere) == ([], [])


def test_decisions_by_role(
    lab: Lab,
    technician: StaffMember,
    clinician: StaffMember,
    director: StaffMember,
    integrator: StaffMember,
) -> None:
    table = {
        technician: (True, False, True),
        clinician: (False, False, False),
        director: (True, True, True),
        integrator: (True, True, False),
    }
    for staff, (submit, hl7, imports) in table.items():
        assert access.can_submit_panels(staff) is submit, staff.role
        assert access.can_send_hl7(staff) is hl7, staff.role
        assert access.can_use_imports(staff) is imports, staff.role
    assert access.directed_lab_id(director.user) == lab.pk
    assert access.directed_lab_id(technician.user) is None
    assert access.admin_site_allowed(Role.DIRECTOR)
    assert not access.admin_site_allowed(Role.TECHNICIAN)
    assert [staff.user.username for staff in access.ordering_clinicians(lab_id=lab.pk)] == [
        "dr.house"
    ]
