"""What the inbox lists, against ``access.reports_scope``: for every role, with and without
preliminary reports sent to clinicians. The inbox lists the reports addressed to the reader: for
a clinician, the newest report of each panel they ordered that ``access.reports_scope`` lets them
open — a subset of what it lets them open, which reaches the panels other clinicians ordered for
a patient in their care; for the other roles, the newest report per panel of the reports
``access.reports_scope`` gives. ``access.inbox_scope``'s entries and the rows
``reports.inbox.inbox_rows`` lists agree with this.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts import access
from labpanel.accounts.models import Lab, Role, StaffMember
from panels.models import Panel
from reports.inbox import inbox_rows
from reports.models import InboxEntry, Report
from reports.services import report_render
from tests.conftest import token_client
from tests.factories import make_lab, make_staff, make_user
from tests.reports.test_inbox import released
from tests.reports.test_release import amend

pytestmark = pytest.mark.django_db


def _post(
    client: APIClient,
    payload: dict[str, Any],
    number: int,
    clinician: str,
    *,
    patient: int | None = None,
) -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = f"S-{number}"
    body["patient"]["mrn"] = f"SCOPE-{patient or number}"
    body["ordering_clinician"] = clinician
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def _newest_visible(user: Any, *, ordered_only: bool = False) -> set[int]:
    """The newest report per panel of those ``reports_scope`` lets ``user`` open (with
    ``ordered_only``, of the panels ``user`` ordered)."""
    reports = Report.objects.filter(access.reports_scope(user))
    if ordered_only:
        reports = reports.filter(panel__ordering_clinician_id=user.pk)
    newest: dict[int, int] = {}
    for report_id, panel_id in reports.values_list("pk", "panel_id"):
        newest[panel_id] = max(report_id, newest.get(panel_id, 0))
    return set(newest.values())


@pytest.fixture
def everyone(
    technician_client: APIClient,
    technician: StaffMember,
    director: StaffMember,
    clinician: StaffMember,
    other_clinician: StaffMember,
    integrator: StaffMember,
    lab: Lab,
    panel_payload: dict[str, Any],
) -> dict[str, Any]:
    """Panels in every state, by two submitters, for two clinicians; and one user per role
    (with an outsider and a clinician of another lab)."""
    house, wilson = clinician.user.username, other_clinician.user.username
    interface = token_client(integrator)
    released(_post(technician_client, panel_payload, 1, house), director)
    corrected = _post(technician_client, panel_payload, 2, house)
    report_render(report_id=released(corrected, director).pk)
    assert amend(technician_client, corrected, "1.9").status_code == 201
    _post(technician_client, panel_payload, 3, house)  # preliminary only
    amended_early = _post(technician_client, panel_payload, 4, house)
    report_render(report_id=amended_early.reports.get().pk)
    assert amend(technician_client, amended_early, "2.0").status_code == 201  # before release
    released(_post(technician_client, panel_payload, 5, wilson), director)
    released(_post(interface, panel_payload, 6, house), director)
    _post(interface, panel_payload, 7, wilson)
    # dr.house's released panel of dr.wilson's patient (S-5's): each clinician now opens the
    # other's panel of that patient, which stays out of their inbox
    released(_post(technician_client, panel_payload, 8, house, patient=5), director)
    elsewhere = make_lab(name="Elsewhere")
    return {
        "lab": lab,
        "users": {
            "technician": technician.user,
            "director": director.user,
            "clinician": clinician.user,
            "other clinician": other_clinician.user,
            "integrator": integrator.user,
            "clinician of another lab": make_staff(
                username="dr.cuddy", lab=elsewhere, role=Role.CLINICIAN
            ).user,
            "no role": make_user("visitor"),
        },
    }


CLINICIANS = frozenset({"clinician", "other clinician", "clinician of another lab"})


@pytest.mark.parametrize("preliminaries_sent", [False, True])
def test_the_inbox_lists_the_reports_addressed_to_the_reader_within_reports_scope(
    everyone: dict[str, Any], preliminaries_sent: bool
) -> None:
    lab = everyone["lab"]
    lab.preliminary_reports_to_clinicians = preliminaries_sent
    lab.save()

    seen, opened = {}, {}
    for role, user in everyone["users"].items():
        access.staff_forget(user)
        may_open = _newest_visible(user)
        expected = _newest_visible(user, ordered_only=role in CLINICIANS)
        entries = set(
            InboxEntry.objects.filter(access.inbox_scope(user)).values_list("report_id", flat=True)
        )
        listed = {row["report_id"] for row in inbox_rows(user=user).rows}
        assert entries == expected, role
        assert listed == expected, role
        assert entries <= may_open, role
        seen[role], opened[role] = len(expected), len(may_open)

    # the fixture's panels: 8 in the lab, 6 of them ordered by dr.house (2 of those unreleased),
    # 2 submitted by the interface
    assert seen == {
        "technician": 8,
        "director": 8,
        "clinician": 6 if preliminaries_sent else 4,
        "other clinician": 2 if preliminaries_sent else 1,
        "integrator": 2,
        "clinician of another lab": 0,
        "no role": 0,
    }
    # what each clinician may open beyond their inbox: the other's panel of the shared patient
    assert opened["clinician"] == seen["clinician"] + 1
    assert opened["other clinician"] == seen["other clinician"] + 1
