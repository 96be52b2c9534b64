"""The lab's review and release settings: safe defaults, edited by the lab's own director in
the admin; and the review vocabulary ``access`` scopes by agrees with the records'."""

from __future__ import annotations

import pytest
from django.test import Client

from labpanel.accounts import access
from labpanel.accounts.models import Lab, StaffMember
from panels.models import ReviewState
from reports.models import ReportStage
from tests.factories import make_lab

pytestmark = pytest.mark.django_db

URL = "/admin/accounts/lab/"


def test_a_new_lab_has_the_safe_defaults(lab: Lab) -> None:
    assert (
        lab.technicians_may_verify,
        lab.technicians_may_release,
        lab.self_verification_allowed,
        lab.auto_verification_enabled,
        lab.preliminary_reports_to_clinicians,
    ) == (True, False, False, False, False)


def test_a_director_changes_their_own_labs_review_settings_only(
    director_browser: Client, director: StaffMember
) -> None:
    lab = director.lab
    other = make_lab(name="Elsewhere")
    form = {
        "technicians_may_verify": "on",
        "technicians_may_release": "on",
        "auto_verification_enabled": "on",
        "critical_ack_limit_minutes": "15",  # required by the critical-results fieldset
    }

    listing = director_browser.get(URL)
    changed = director_browser.post(f"{URL}{lab.pk}/change/", {**form, "name": "Renamed"})
    refused = director_browser.post(f"{URL}{other.pk}/change/", form)

    assert listing.status_code == 200
    assert lab.name in listing.content.decode()
    assert "Elsewhere" not in listing.content.decode()
    assert changed.status_code == 302
    lab.refresh_from_db()
    assert lab.name == "Test Laboratory"  # the lab's identity is the operator's
    assert (
        lab.technicians_may_verify,
        lab.technicians_may_release,
        lab.self_verification_allowed,
        lab.auto_verification_enabled,
        lab.preliminary_reports_to_clinicians,
    ) == (True, True, False, True, False)
    assert refused.status_code == 302  # to the admin index: not one of the director's labs
    other.refresh_from_db()
    assert other.technicians_may_release is False
    assert director_browser.get(f"{URL}add/").status_code == 403


def test_a_technician_has_no_lab_admin(technician: StaffMember) -> None:
    technician.user.is_staff = True
    technician.user.save()
    client = Client()
    client.force_login(technician.user)

    assert client.get(URL).status_code == 403


def test_the_review_vocabulary_of_access_agrees_with_the_records() -> None:
    assert access.PANEL_RELEASED == ReviewState.RELEASED
    assert access.REPORT_PRELIMINARY == ReportStage.PRELIMINARY
    assert [str(stage) for stage in ReportStage] == ["preliminary", "final", "corrected"]
