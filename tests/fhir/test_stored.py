# ruff: noqa: F811 - the fixtures imported below are named as parameters
"""The FHIR server's stored resources (``reports.fhir.stored``): a DiagnosticReport search
answers, byte for byte, what building every resource from the records answers, to every role,
whether its stored rows are missing (the search builds and stores them), current (served) or
stale (built again); and a stored row is served only while the records are as it was built
from."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab
from labpanel.audit.models import ReadEntry
from reports.fhir import stored
from reports.models import Report, StoredDiagnosticReport
from tests.panels.test_read_model import (  # noqa: F401 - fixtures
    ROLES,
    clients,
    people,
    realistic,
)

pytestmark = pytest.mark.django_db

SEARCHES = (
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result",
    "/fhir/DiagnosticReport",
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result&_count=2&_offset=1",
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result&status=final,corrected",
    # no total wanted: the row after the page says whether a next page follows
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result&_count=2&_offset=1&_total=none",
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result&_total=none",
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result&_offset=500&_total=none",
    # past the last report: the total and the links, no entry (last: a test below takes it)
    "/fhir/DiagnosticReport?_include=DiagnosticReport:result&_offset=500",
)
AUDITED = ("user_id", "path", "patient_ids", "panel_ids", "report_ids")


def _answer(client: APIClient, url: str) -> tuple[int, bytes, tuple[Any, ...]]:
    """The status, the bytes and the read-audit entry of ``url``."""
    response = client.get(url)
    entry = ReadEntry.objects.order_by("-pk").first()
    assert entry is not None
    return response.status_code, response.content, tuple(getattr(entry, f) for f in AUDITED)


def _built(monkeypatch: pytest.MonkeyPatch, client: APIClient, url: str) -> Any:
    """The answer built from the records (the embedded default's path; the store untouched)."""
    with monkeypatch.context() as patched:
        patched.setattr(stored, "read_model_available", lambda: False)
        return _answer(client, url)


def _every_answer_built(monkeypatch: pytest.MonkeyPatch, clients: dict[str, APIClient]) -> Any:
    return {
        (role, url): _built(monkeypatch, clients[role], url) for role in ROLES for url in SEARCHES
    }


def test_every_role_is_answered_what_the_records_answer_before_and_after_the_store_is_filled(
    realistic: list[int],
    clients: dict[str, APIClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = _every_answer_built(monkeypatch, clients)
    assert StoredDiagnosticReport.objects.count() == 0
    # each role's first searches store what they built; the next ones read it
    for role in ROLES:
        for url in SEARCHES:
            assert _answer(clients[role], url) == built[role, url], (role, url, "first")
    reports = Report.objects.filter(panel_id__in=realistic).count()
    assert StoredDiagnosticReport.objects.count() == reports
    for role in reversed(ROLES):
        for url in SEARCHES:
            assert _answer(clients[role], url) == built[role, url], (role, url, "stored")
    # the realistic panels are all here: amended (a corrected report), censored, released
    # and drawn (a PDF link), preliminary, and findings measured against a baseline
    body = built["director", SEARCHES[0]][1]
    for text in (b'"corrected"', b'"comparator":"<"', b'"comparator":">"', b"presentedForm"):
        assert text in body


def test_a_stored_row_is_what_the_search_serves(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    """Proof that the rows are read, not only written: a row's text, changed in place with its
    stamp kept, is what the next search answers."""
    director = clients["director"]
    director.get(SEARCHES[0])
    row = StoredDiagnosticReport.objects.order_by("pk").first()
    assert row is not None
    marked = row.resource.replace('"status":', '"status":"marked","x":', 1)
    StoredDiagnosticReport.objects.filter(pk=row.pk).update(resource=marked)
    assert b'"status":"marked"' in director.get(SEARCHES[0]).content


@pytest.mark.parametrize(
    "change",
    ["amendment", "release", "drawn", "lab", "catalogue", "code", "superseded"],
)
def test_a_change_to_the_records_is_answered_as_they_are_now(
    realistic: list[int],
    clients: dict[str, APIClient],
    people: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    director, technician = clients["director"], clients["technician"]
    for role in ROLES:
        clients[role].get(SEARCHES[0])  # every role's store filled
    third, other, fifth = realistic[2], realistic[3], realistic[4]
    if change == "amendment":
        response = technician.post(
            f"/api/v1/panels/{other}/amendments/",
            {
                "reason": "Transcription error",
                "results": [{"analyte": "IL10", "value": "14.0", "unit": "pg/mL"}],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
    elif change == "release":
        assert director.post(f"/api/v1/panels/{third}/release/").status_code == 202
    elif change == "drawn":
        # a report drawn after its resources were stored: its PDF link is added when read
        assert director.post(f"/api/v1/panels/{third}/release/").status_code == 202
        for role in ROLES:
            clients[role].get(SEARCHES[0])
        from reports.services import report_render

        for report in Report.objects.filter(status="pending"):
            report_render(report_id=report.pk)
    elif change == "lab":
        lab = Lab.objects.get(pk=people["director"].lab_id)
        lab.name = "Renamed Immunology Laboratory"
        lab.save()
    elif change == "catalogue":
        # the catalogue's names of an analyte, shown in its Observations' code
        from reference_ranges.models import Analyte

        analyte = Analyte.objects.get(code="IL6")
        analyte.name = "Interleukin 6, renamed in the catalogue"
        analyte.save()
    elif change == "code":
        monkeypatch.setattr(stored, "FORMAT", "another-release")
    elif change == "superseded":
        # a report whose panel got a later one, the panel's document not rewritten since
        # (as no writer leaves it): it is built again, not served as the newest
        report = Report.objects.filter(panel_id=fifth).get()
        Report.objects.create(
            panel_id=fifth,
            lab_id=report.lab_id,
            stage=report.stage,
            ruleset_version=report.ruleset_version,
            amends=report,
            amendment_reason="A later report of the same panel",
        )
    for role in ROLES:
        for url in SEARCHES:
            assert _answer(clients[role], url) == _built(monkeypatch, clients[role], url), (
                role,
                url,
            )
    if change == "lab":
        assert b"Renamed Immunology Laboratory" in director.get(SEARCHES[0]).content
    if change == "catalogue":
        assert b"renamed in the catalogue" in director.get(SEARCHES[0]).content


def test_a_panel_without_a_current_document_is_built_and_not_stored(
    realistic: list[int], clients: dict[str, APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    from panels.models import PanelDocument

    PanelDocument.objects.filter(panel_id=realistic[0]).delete()
    director = clients["director"]
    assert _answer(director, SEARCHES[0]) == _built(monkeypatch, director, SEARCHES[0])
    assert not StoredDiagnosticReport.objects.filter(report__panel_id=realistic[0]).exists()
    assert StoredDiagnosticReport.objects.exclude(report__panel_id=realistic[0]).exists()


def test_a_search_served_from_the_store_is_two_statements_and_its_audit_entry(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    director = clients["director"]
    director.get(SEARCHES[0])
    with CaptureQueriesContext(connection) as captured:
        assert director.get(SEARCHES[0]).status_code == 200
    sql = [query["sql"] for query in captured.captured_queries]
    # the token, the COUNT with the page and its stored resources, the read-audit entry
    assert len(sql) == 3, sql
    assert "COUNT(*)" in sql[1]
    assert "reports_storeddiagnosticreport" in sql[1]
    assert sql[2].startswith('INSERT INTO "audit_readentry"')


def test_a_page_past_the_end_still_counts_the_matches_in_its_one_statement(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    director = clients["director"]
    with CaptureQueriesContext(connection) as captured:
        response = director.get(SEARCHES[-1])
    bundle = response.json()
    assert bundle["total"] == Report.objects.filter(panel_id__in=realistic).count() > 0
    assert "entry" not in bundle
    assert [link["relation"] for link in bundle["link"]] == ["self", "previous"]
    assert len(captured.captured_queries) == 3  # token, the count with the page, audit


def _pages_sent(client: APIClient, url: str) -> list[tuple[str, Any]]:
    """The page statements ``url``'s search sent, each with its parameters."""
    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "reports_storeddiagnosticreport" in sql and "COUNT(*)" in sql:
            sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        assert client.get(url).status_code == 200
    return sent


def test_a_search_naming_nothing_typed_is_sent_as_one_text_and_a_typed_one_with_parameters(
    realistic: list[int], clients: dict[str, APIClient]
) -> None:
    """A page of what the caller sees is written as literals (planned once a connection,
    once psycopg has prepared it); a typed value is never written into the statement."""
    director = clients["director"]
    ((first, first_params),) = _pages_sent(director, SEARCHES[2])
    ((again, again_params),) = _pages_sent(director, SEARCHES[2])
    assert first_params is None
    assert again_params is None
    assert first == again
    assert "%s" not in first
    assert "LIMIT 2 OFFSET 1" in first
    report = Report.objects.filter(panel_id__in=realistic).first()
    assert report is not None
    typed = f"/fhir/DiagnosticReport?identifier=urn:uuid:{report.uuid}"
    ((sql, params),) = _pages_sent(director, typed)
    assert params is not None
    assert str(report.uuid) not in sql
    assert report.uuid in params


def test_the_entries_name_the_host_asked_whatever_host_stored_them(
    realistic: list[int],
    clients: dict[str, APIClient],
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    """The stored entries leave their fullUrl's base to the request (a mark stands for it)."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "fhir.example.org"]
    director = clients["director"]
    with monkeypatch.context() as patched:
        patched.setattr(stored, "read_model_available", lambda: False)
        built = director.get(SEARCHES[0], HTTP_HOST="fhir.example.org").content
    assert director.get(SEARCHES[0]).status_code == 200  # stored, asked at testserver
    assert StoredDiagnosticReport.objects.exists()
    answer = director.get(SEARCHES[0], HTTP_HOST="fhir.example.org").content
    assert answer == built
    assert b'"fullUrl":"http://fhir.example.org/fhir/Observation/' in answer
    assert b"testserver" not in answer
    assert stored.MARK not in answer
    assert b"\\u0000" not in answer


@pytest.mark.django_db(transaction=True)
def test_concurrent_searches_that_store_the_same_reports_all_answer_and_store_them_once(
    realistic: list[int], clients: dict[str, APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four searches at once, on four connections, each finding every report's row missing:
    each builds and upserts the same rows (in id order: they wait for each other, no deadlock);
    each answers what the records answer, and one row per report is left."""
    import threading

    from django.db import connections

    director = clients["director"]
    expected = _built(monkeypatch, director, SEARCHES[0])[:2]
    barrier = threading.Barrier(4)
    answers: list[tuple[int, bytes]] = []
    failures: list[BaseException] = []

    def search() -> None:
        try:
            barrier.wait(timeout=30)
            response = director.get(SEARCHES[0])
            answers.append((response.status_code, response.content))
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=search) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert answers == [expected] * 4
    reports = Report.objects.filter(panel_id__in=realistic).count()
    assert StoredDiagnosticReport.objects.count() == reports
    assert _answer(director, SEARCHES[0])[:2] == expected
