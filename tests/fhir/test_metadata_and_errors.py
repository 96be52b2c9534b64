"""The CapabilityStatement, and every refusal as an OperationOutcome with its HTTP status."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember, TokenScope
from labpanel.accounts.services import api_token_issue
from tests.fhir.conftest import fhir

pytestmark = pytest.mark.django_db


def test_metadata_states_r4_json_the_resources_and_their_search_parameters() -> None:
    body = fhir(APIClient(), "/fhir/metadata")

    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    assert body["format"] == ["application/fhir+json"]
    rest = body["rest"][0]
    assert "strict" in rest["documentation"]
    kinds = {resource["type"]: resource for resource in rest["resource"]}
    assert set(kinds) == {
        "Patient",
        "Specimen",
        "ServiceRequest",
        "Observation",
        "DiagnosticReport",
    }
    observation = {param["name"] for param in kinds["Observation"]["searchParam"]}
    assert {"subject", "patient", "code", "date", "status", "_count", "_id"} <= observation
    assert kinds["DiagnosticReport"]["searchInclude"] == ["DiagnosticReport:result"]


def test_without_credentials_reads_answer_401(technician_client: APIClient) -> None:
    body = fhir(APIClient(), "/fhir/Observation", status=401)
    assert body["issue"][0]["code"] == "login"
    response = APIClient().get("/fhir/Patient/1")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_a_token_without_the_read_scope_answers_403(technician: StaffMember) -> None:
    # given: a technician's token that may submit results but not read them
    client = APIClient()
    token = api_token_issue(
        user=technician.user, expires_in=None, scopes=[TokenScope.RESULTS_SUBMIT]
    )
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    # when, then: refused, as an OperationOutcome that names the scope
    for url in ("/fhir/Observation", "/fhir/Patient/1", "/fhir/DiagnosticReport"):
        body = fhir(client, url, status=403)
        assert "results:read" in body["issue"][0]["diagnostics"]


def test_a_bad_token_answers_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token nonsense")
    fhir(client, "/fhir/Observation", status=401)


def test_unknown_search_parameters_and_bad_values_answer_400(technician_client: APIClient) -> None:
    for url in (
        "/fhir/Observation?foo=1",
        "/fhir/Observation?code:text=IL6",
        "/fhir/Observation?date=sa2026-01-01",
        "/fhir/Observation?date=yesterday",
        "/fhir/Observation?_count=0",
        "/fhir/Observation?_count=abc",
        "/fhir/Observation?status=registered",
        "/fhir/Observation?subject=Practitioner/1",
        "/fhir/Patient?code=x",
        "/fhir/Observation?_include=DiagnosticReport:result",
        "/fhir/DiagnosticReport?_include=DiagnosticReport:subject",
        "/fhir/Observation?_format=xml",
    ):
        body = fhir(technician_client, url, status=400)
        assert body["issue"][0]["severity"] == "error", url


def test_unknown_resources_and_ids_answer_404(technician_client: APIClient) -> None:
    fhir(technician_client, "/fhir/Encounter/1", status=404)
    fhir(technician_client, "/fhir/Encounter", status=404)
    fhir(technician_client, "/fhir/Observation/999999", status=404)
    fhir(technician_client, "/fhir/Observation/abc", status=404)
    fhir(technician_client, "/fhir/Patient/1/_history", status=404)


def test_writes_answer_405(technician_client: APIClient) -> None:
    response = technician_client.post("/fhir/Observation", {}, format="json")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("application/fhir+json")
    assert response.json()["resourceType"] == "OperationOutcome"
    assert technician_client.delete("/fhir/Patient/1").status_code == 405


def test_a_session_user_without_a_lab_sees_an_empty_searchset(db: None) -> None:
    from tests.factories import make_user

    client = Client()
    client.force_login(make_user("nobody"))
    response = client.get("/fhir/Observation")
    # authenticated but no membership: nothing visible (an empty searchset), never an error
    assert response.status_code == 200
    assert response.json()["total"] == 0
