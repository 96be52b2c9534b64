"""``_total`` on every FHIR search: ``accurate`` (the default) and ``estimate`` give the exact
number of matches as Bundle.total; ``none`` leaves it out and counts nothing, and the ``next``
link still appears exactly when more matches follow, so a client paging through with it sees
every match once."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from panels.models import Panel
from reports.fhir import stored
from tests.fhir.conftest import fhir, submit

pytestmark = pytest.mark.django_db

KINDS = ("Patient", "Specimen", "ServiceRequest", "Observation", "DiagnosticReport")


@pytest.fixture
def panels(technician_client: APIClient, panel_payload: dict[str, Any]) -> list[Panel]:
    # each panel its own patient, so that every kind has five matches or more
    return [
        submit(
            technician_client,
            panel_payload,
            f"T-{n}",
            patient={**panel_payload["patient"], "mrn": f"MRN-T{n}"},
        )
        for n in range(5)
    ]


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["fullUrl"] for entry in bundle.get("entry", [])]


def _next(bundle: dict[str, Any]) -> str | None:
    for link in bundle["link"]:
        if link["relation"] == "next":
            parts = urlsplit(link["url"])
            return f"{parts.path}?{parts.query}"
    return None


@pytest.mark.parametrize("read_model", [True, False], ids=["stored", "built"])
@pytest.mark.parametrize("kind", KINDS)
def test_paging_without_a_total_sees_every_match_once(
    technician_client: APIClient,
    panels: list[Panel],
    kind: str,
    read_model: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not read_model:
        monkeypatch.setattr(stored, "read_model_available", lambda: False)
    everything = fhir(technician_client, f"/fhir/{kind}?_count=100")
    assert everything["total"] >= 5
    assert _next(everything) is None

    seen: list[str] = []
    url: str | None = f"/fhir/{kind}?_count=2&_total=none"
    pages = 0
    while url is not None:
        bundle = fhir(technician_client, url)
        assert "total" not in bundle
        seen += _ids(bundle)
        pages += 1
        url = _next(bundle)
    assert seen == _ids(everything)
    assert pages == -(-everything["total"] // 2)  # no empty page at the end

    # a page that ends exactly at the last match has no next link either
    last = fhir(
        technician_client, f"/fhir/{kind}?_count=2&_offset={everything['total'] - 2}&_total=none"
    )
    assert len(_ids(last)) == 2
    assert _next(last) is None


@pytest.mark.parametrize("kind", KINDS)
def test_estimate_and_accurate_give_the_exact_total(
    technician_client: APIClient, panels: list[Panel], kind: str
) -> None:
    default = fhir(technician_client, f"/fhir/{kind}?_count=2")
    for wanted in ("estimate", "accurate"):
        bundle = fhir(technician_client, f"/fhir/{kind}?_count=2&_total={wanted}")
        assert bundle["total"] == default["total"]
        assert _ids(bundle) == _ids(default)
        assert _next(bundle) is not None


def test_an_unknown_total_is_refused(technician_client: APIClient) -> None:
    outcome = fhir(technician_client, "/fhir/DiagnosticReport?_total=exact", status=400)
    assert "_total: one of accurate, estimate, none" in str(outcome["issue"])


def test_the_capability_statement_names_total(technician_client: APIClient) -> None:
    statement = fhir(technician_client, "/fhir/metadata")
    for resource in statement["rest"][0]["resource"]:
        names = [param["name"] for param in resource["searchParam"]]
        assert "_total" in names, resource["type"]
