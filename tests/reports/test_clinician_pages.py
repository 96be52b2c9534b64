"""The clinician's screens: login lands a clinician on their inbox; the inbox lists only the
reports they may see (released ones; preliminaries where the lab sends them), unread first,
searchable (its query count and read model: tests/reports/test_inbox*.py); the report page
shows the same rows as the PDF's results table and the stage; opening and acknowledging are
recorded; anything outside their scope answers 404, as the API does.
"""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.events.models import Event, EventKind
from panels.models import Panel
from reports.document_builder import report_document_build
from reports.models import Report, ReportReceipt, ReportStage
from tests.factories import make_lab, make_staff
from tests.reports.test_release import amend, rendered, verify_and_release

pytestmark = pytest.mark.django_db

CHILD = "2018-01-01"
PASSWORD = "labpanel-demo"


class TableCells(HTMLParser):
    """The text of each body row's cells of the first ``<table class="results">`` (or of the
    first table when ``css_class`` is empty)."""

    def __init__(self, css_class: str) -> None:
        super().__init__()
        self.css_class = css_class
        self.rows: list[list[str]] = []
        self._in_table = self._in_body = self._done = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and not self._done:
            self._in_table = not self.css_class or ("class", self.css_class) in attrs
        elif self._in_table and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "tr":
            self.rows.append([])
        elif self._in_body and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if self._in_body and tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif self._in_table and tag == "table":
            self._in_table = self._in_body = False
            self._done = True

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str, css_class: str = "") -> list[list[str]]:
    parser = TableCells(css_class)
    parser.feed(html)
    return parser.rows


def submitted(client: APIClient, payload: dict[str, Any], number: int, **patient: str) -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = f"A-{2000 + number}"
    body["patient"].update({"mrn": f"MRN-{number}", **patient})
    body["specimen"]["collected_at"] = f"2026-11-{10 + number:02d}T08:30:00Z"
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


@pytest.fixture
def released(
    technician_client: APIClient, director: StaffMember, panel_payload: dict[str, Any]
) -> Report:
    """Jane Doe's panel (IL-6 high, TNFA below the measuring limit), released: its FINAL."""
    return verify_and_release(submitted(technician_client, panel_payload, 1), director)


def test_login_lands_a_clinician_on_the_inbox_and_lab_staff_on_the_worklist(
    reference_data: None, clinician: StaffMember, technician: StaffMember
) -> None:
    for staff, home in ((clinician, "/inbox/"), (technician, "/worklist/")):
        staff.user.set_password(PASSWORD)
        staff.user.save()
        client = Client()
        response = client.post(
            "/login/", {"username": staff.user.username, "password": PASSWORD}, follow=True
        )
        assert response.redirect_chain == [("/", 302), (home, 302)]
        assert response.status_code == 200


def test_anonymous_users_are_sent_to_login(released: Report) -> None:
    client = Client()
    for url in ("/", "/inbox/", f"/reports/{released.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={url}"
    assert client.post(f"/reports/{released.pk}/acknowledge/").status_code == 302
    assert not ReportReceipt.objects.exists()


def test_the_inbox_shows_only_released_reports_newest_per_panel_unread_first(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    # given: two released panels (one opened already, one corrected) and one unreleased
    first = verify_and_release(submitted(technician_client, panel_payload, 1), director)
    second_panel = submitted(technician_client, panel_payload, 2, family_name="Roe")
    second = rendered(verify_and_release(second_panel, director))
    assert amend(technician_client, second_panel, "1.9").status_code == 201
    corrected = Report.objects.get(panel=second_panel, stage=ReportStage.CORRECTED)
    submitted(technician_client, panel_payload, 3, family_name="Unreleased")
    # a child: the default intervals are adult-only, so nothing on it is interpreted
    child = submitted(technician_client, panel_payload, 4, family_name="Kid", birth_date=CHILD)
    verify_and_release(child, director)
    client = browser(clinician)
    assert client.get(f"/reports/{first.pk}/").status_code == 200

    # when
    rows = table_rows(client.get("/inbox/").content.decode())

    # then: the corrected report stands for its panel; nothing unreleased; unread first
    assert rows == [
        ["Kid, Jane", "MRN-4", "A-2004", "2026-11-14 08:30", "FINAL",
         "not interpreted: 2", "Unread"],
        ["Roe, Jane", "MRN-2", "A-2002", "2026-11-12 08:30", "CORRECTED",
         "all within interval", "Unread"],
        ["Doe, Jane", "MRN-1", "A-2001", "2026-11-11 08:30", "FINAL", "1 abnormal", "Opened"],
    ]  # fmt: skip
    assert second.pk != corrected.pk


def test_the_inbox_puts_flagged_reports_before_unflagged_ones_among_the_unread(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    flagged = submitted(technician_client, panel_payload, 1, family_name="Flagged")
    panel_payload["results"] = [{"analyte": "IL-6", "value": "1.5", "unit": "pg/mL"}]
    normal = submitted(technician_client, panel_payload, 2, family_name="Normal")
    for panel in (flagged, normal):
        verify_and_release(panel, director)

    rows = table_rows(browser(clinician).get("/inbox/").content.decode())

    assert [(row[0], row[5]) for row in rows] == [
        ("Flagged, Jane", "1 abnormal"),
        ("Normal, Jane", "all within interval"),
    ]


def test_the_inbox_shows_preliminaries_only_where_the_lab_sends_them(
    technician_client: APIClient, clinician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    submitted(technician_client, panel_payload, 1)
    client = browser(clinician)
    assert table_rows(client.get("/inbox/").content.decode()) == []

    clinician.lab.preliminary_reports_to_clinicians = True
    clinician.lab.save()

    rows = table_rows(client.get("/inbox/").content.decode())
    assert [(row[2], row[4]) for row in rows] == [("A-2001", "PRELIMINARY")]


def test_the_inbox_searches_by_name_mrn_and_collection_date(
    technician_client: APIClient,
    director: StaffMember,
    clinician: StaffMember,
    panel_payload: dict[str, Any],
) -> None:
    for number, name in ((1, "Doe"), (2, "Roe"), (3, "Poe")):
        verify_and_release(
            submitted(technician_client, panel_payload, number, family_name=name), director
        )
    client = browser(clinician)

    def accessions(query: dict[str, str]) -> list[str]:
        return [row[2] for row in table_rows(client.get("/inbox/", query).content.decode())]

    assert accessions({"q": "roe"}) == ["A-2002"]
    assert accessions({"q": "Jane"}) == ["A-2003", "A-2002", "A-2001"]
    assert accessions({"q": "MRN-3"}) == ["A-2003"]
    assert accessions({"collected": "2026-11-11"}) == ["A-2001"]
    assert accessions({"q": "Doe", "collected": "2026-11-12"}) == []
    page = client.get("/inbox/").content.decode()
    assert '<label for="id_q">Patient name or MRN</label>' in page
    assert '<label for="id_collected">Collected on</label>' in page


def test_another_clinicians_report_answers_404_everywhere(
    released: Report, other_clinician: StaffMember
) -> None:
    client = browser(other_clinician)

    assert table_rows(client.get("/inbox/").content.decode()) == []
    assert client.get(f"/reports/{released.pk}/").status_code == 404
    assert client.post(f"/reports/{released.pk}/acknowledge/").status_code == 404
    assert client.get(f"/api/v1/reports/{released.pk}/").status_code == 404
    assert not ReportReceipt.objects.exists()
    assert not Event.objects.filter(kind=EventKind.REPORT_ACKNOWLEDGED).exists()


def test_the_report_page_shows_the_pdfs_result_rows_and_the_stage(
    released: Report, clinician: StaffMember
) -> None:
    document = report_document_build(report=released, reported_at=released.created_at)

    response = browser(clinician).get(f"/reports/{released.pk}/")

    page = response.content.decode()
    expected = [
        [
            f"{line.analyte_name}{line.analyte_mark}",
            f"{line.value_text} ({line.converted_text})"
            if line.converted_text
            else line.value_text,
            line.unit,
            f"{line.reference_text} {line.source_mark}".strip(),
            line.flag_text,
            " ".join(f"{line.note} {line.conversion} {line.method_text}".split()),
        ]
        for line in document.results
    ]
    assert table_rows(page, "results") == expected
    assert [row[:5] for row in expected] == [
        ["IL-6", "12.4", "pg/mL", "≤2.5 pg/mL a", "High"],
        ["TNF-α", "<2.0", "pg/mL", "≤14.5 pg/mL a", "Normal"],
    ]
    assert '<p class="status stage" id="stage">FINAL</p>' in page
    assert '<th scope="col">Analyte</th>' in page
    assert f'action="/reports/{released.pk}/acknowledge/"' in page


def test_a_corrected_report_says_which_report_it_replaces(
    released: Report, technician_client: APIClient, clinician: StaffMember
) -> None:
    rendered(released)
    assert amend(technician_client, released.panel, "1.9").status_code == 201
    corrected = Report.objects.get(panel=released.panel, stage=ReportStage.CORRECTED)

    page = browser(clinician).get(f"/reports/{corrected.pk}/").content.decode()

    assert '<p class="status stage" id="stage">CORRECTED</p>' in page
    assert f'replaces <a href="/reports/{released.pk}/">report {released.pk}, issued' in page


def test_opening_records_one_receipt_with_the_first_time(
    released: Report, clinician: StaffMember
) -> None:
    client = browser(clinician)
    assert client.get(f"/reports/{released.pk}/").status_code == 200
    first = ReportReceipt.objects.get(report=released, user=clinician.user)

    assert client.get(f"/reports/{released.pk}/").status_code == 200

    receipt = ReportReceipt.objects.get()
    assert (receipt.pk, receipt.opened_at, receipt.acknowledged_at) == (
        first.pk,
        first.opened_at,
        None,
    )


def test_acknowledging_records_it_and_its_event_once(
    released: Report, clinician: StaffMember
) -> None:
    client = browser(clinician)

    response = client.post(f"/reports/{released.pk}/acknowledge/", follow=True)
    again = client.post(f"/reports/{released.pk}/acknowledge/", follow=True)

    receipt = ReportReceipt.objects.get()
    assert receipt.acknowledged_at is not None
    assert response.redirect_chain == [(f"/reports/{released.pk}/", 302)]
    assert again.status_code == 200
    assert ReportReceipt.objects.get().acknowledged_at == receipt.acknowledged_at
    event = Event.objects.get(kind=EventKind.REPORT_ACKNOWLEDGED)
    assert (event.lab_id, event.actor_id, event.panel_id, event.report_id, event.payload) == (
        clinician.lab_id,
        clinician.user_id,
        released.panel_id,
        released.pk,
        {"report_uuid": str(released.uuid), "report_stage": "final"},
    )
    page = again.content.decode()
    assert "Acknowledged " in page
    assert ">Acknowledge</button>" not in page


def test_the_report_page_does_not_open_a_report_of_another_lab(
    released: Report,
) -> None:
    elsewhere = make_staff(username="dr.cuddy", lab=make_lab(name="Other"), role=Role.CLINICIAN)

    assert browser(elsewhere).get(f"/reports/{released.pk}/").status_code == 404


def test_lab_staff_read_the_report_page_but_do_not_acknowledge(
    released: Report, technician: StaffMember
) -> None:
    client = browser(technician)

    page = client.get(f"/reports/{released.pk}/").content.decode()
    refused = client.post(f"/reports/{released.pk}/acknowledge/")

    assert ">Acknowledge</button>" not in page
    assert '<p class="status stage" id="stage">FINAL</p>' in page
    assert refused.status_code == 403
    assert not ReportReceipt.objects.filter(acknowledged_at__isnull=False).exists()
    assert not Event.objects.filter(kind=EventKind.REPORT_ACKNOWLEDGED).exists()
