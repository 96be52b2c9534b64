"""Who sees what: anything outside a user's view is 404, never 403, so existence does not leak."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.accounts.services import api_token_issue, api_tokens_revoke
from panels.models import Panel
from reports.models import Report
from tests.conftest import token_client
from tests.factories import make_lab, make_staff, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(technician_client: APIClient, panel_payload: dict[str, Any]) -> dict[str, Any]:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201
    return dict(response.json())


def _urls(submitted: dict[str, Any]) -> list[str]:
    report_id = submitted["report"]["id"]
    return [
        f"/api/v1/panels/{submitted['id']}/",
        f"/api/v1/reports/{report_id}/",
        f"/api/v1/reports/{report_id}/pdf/",
    ]


def test_ordering_clinician_sees_their_panel_where_the_lab_sends_preliminaries(
    submitted: dict[str, Any], clinician: StaffMember
) -> None:
    clinician.lab.preliminary_reports_to_clinicians = True
    clinician.lab.save()
    client = token_client(clinician)

    detail = client.get(f"/api/v1/panels/{submitted['id']}/")
    listing = client.get("/api/v1/panels/")

    assert detail.status_code == 200
    assert detail.json()["accession"] == "A-1001"
    assert [panel["id"] for panel in listing.json()["results"]] == [submitted["id"]]


def test_another_clinician_cannot_see_the_panel_or_its_report(
    submitted: dict[str, Any], other_clinician: StaffMember
) -> None:
    client = token_client(other_clinician)

    for url in _urls(submitted):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"code": "not_found", "message": "Not found.", "details": []}
    assert client.get("/api/v1/panels/").json()["results"] == []


def test_technician_and_director_of_the_lab_see_its_panels(
    submitted: dict[str, Any], technician: StaffMember, director: StaffMember
) -> None:
    for staff in (technician, director):
        response = token_client(staff).get(f"/api/v1/panels/{submitted['id']}/")
        assert response.status_code == 200


def test_staff_of_another_lab_see_nothing(submitted: dict[str, Any]) -> None:
    other_lab = make_lab()
    for role in Role.values:
        staff = make_staff(username=f"other-{role}", lab=other_lab, role=role)
        client = token_client(staff)
        for url in _urls(submitted):
            assert client.get(url).status_code == 404, (role, url)


def test_integrator_sees_only_what_it_submitted(
    reference_data: None,
    submitted: dict[str, Any],
    integrator: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    client = token_client(integrator)
    panel_payload["accession"] = "A-2002"
    own = client.post("/api/v1/panels/", panel_payload, format="json")

    assert own.status_code == 201
    assert client.get(f"/api/v1/panels/{own.json()['id']}/").status_code == 200
    assert client.get(f"/api/v1/panels/{submitted['id']}/").status_code == 404
    assert [p["accession"] for p in client.get("/api/v1/panels/").json()["results"]] == ["A-2002"]


def test_clinician_may_not_submit_and_nothing_is_stored(
    reference_data: None, clinician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    response = token_client(clinician).post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Panel.objects.count() == 0
    assert Report.objects.count() == 0


def test_user_without_a_lab_role_sees_nothing(submitted: dict[str, Any]) -> None:
    client = APIClient()
    client.force_authenticate(make_user("visitor"))

    assert client.get(f"/api/v1/panels/{submitted['id']}/").status_code == 404
    assert client.get("/api/v1/panels/").json()["results"] == []


def test_requests_without_a_valid_token_are_unauthorised(submitted: dict[str, Any]) -> None:
    anonymous = APIClient()
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Token " + "a" * 64)

    for client in (anonymous, forged):
        for url in _urls(submitted):
            assert client.get(url).status_code == 401, url


def test_expired_and_revoked_tokens_stop_working(
    submitted: dict[str, Any], clinician: StaffMember
) -> None:
    expired = token_client(clinician)
    AuthToken.objects.filter(user=clinician.user).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    revoked = token_client(clinician)
    api_tokens_revoke(user=clinician.user)

    assert expired.get(f"/api/v1/panels/{submitted['id']}/").status_code == 401
    assert revoked.get(f"/api/v1/panels/{submitted['id']}/").status_code == 401


def test_tokens_are_stored_hashed(clinician: StaffMember) -> None:
    token = api_token_issue(user=clinician.user, expires_in=timedelta(days=1))

    stored = AuthToken.objects.get(user=clinician.user)

    assert token not in stored.digest
    assert stored.token_key == token[:15]
    assert len(stored.digest) == 128
