"""A lab says what its generic "plasma" is: in the admin, by its director, and the next panel of
generic plasma is judged accordingly (issue 11, item 8)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.exceptions import InvalidInput, NotAllowed
from reference_ranges.models import LabSpecimenSetting
from reference_ranges.services import lab_specimen_setting_change
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

URL = "/admin/reference_ranges/labspecimensetting/"


def _interpretations(client: APIClient, payload: dict[str, Any]) -> dict[str, Any]:
    payload["results"] = [
        {"analyte": "IL-6", "value": "5000", "unit": "pg/mL"},
        {"analyte": "CXCL9", "value": "800", "unit": "pg/mL"},
    ]
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    return {
        result["analyte"]: (result["interpretation"], result["interpretation_reason"])
        for result in response.json()["results"]
    }


def test_a_director_says_in_the_admin_that_the_labs_plasma_is_edta_and_the_next_panel_follows(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    # given: the lab's generic plasma is heparin plasma (the ARUP tube)
    director.user.is_staff = True
    director.user.save()
    browser = Client()
    browser.force_login(director.user)
    setting = LabSpecimenSetting.objects.get(lab=director.lab)
    before = _interpretations(technician_client, {**panel_payload, "accession": "A-1"})

    # when
    response = browser.post(
        f"{URL}{setting.pk}/change/", {"plasma_anticoagulant": "plasma_edta"}, follow=True
    )
    after = _interpretations(technician_client, {**panel_payload, "accession": "A-2"})

    # then
    assert response.status_code == 200
    setting.refresh_from_db()
    assert (setting.plasma_anticoagulant, setting.changed_by) == ("plasma_edta", director.user)
    assert before["IL6"][0] == "H"
    assert before["CXCL9"] == (
        None,
        "no reference interval for plasma: the interval applies to EDTA plasma, and the lab's "
        "plasma is heparin plasma",
    )
    assert after["IL6"] == (
        None,
        "no reference interval for plasma: the interval applies to heparin plasma, and the "
        "lab's plasma is EDTA plasma",
    )
    assert after["CXCL9"][0] == "H"


def test_only_the_labs_director_changes_what_its_plasma_is(director: StaffMember) -> None:
    technician = make_staff(username="bench", lab=director.lab, role=Role.TECHNICIAN)
    other = make_staff(username="elsewhere", lab=make_lab(), role=Role.DIRECTOR)

    for user in (technician.user, other.user):
        with pytest.raises(NotAllowed):
            lab_specimen_setting_change(lab=director.lab, plasma_anticoagulant="", changed_by=user)

    assert LabSpecimenSetting.objects.get(lab=director.lab).plasma_anticoagulant == (
        "plasma_heparin"
    )


def test_an_unknown_anticoagulant_is_refused(director: StaffMember) -> None:
    with pytest.raises(InvalidInput):
        lab_specimen_setting_change(
            lab=director.lab, plasma_anticoagulant="serum", changed_by=director.user
        )
