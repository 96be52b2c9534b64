"""The inbox's read model and query: each change that makes or reads a report keeps the panel's
``InboxEntry`` true in its own transaction (first report, release, correction, opening,
acknowledgement); the backfill writes the same entries as the services; a page costs the same
queries (session and user included) for 1, 25 or 50 reports, and pages on.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from labpanel.accounts import access
from labpanel.accounts.models import StaffMember
from panels.models import Panel
from panels.review import panel_verify
from reports.inbox import _page_entries, inbox_rows
from reports.models import InboxEntry, Report, ReportStage
from reports.release import panel_release
from reports.services import report_render
from tests.imports.test_import_review import committed
from tests.reports.test_clinician_pages import browser, table_rows
from tests.reports.test_release import amend
from tests.statements import statements_sent

pytestmark = pytest.mark.django_db

# tests/imports/test_import_review.py's file: I-1 IL-6 1.8 and TNF-α 5.0 pg/mL in plasma (both
# within their intervals), I-2 IL-6 3.1 pg/mL in serum (the default intervals are for lithium
# heparin plasma: not interpreted); (results, abnormal, not interpreted, needs attention)
IMPORTED_COUNTS = {"I-1": (2, 0, 0, False), "I-2": (1, 0, 1, True)}
BACKFILL = importlib.import_module("reports.migrations.0007_inbox_entry_backfill").BACKFILL


def stored(client: APIClient, payload: dict[str, Any], number: int, **patient: Any) -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = f"B-{number:04d}"
    body["patient"].update({"mrn": f"MRN-{number:04d}", **patient})
    body["specimen"]["collected_at"] = f"2026-11-{1 + number % 28:02d}T08:30:00Z"
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def released(panel: Panel, director: StaffMember) -> Report:
    panel_verify(panel_id=panel.pk, user=director.user)
    return panel_release(panel_id=panel.pk, user=director.user)


def entry_of(panel: Panel) -> InboxEntry:
    return InboxEntry.objects.get(panel=panel)


def test_a_stored_panel_has_an_entry_for_its_preliminary_report(
    technician_client: APIClient, clinician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    panel = stored(technician_client, panel_payload, 1)

    entry = entry_of(panel)

    report = panel.reports.get()
    assert (entry.report_id, entry.stage, entry.reader_id, entry.lab_id) == (
        report.pk,
        ReportStage.PRELIMINARY,
        clinician.user_id,
        panel.lab_id,
    )
    assert (entry.patient_family_name, entry.patient_mrn, entry.accession) == (
        "Doe",
        "MRN-0001",
        "B-0001",
    )
    # IL-6 12.4 pg/mL is high; TNF-α <2.0 is judged normal
    assert (
        entry.results_total,
        entry.results_abnormal,
        entry.results_critical,
        entry.results_not_interpreted,
        entry.results_indeterminate,
        entry.needs_attention,
        entry.unread,
        entry.acknowledged,
    ) == (2, 1, 0, 0, 0, True, True, False)


def test_release_opening_correction_and_acknowledgement_keep_the_entry_true(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    technician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    panel = stored(technician_client, panel_payload, 1)

    # release: the entry stands for the FINAL report, unread
    final = released(panel, director)
    entry = entry_of(panel)
    assert (entry.report_id, entry.stage, entry.unread) == (final.pk, ReportStage.FINAL, True)
    assert entry.issued_at == final.created_at

    # the lab's staff opening it leaves the clinician's entry unread; the clinician's opening
    # marks it read
    assert browser(technician).get(f"/reports/{final.pk}/").status_code == 200
    assert entry_of(panel).unread is True
    assert browser(clinician).get(f"/reports/{final.pk}/").status_code == 200
    assert entry_of(panel).unread is False

    # a correction after release: the CORRECTED report replaces it, unread again, recounted
    report_render(report_id=final.pk)
    assert amend(technician_client, panel, "1.9").status_code == 201
    corrected = Report.objects.get(panel=panel, stage=ReportStage.CORRECTED)
    entry = entry_of(panel)
    assert (entry.report_id, entry.stage, entry.unread, entry.acknowledged) == (
        corrected.pk,
        ReportStage.CORRECTED,
        True,
        False,
    )
    assert (entry.results_abnormal, entry.needs_attention) == (0, False)

    # acknowledging the corrected report
    client = browser(clinician)
    assert client.post(f"/reports/{corrected.pk}/acknowledge/").status_code == 302
    entry = entry_of(panel)
    assert (entry.unread, entry.acknowledged) == (False, True)


def test_a_childs_panel_nothing_interpreted_needs_attention(
    technician_client: APIClient, clinician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    panel = stored(technician_client, panel_payload, 1, birth_date="2018-01-01")

    entry = entry_of(panel)

    assert (entry.results_not_interpreted, entry.results_abnormal, entry.needs_attention) == (
        2,
        0,
        True,
    )


def test_the_backfill_writes_the_entries_the_services_write(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    # given: a released and opened panel, a corrected one, an acknowledged one, a child's
    # preliminary one, and one with a normal result only
    opened = stored(technician_client, panel_payload, 1)
    browser(clinician).get(f"/reports/{released(opened, director).pk}/")
    corrected = stored(technician_client, panel_payload, 2, family_name="Roe")
    report_render(report_id=released(corrected, director).pk)
    assert amend(technician_client, corrected, "1.9").status_code == 201
    acknowledged = stored(technician_client, panel_payload, 3)
    browser(clinician).post(f"/reports/{released(acknowledged, director).pk}/acknowledge/")
    stored(technician_client, panel_payload, 4, birth_date="2018-01-01")
    panel_payload["results"] = [{"analyte": "IL-6", "value": "1.5", "unit": "pg/mL"}]
    stored(technician_client, panel_payload, 5)
    fields = [field.name for field in InboxEntry._meta.concrete_fields if field.name != "id"]
    by_services = sorted(InboxEntry.objects.values_list(*fields))

    # when
    InboxEntry.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(BACKFILL)

    # then
    assert sorted(InboxEntry.objects.values_list(*fields)) == by_services
    assert len(by_services) == 5


@pytest.mark.parametrize("reports", [1, 25, 50])
def test_a_page_costs_the_same_queries_whatever_the_number_of_reports(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
    django_assert_num_queries: Any,
    reports: int,
) -> None:
    for number in range(1, reports + 1):
        released(stored(technician_client, panel_payload, number), director)
    client = browser(clinician)

    # the session, the user with their membership (labpanel.accounts.backends), the page's
    # entries, the critical results that await the clinician's acknowledgement, and the read
    # audit's entry
    with django_assert_num_queries(5):
        first = table_rows(client.get("/inbox/").content.decode())
    with django_assert_num_queries(5):
        second = table_rows(client.get("/inbox/", {"page": "2"}).content.decode())
    # a deep page (past the last), a search by MRN, a collection date: the same statements
    with django_assert_num_queries(5):
        deep = table_rows(client.get("/inbox/", {"page": "40"}).content.decode())
    with django_assert_num_queries(5):
        searched = table_rows(client.get("/inbox/", {"q": "MRN-0001"}).content.decode())
    with django_assert_num_queries(5):
        dated = table_rows(client.get("/inbox/", {"collected": "2026-11-02"}).content.decode())

    assert len(first) == min(reports, 25)
    assert len(second) == max(0, min(reports - 25, 25))
    assert deep == []
    assert [row[1] for row in searched] == ["MRN-0001"]
    # collected on the 2nd of November: numbers 1, 29 (1 + number % 28 == 2)
    assert len(dated) == len([n for n in range(1, reports + 1) if 1 + n % 28 == 2])


def test_a_page_compiled_once_reads_the_data_of_the_moment(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    """A page without search words is compiled once per process (labpanel.compiled_queries):
    its rows are still the ORM's, and what changed since shows (the SQL is kept, not rows)."""
    for number in range(1, 28):
        released(stored(technician_client, panel_payload, number), director)
    orm = [
        tuple(row)
        for row in InboxEntry.objects.filter(reader=clinician.user)
        .order_by("-unread", "-needs_attention", "-issued_at", "-id")
        .values_list("report_id", "accession", "unread", "collected_at", "panel__patient_id")
    ]

    def shown(page: int) -> list[tuple[Any, ...]]:
        rows = inbox_rows(user=clinician.user, page=page).rows
        return [
            (row["report_id"], row["accession"], row["unread"], row["patient_id"]) for row in rows
        ]

    expected = [
        (report, accession, unread, patient) for report, accession, unread, _, patient in orm
    ]
    assert shown(1) + shown(2) == expected
    assert shown(1) + shown(2) == expected  # compiled already: the same rows

    # the oldest report is opened: it leaves the unread ones, last on the second page
    assert InboxEntry.objects.filter(accession="B-0001").update(unread=False) == 1
    second = shown(2)
    assert second[-1][1] == "B-0001"
    assert second[-1][2] is False


def test_pages_follow_the_order_without_overlap(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    for number in range(1, 28):
        released(stored(technician_client, panel_payload, number), director)
    client = browser(clinician)

    first = client.get("/inbox/").content.decode()
    second = client.get("/inbox/", {"page": "2"}).content.decode()

    accessions = [row[2] for row in table_rows(first) + table_rows(second)]
    assert accessions == [f"B-{number:04d}" for number in range(27, 0, -1)]
    assert '<a href="?page=2">Next</a>' in first
    assert '<a href="?page=1">Previous</a>' in second
    assert "Next</a>" not in second


def test_the_search_matches_the_mrn_by_its_beginning_in_any_case(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    for number in (10, 11, 21):
        released(stored(technician_client, panel_payload, number), director)

    def accessions(search: str) -> list[str]:
        page = inbox_rows(user=clinician.user, search=search)
        return [row["accession"] for row in page.rows]

    assert accessions("MRN-001") == ["B-0011", "B-0010"]
    assert accessions("mrn-0021") == ["B-0021"]
    assert accessions("0021") == []
    assert accessions("doe mrn-0010") == ["B-0010"]


def test_an_import_commit_writes_the_entries_of_its_panels(
    technician_client: APIClient, clinician: StaffMember
) -> None:
    committed(technician_client)

    entries = list(
        InboxEntry.objects.order_by("accession").values_list(
            "accession",
            "stage",
            "reader_id",
            "unread",
            "results_total",
            "results_abnormal",
            "results_not_interpreted",
            "needs_attention",
        )
    )

    reports = dict(Report.objects.values_list("panel__accession", "pk"))
    assert entries == [
        (accession, ReportStage.PRELIMINARY, clinician.user_id, True, *counts)
        for accession, counts in sorted(IMPORTED_COUNTS.items())
    ]
    assert set(InboxEntry.objects.values_list("report_id", flat=True)) == set(reports.values())


def test_a_search_compiled_once_per_shape_finds_what_the_orm_finds(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    """A search is compiled once per shape (how many words, which are MRNs) with stand-ins
    for its words, replaced in the parameters: every word, LIKE's own characters included,
    finds what the ORM's query of that search finds."""
    names = [
        ("Doe", "Jane"),
        ("D%e", "J_ne"),
        ("Back\\slash", "Al"),
        ("Müller", "Zoë"),
        ("doe", "X"),
    ]
    for number, (family, given) in enumerate(names, start=1):
        panel = stored(
            technician_client, panel_payload, number, family_name=family, given_name=given
        )
        released(panel, director)
    searches = [
        "doe",
        "DOE",
        "d%e",
        "%",
        "_",
        "j_ne",
        "\\",
        "back\\",
        "müller",
        "ZOË",
        "mrn-000",
        "MRN-0003",
        "doe mrn-0001",
        "mrn-0001 doe",
        "o e",
        "nobody",
        "mrn-0001 mrn-0005",
    ]
    scope = access.inbox_scope(clinician.user)
    for search in searches * 2:  # the second time: compiled already
        expected = [row[0] for row in _page_entries(scope, search, None, 0)]
        found = [row["report_id"] for row in inbox_rows(user=clinician.user, search=search).rows]
        assert found == expected, search
    assert [row["accession"] for row in inbox_rows(user=clinician.user, search="d%e").rows] == [
        "B-0002"
    ]


def test_a_page_is_sent_without_parameters_and_a_search_with_its_words_as_parameters(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    """On PostgreSQL a page without search words is kept with its values written in (planned
    once per connection), a search with its words as parameters, never in the SQL."""
    panel = stored(technician_client, panel_payload, 1, family_name="O'Hara")
    released(panel, director)
    with statements_sent("reports_inboxentry") as sent:
        page = inbox_rows(user=clinician.user, page=1).rows
        searched = inbox_rows(user=clinician.user, search="o'hara").rows

    assert [row["accession"] for row in page] == [row["accession"] for row in searched]
    assert [row["accession"] for row in page] == ["B-0001"]
    (page_sql, page_params), (search_sql, search_params) = sent
    if connection.vendor == "postgresql":
        assert page_params is None
        assert f"= {clinician.user.pk}" in page_sql
    assert "hara" not in search_sql.lower()
    assert any("hara" in str(value).lower() for value in search_params)
