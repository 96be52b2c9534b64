"""Helpers of the FHIR tests: panels posted through the API as a technician (the realistic
path), released by the director, and every FHIR answer parsed by the R4 models
(fhir.resources 6.x: FHIR 4.0.1)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from fhir.resources import construct_fhir_element
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel
from reports.models import Report
from reports.services import report_render
from tests.conftest import token_client

FHIR_JSON = "application/fhir+json"


def r4_checked(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` after the R4 model parsed it (and each entry of a Bundle on its own)."""
    construct_fhir_element(body["resourceType"], copy.deepcopy(body))
    for entry in body.get("entry", []):
        construct_fhir_element(entry["resource"]["resourceType"], copy.deepcopy(entry["resource"]))
    return body


def fhir(client: APIClient, url: str, status: int = 200, **extra: Any) -> dict[str, Any]:
    """GET ``url``: the answer's status and media type checked, its body parsed (numbers as
    Decimals, as written) and validated by the R4 models."""
    response = client.get(url, **extra)
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(FHIR_JSON)
    body = json.loads(response.content, parse_float=Decimal)
    if status >= 400:
        assert body["resourceType"] == "OperationOutcome"
    return r4_checked(body)


def submit(
    client: APIClient,
    payload: dict[str, Any],
    accession: str,
    results: list[dict[str, str]] | None = None,
    **changes: Any,
) -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = accession
    if results is not None:
        body["results"] = results
    body.update(changes)
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def release(panel: Panel, director: StaffMember) -> Report:
    client = token_client(director)
    assert client.post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200
    response = client.post(f"/api/v1/panels/{panel.pk}/release/")
    assert response.status_code == 202, response.json()
    report = Report.objects.get(pk=response.json()["report"]["id"])
    report_render(report_id=report.pk)  # the worker's part: drawn, so it may be amended
    report.refresh_from_db()
    return report


def amend(client: APIClient, panel: Panel, results: list[dict[str, str]], **body: Any) -> Any:
    response = client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {"reason": "Transcription error", "results": results, **body},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def entries(bundle: dict[str, Any], mode: str = "match") -> list[dict[str, Any]]:
    return [
        entry["resource"] for entry in bundle.get("entry", []) if entry["search"]["mode"] == mode
    ]


@pytest.fixture
def director_client(director: StaffMember) -> APIClient:
    return token_client(director)
