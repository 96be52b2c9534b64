"""The panels list's filters (``panels.intake.filters``): each narrows the page to the panels
it names, together they combine, a value it cannot read is a 400, and a filtered page costs
the statements an unfiltered one does (the token, the count, the page, the read audit)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Result

pytestmark = pytest.mark.django_db


def _submit(client: APIClient, payload: dict[str, Any], **changes: Any) -> int:
    body = copy.deepcopy(payload)
    body["accession"] = changes["accession"]
    body["patient"]["mrn"] = changes["mrn"]
    body["specimen"]["collected_at"] = changes["collected_at"]
    if "il6" in changes:
        body["results"][0]["value"] = changes["il6"]
    answer = client.post("/api/v1/panels/", body, format="json")
    assert answer.status_code == 201, answer.json()
    return int(answer.json()["id"])


@pytest.fixture
def three(technician_client: APIClient, panel_payload: dict[str, Any]) -> dict[str, int]:
    return {
        "early": _submit(
            technician_client,
            panel_payload,
            accession="F-1",
            mrn="MRN-1",
            collected_at="2026-03-01T08:00:00Z",
        ),
        "late": _submit(
            technician_client,
            panel_payload,
            accession="F-2",
            mrn="MRN-1",
            collected_at="2026-03-10T08:00:00Z",
        ),
        "other": _submit(
            technician_client,
            panel_payload,
            accession="F-3",
            mrn="MRN-2",
            collected_at="2026-03-05T08:00:00Z",
            il6="900",
        ),
    }


def _ids(client: APIClient, query: str) -> set[int]:
    answer = client.get(f"/api/v1/panels/?{query}")
    assert answer.status_code == 200, answer.json()
    return {row["id"] for row in answer.json()["results"]}


def test_each_filter_narrows_the_list(
    technician_client: APIClient, three: dict[str, int], clinician: StaffMember
) -> None:
    early, late, other = three["early"], three["late"], three["other"]
    assert _ids(technician_client, "") == {early, late, other}
    assert _ids(technician_client, "mrn=MRN-1") == {early, late}
    assert _ids(technician_client, "accession=F-3") == {other}
    assert _ids(technician_client, "collected_after=2026-03-04T00:00:00Z") == {late, other}
    assert _ids(
        technician_client,
        "collected_after=2026-03-04T00:00:00Z&collected_before=2026-03-06T00:00:00Z",
    ) == {other}
    high = set(
        Result.objects.filter(interpretation__in=["H", "HH"]).values_list("panel_id", flat=True)
    )
    assert high  # IL-6 at 900 pg/mL is above its interval
    assert (
        _ids(technician_client, "interpretation=HH") | _ids(technician_client, "interpretation=H")
        == high
    )
    assert _ids(technician_client, "ordering_clinician=dr.house") == {early, late, other}
    assert _ids(technician_client, "ordering_clinician=nobody") == set()
    assert _ids(technician_client, "report_status=pending") == {early, late, other}
    assert _ids(technician_client, "report_status=failed") == set()
    assert _ids(technician_client, "finding=HLH_2004") == set()  # not met without clinical data
    assert _ids(technician_client, "mrn=MRN-1&accession=F-2") == {late}


def test_a_filter_value_it_cannot_read_is_a_400(
    technician_client: APIClient, three: dict[str, int]
) -> None:
    for query in ("interpretation=XX", "report_status=lost", "collected_after=yesterday"):
        answer = technician_client.get(f"/api/v1/panels/?{query}")
        assert answer.status_code == 400, query
        assert answer.json()["code"] == "invalid"


def test_a_filtered_page_costs_what_an_unfiltered_one_does(
    technician_client: APIClient, three: dict[str, int], django_assert_num_queries: Any
) -> None:
    technician_client.get("/api/v1/panels/")
    # the token with its user and membership, the count, the page, the read audit's entry
    with django_assert_num_queries(4):
        answer = technician_client.get(
            "/api/v1/panels/?mrn=MRN-1&report_status=pending&interpretation=N"
            "&collected_after=2026-01-01T00:00:00Z&ordering_clinician=dr.house"
        )
    assert answer.status_code == 200


def test_the_filters_are_in_the_schema(technician_client: APIClient) -> None:
    schema = technician_client.get("/api/v1/schema/?format=json").json()
    names = {p["name"] for p in schema["paths"]["/api/v1/panels/"]["get"]["parameters"]}
    assert {
        "mrn",
        "accession",
        "collected_after",
        "collected_before",
        "interpretation",
        "finding",
        "report_status",
        "ordering_clinician",
    } <= names
