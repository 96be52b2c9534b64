"""Limits on what the API takes (issue 13, "Limits on every input", the first of them): JSON
nested too deeply is a 400 that says why; no page is longer than the maximum ``limit``; an HL7
body over the limit is a 413 and one in a character set HL7 does not name a 400, nothing
archived; a result list over the limit is refused before any item is validated; and an
identical re-send of a panel the caller may not see is a 404 like any unseen object."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.pagination import MAX_LIMIT, LabpanelPagination
from panels.intake.hl7.views import MAX_BODY_BYTES
from panels.models import InboundMessage, Panel
from tests.conftest import token_client
from tests.factories import make_staff
from tests.messaging.test_hl7_http import ER7, integrator_client, oru  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def test_json_nested_100000_deep_is_a_400_and_stores_nothing(
    technician_client: APIClient,
) -> None:
    body = "[" * 100_000 + "]" * 100_000

    response = technician_client.post("/api/v1/panels/", body, content_type="application/json")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]
    assert not Panel.objects.exists()


@pytest.mark.parametrize(("asked", "given"), [("10", 10), ("100000", MAX_LIMIT), ("", 50)])
def test_a_page_is_never_longer_than_the_maximum_limit(asked: str, given: int) -> None:
    query = {"limit": asked} if asked else {}
    request = Request(APIRequestFactory().get("/api/v1/panels/", query))

    assert LabpanelPagination().get_limit(request) == given


def test_every_list_of_the_api_uses_the_bounded_pagination(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    technician_client.post("/api/v1/panels/", panel_payload, format="json")

    answer = technician_client.get("/api/v1/panels/", {"limit": "100000"}).json()

    assert answer["count"] == 1
    assert len(answer["results"]) == 1
    schema = technician_client.get("/api/v1/schema/", {"format": "json"}).json()
    limit = next(
        parameter
        for parameter in schema["paths"]["/api/v1/panels/"]["get"]["parameters"]
        if parameter["name"] == "limit"
    )
    assert limit["schema"]["type"] == "integer"


def test_an_identical_resend_of_a_panel_the_caller_cannot_see_is_a_404(
    integrator: StaffMember, clinician: StaffMember, lab: Lab, panel_payload: dict[str, Any]
) -> None:
    first = token_client(integrator).post("/api/v1/panels/", panel_payload, format="json")
    assert first.status_code == 201, first.json()
    # another interface of the same lab sees only the panels it submitted
    other = make_staff(username="engine.two", lab=lab, role=Role.INTEGRATOR)

    again = token_client(other).post("/api/v1/panels/", panel_payload, format="json")
    mine = token_client(integrator).post("/api/v1/panels/", panel_payload, format="json")

    assert again.status_code == 404
    assert "MRN-77" not in again.content.decode()
    assert mine.status_code == 200
    assert mine.json()["accession"] == panel_payload["accession"]
    assert Panel.objects.count() == 1


def test_an_hl7_body_over_the_limit_is_a_413_and_nothing_is_archived(
    integrator_client: APIClient,  # noqa: F811 - the fixture imported above
    clinician: StaffMember,
) -> None:
    message = oru().encode()
    body = message + b"\rNTE|1||" + b"x" * (MAX_BODY_BYTES - len(message))

    response = integrator_client.post("/api/v1/hl7/", data=body, content_type=ER7)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not InboundMessage.objects.exists()
    assert not Panel.objects.exists()


@pytest.mark.parametrize("charset", ["unicode_escape", "utf-16", "rot13", "no-such-charset"])
def test_hl7_over_http_decodes_only_a_character_set_hl7_names(
    integrator_client: APIClient,  # noqa: F811 - the fixture imported above
    clinician: StaffMember,
    charset: str,
) -> None:
    response = integrator_client.post(
        "/api/v1/hl7/", data=oru().encode(), content_type=f"{ER7}; charset={charset}"
    )

    assert response.status_code == 400
    assert "is not a character set HL7 names" in response.json()["message"]
    assert not InboundMessage.objects.exists()


def test_hl7_over_http_still_takes_the_character_sets_hl7_names(
    integrator_client: APIClient,  # noqa: F811 - the fixture imported above
    clinician: StaffMember,
) -> None:
    for charset in ("utf-8", "ISO-8859-1", "latin1", "ascii"):
        response = integrator_client.post(
            "/api/v1/hl7/", data=oru().encode(), content_type=f"{ER7}; charset={charset}"
        )
        assert response.status_code == 200, (charset, response.content)


def test_a_result_list_over_the_limit_is_refused_before_any_item_is_validated(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    # 40,000 items, each invalid: validated one by one they would give 40,000 errors
    panel_payload["results"] = [{}] * 40_000

    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == 400
    assert response.json()["details"] == [
        {"field": "results", "message": "Ensure this field has no more than 200 elements."}
    ]
    assert not Panel.objects.exists()
