"""The queries of every FHIR read and search are pinned, and do not grow with the number of
resources answered (a search of 2 and of 20 reports costs the same)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from panels.models import Panel, Result
from reports.models import StoredDiagnosticReport
from tests.conftest import token_client
from tests.fhir.conftest import fhir, submit

pytestmark = pytest.mark.django_db

# the token and its user, staff and lab (one statement), then the FHIR reads, then the audit
# entry's INSERT
READS = {
    "Patient": 3,  # token, patient (scope subquery), audit
    "Specimen": 3,  # token, panel with its clinician, audit
    "ServiceRequest": 3,
    "Observation": 3,  # token, result with panel, analyte, rule, replaced result, audit
    "DiagnosticReport": 5,  # token, report with panel and lab, results, findings, audit
}
SEARCHES = {
    "Patient": 4,  # token, count, page, audit
    "Specimen": 4,
    "ServiceRequest": 4,
    "Observation": 4,
    # a DiagnosticReport search whose reports' stored resources are missing (each search
    # below starts with none: ``_fresh``): token, the count with the page and its stored
    # resources, the reports with their panels, their findings, their results, the upsert of
    # their stored resources (in a savepoint here: two statements more), audit
    "DiagnosticReport": 9,
    "DiagnosticReport?_include=DiagnosticReport:result": 9,
    # the same, the stored resources current: token, the count with the page and them, audit
    "DiagnosticReport?_count=100&stored": 3,
    "DiagnosticReport?_include=DiagnosticReport:result&stored": 3,
}


def _panels(client: APIClient, payload: dict[str, Any], count: int, start: int = 0) -> list[Panel]:
    return [submit(client, payload, f"A-{start + n}") for n in range(count)]


def _ids(panel: Panel) -> dict[str, int]:
    result = Result.objects.filter(panel=panel).first()
    assert result is not None
    return {
        "Patient": panel.patient_id,
        "Specimen": panel.pk,
        "ServiceRequest": panel.pk,
        "Observation": result.pk,
        "DiagnosticReport": panel.reports.get().pk,
    }


def test_reads_are_pinned(
    technician_client: APIClient, panel_payload: dict[str, Any], django_assert_num_queries: Any
) -> None:
    (panel,) = _panels(technician_client, panel_payload, 1)
    for kind, pk in _ids(panel).items():
        with django_assert_num_queries(READS[kind]):
            fhir(technician_client, f"/fhir/{kind}/{pk}")


def _url(query: str) -> str:
    """The search ``query`` names: its reports' stored resources removed first unless it ends
    in ``&stored`` (then the previous search stored them)."""
    if query.endswith("&stored"):
        query = query.removesuffix("&stored")
    else:
        StoredDiagnosticReport.objects.all().delete()
    if "_count=" in query:
        return f"/fhir/{query}"
    return f"/fhir/{query}{'&' if '?' in query else '?'}_count=100"


def _total(query: str, panels: int) -> int:
    """Every panel is the same patient's (MRN-77), with two results and one report."""
    return {"Patient": 1, "Observation": 2 * panels}.get(query, panels)


def test_searches_cost_the_same_for_2_and_20_reports(
    technician_client: APIClient, panel_payload: dict[str, Any], django_assert_num_queries: Any
) -> None:
    _panels(technician_client, panel_payload, 2)
    for query, queries in SEARCHES.items():
        url = _url(query)
        with django_assert_num_queries(queries):
            bundle = fhir(technician_client, url)
        assert bundle["total"] == _total(query, 2), query

    _panels(technician_client, panel_payload, 18, start=2)
    for query, queries in SEARCHES.items():
        url = _url(query)
        with django_assert_num_queries(queries):
            bundle = fhir(technician_client, url)
        assert bundle["total"] == _total(query, 20), query
        assert len(bundle["entry"]) >= _total(query, 20), query


def test_a_clinicians_searches_cost_the_same_for_2_and_20_reports(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    clinician: StaffMember,
    django_assert_num_queries: Any,
) -> None:
    # the lab sends preliminary reports: dr.house, who ordered them, sees every panel
    lab = clinician.lab
    lab.preliminary_reports_to_clinicians = True
    lab.save()
    house = token_client(clinician)
    # a clinician's scope is a subquery: no query of its own (the page's history facts, read
    # for the findings measured against earlier panels, are one more query only where the
    # panels' snapshots show earlier panels: none here, without an anchoring event)
    queries = SEARCHES
    _panels(technician_client, panel_payload, 2)
    for query, count in queries.items():
        url = _url(query)
        with django_assert_num_queries(count):
            assert fhir(house, url)["total"] == _total(query, 2), query
    _panels(technician_client, panel_payload, 18, start=2)
    for query, count in queries.items():
        url = _url(query)
        with django_assert_num_queries(count):
            assert fhir(house, url)["total"] == _total(query, 20), query


def test_observations_do_not_read_the_panels_json_snapshots(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    """An Observation shows a few of its panel's columns: the panel's serial snapshot, summary
    and clinical inputs (JSON, decoded per result) are never read for it, nor the analyte's
    aliases and units."""
    (panel,) = _panels(technician_client, panel_payload, 1)
    result = Result.objects.filter(panel=panel).first()
    assert result is not None
    unread = ('"serial"', '"summary"', '"clinical"', '"aliases"', '"allowed_units"')
    for url in ("/fhir/Observation?_count=100", f"/fhir/Observation/{result.pk}"):
        with CaptureQueriesContext(connection) as captured:
            fhir(technician_client, url)
        for query in captured.captured_queries:
            assert not any(column in query["sql"] for column in unread), (url, query["sql"])


def test_searches_without_a_total_count_nothing(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    """``_total=none``: the count's statement is gone (the page reads one row more instead),
    and the stored DiagnosticReport search's one statement counts nothing."""
    _panels(technician_client, panel_payload, 3)
    fhir(technician_client, "/fhir/DiagnosticReport?_include=DiagnosticReport:result")
    without = {  # token, page, audit
        "Patient": 3,
        "Specimen": 3,
        "ServiceRequest": 3,
        "Observation": 3,
        "DiagnosticReport?_include=DiagnosticReport:result": 3,  # its resources stored above
    }
    for query, queries in without.items():
        url = f"/fhir/{query}{'&' if '?' in query else '?'}_count=2&_total=none"
        with CaptureQueriesContext(connection) as captured:
            bundle = fhir(technician_client, url)
        assert len(captured) == queries, (query, [q["sql"] for q in captured])
        assert not any("COUNT(" in q["sql"].upper() for q in captured), query
        assert "total" not in bundle
        assert bundle["entry"], query  # (one patient: every panel is MRN-77's)
