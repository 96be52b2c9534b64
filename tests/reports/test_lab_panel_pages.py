"""The lab's panel page, its release action and the correction form: every result with its
value as given, flag, rule, rule-set version and source (the results table the same rows as
the report page's), the findings, the review history, the patient's earlier panels, the reports;
who sees it (404 outside scope, 403 with the reason inside it); releasing through the release
service; a correction through the amendment service (the API's one path, recorded as "web"),
refused with the field's error and nothing changed.
"""

from __future__ import annotations

import copy
import re
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from labpanel.accounts.models import Role, StaffMember
from labpanel.events.models import Event, EventKind
from panels.models import Panel, Result, ReviewState
from reports.document_builder import report_document_build
from reports.models import Report, ReportStage
from tests.conftest import token_client
from tests.factories import make_lab, make_staff
from tests.reports.test_clinician_pages import table_rows
from tests.reports.test_release import rendered, verify_and_release

pytestmark = pytest.mark.django_db

LAB_SCREENS_REFUSAL = (
    "the lab's screens (worklist, panel page) are for the lab's technicians and directors"
)


def browser(staff: StaffMember) -> Client:
    client = Client()
    client.force_login(staff.user)
    return client


def submitted(client: APIClient, payload: dict[str, Any], number: int, day: int) -> Panel:
    body = copy.deepcopy(payload)
    body["accession"] = f"P-{number}"
    body["specimen"]["collected_at"] = f"2026-11-{day:02d}T08:30:00Z"
    response = client.post("/api/v1/panels/", body, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    """Jane Doe's panel (IL-6 12.4 high, TNFA <2.0 censored), submitted by the technician."""
    return submitted(technician_client, panel_payload, 1, 20)


def page_text(response: Any) -> str:
    """The page's text: tags dropped, whitespace collapsed."""
    assert response.status_code == 200
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_the_panel_page_shows_results_rules_history_reports_and_earlier_panels(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    panel: Panel,
    director: StaffMember,
    technician: StaffMember,
) -> None:
    # given: an earlier panel of the same patient, and this one verified with a reason
    earlier = submitted(technician_client, panel_payload, 0, 10)
    later = submitted(technician_client, panel_payload, 2, 25)
    verify = browser(director).post(f"/panels/{panel.pk}/verify/", {"reason": "checked QC"})
    assert verify.status_code == 302

    # when
    response = browser(technician).get(f"/panels/{panel.pk}/")

    # then: the results table is the report document's, as on the report page
    html = response.content.decode()
    document = report_document_build(report=panel.reports.get(), reported_at=panel.created_at)
    assert table_rows(html, "results") == [
        [
            line.analyte_name + line.analyte_mark,
            line.value_text + (f" ({line.converted_text})" if line.converted_text else ""),
            line.unit,
            line.reference_text + (f" {line.source_mark}" if line.source_mark else ""),
            line.flag_text,
            " ".join(
                " ".join(filter(None, (line.note, line.conversion, line.method_text))).split()
            ),
        ]
        for line in document.results
    ]
    il6 = Result.objects.get(panel=panel, analyte__code="IL6")
    assert il6.rule is not None
    rules = table_rows(html, "rules")
    assert rules[0][:6] == [
        "IL-6",
        "12.4 pg/mL",
        "High (H)",
        il6.rule.key,
        il6.ruleset_version,
        il6.rule.source,
    ]
    assert rules[1][:3] == [
        "TNF-α",
        "<2.0 pg/mL",
        "Normal (N)",
    ]
    text = page_text(response)
    assert "VERIFIED" in text
    assert "Received → Verified by director: “checked QC”" in text
    report = panel.reports.get()
    assert f"Report {report.pk} : PRELIMINARY, pending" in text
    assert f'href="/panels/{earlier.pk}/"' in html
    assert f'href="/panels/{later.pk}/"' not in html
    assert "Cannot release: technicians may not release reports in this lab" in text


def test_who_sees_the_panel_page(
    panel: Panel,
    technician: StaffMember,
    director: StaffMember,
    clinician: StaffMember,
    other_clinician: StaffMember,
    integrator: StaffMember,
) -> None:
    other_lab = make_lab(name="Other lab")
    outsiders = [
        make_staff(username="far.tech", lab=other_lab, role=Role.TECHNICIAN),
        make_staff(username="far.director", lab=other_lab, role=Role.DIRECTOR),
        other_clinician,
        integrator,  # sees only the panels it submitted
    ]
    url = f"/panels/{panel.pk}/"

    for staff in (technician, director):
        assert browser(staff).get(url).status_code == 200
    for staff in outsiders:
        assert browser(staff).get(url).status_code == 404
    # before release the ordering clinician does not see the panel at all
    assert browser(clinician).get(url).status_code == 404
    verify_and_release(panel, director)
    refused = browser(clinician).get(url)
    assert refused.status_code == 403
    assert LAB_SCREENS_REFUSAL in unescape(refused.content.decode())
    assert browser(clinician).get(f"/panels/{panel.pk}/correct/").status_code == 403
    assert browser(other_clinician).get(url).status_code == 404
    assert Client().get(url)["Location"] == f"/login/?next={url}"


def test_an_integrator_sees_its_own_panels_in_the_api_but_not_on_the_lab_screens(
    integrator: StaffMember, clinician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    own = submitted(token_client(integrator), panel_payload, 5, 12)

    response = browser(integrator).get(f"/panels/{own.pk}/")

    assert response.status_code == 403
    assert LAB_SCREENS_REFUSAL in unescape(response.content.decode())
    assert browser(integrator).post(f"/panels/{own.pk}/verify/").status_code == 403


def test_a_director_releases_from_the_panel_page_and_a_technician_is_told_why_not(
    panel: Panel, director: StaffMember, technician: StaffMember
) -> None:
    client = browser(director)
    too_early = client.post(f"/panels/{panel.pk}/release/")
    assert too_early.status_code == 302
    assert not Report.objects.filter(stage=ReportStage.FINAL).exists()
    assert client.post(f"/panels/{panel.pk}/verify/").status_code == 302

    refused = browser(technician).post(f"/panels/{panel.pk}/release/")
    assert refused.status_code == 403
    assert "technicians may not release reports in this lab; a director releases" in (
        unescape(refused.content.decode())
    )
    assert not Report.objects.filter(stage=ReportStage.FINAL).exists()

    released = client.post(f"/panels/{panel.pk}/release/", {"reason": "QC reviewed"})

    final = Report.objects.get(stage=ReportStage.FINAL)
    assert released.status_code == 302
    assert released["Location"] == f"/panels/{panel.pk}/"
    panel.refresh_from_db()
    assert panel.review_state == ReviewState.RELEASED
    transition = panel.review_transitions.get(to_state="released")
    assert (transition.actor_id, transition.reason, transition.report_id) == (
        director.user_id,
        "QC reviewed",
        final.pk,
    )
    text = page_text(client.get(f"/panels/{panel.pk}/"))
    assert f"Report {final.pk} : FINAL, pending" in text
    assert "Released to the ordering clinician." in text


def test_releasing_from_the_worklist_with_htmx_answers_the_row(
    panel: Panel, director: StaffMember
) -> None:
    client = browser(director)
    assert client.post(f"/panels/{panel.pk}/verify/").status_code == 302

    response = client.post(f"/panels/{panel.pk}/release/", HTTP_HX_REQUEST="true")

    final = Report.objects.get(stage=ReportStage.FINAL)
    assert response.status_code == 200
    assert f"Panel P-1 released: its FINAL report ({final.pk}) is being prepared." in (
        response.content.decode()
    )


def test_a_correction_with_its_reason_makes_the_amended_report_as_the_api_does(
    panel: Panel, technician: StaffMember
) -> None:
    original = rendered(panel.reports.get())
    client = browser(technician)
    form = client.get(f"/panels/{panel.pk}/correct/")
    assert form.status_code == 200
    assert '<label for="id_reason">Reason for the correction:</label>' in form.content.decode()

    response = client.post(
        f"/panels/{panel.pk}/correct/",
        {"analyte": "IL6", "value": "1.9", "unit": "pg/mL", "reason": "Transcription error"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/panels/{panel.pk}/"
    amended = Report.objects.get(amends=original)
    assert (amended.stage, amended.amendment_reason) == (
        ReportStage.PRELIMINARY,
        "Transcription error",
    )
    assert amended.corrections[0]["previous"] == "12.4"
    assert amended.corrections[0]["corrected"] == "1.9"
    event = Event.objects.get(kind=EventKind.PANEL_RESULTS_AMENDED)
    assert (event.payload["intake"], event.actor_id) == ("web", technician.user_id)
    assert Result.objects.current().get(panel=panel, analyte__code="IL6").value_text == "1.9"


@pytest.mark.parametrize(
    ("_case", "fields", "field", "message"),
    [
        ("no reason", {"value": "1.9", "reason": ""}, "reason", "This field is required."),
        ("bad notation", {"value": "1,9,9", "reason": "typo"}, "value", ""),
        ("unit unknown", {"value": "1.9", "unit": "furlongs", "reason": "typo"}, "unit", ""),
        ("unchanged", {"value": "12.4", "reason": "typo"}, "value", "the same as the stored"),
    ],
)
def test_a_refused_correction_names_the_field_and_changes_nothing(
    panel: Panel,
    technician: StaffMember,
    _case: str,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    rendered(panel.reports.get())
    data = {"analyte": "IL6", "unit": "pg/mL", **fields}

    response = browser(technician).post(f"/panels/{panel.pk}/correct/", data)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert Report.objects.filter(panel=panel).count() == 1
    assert Result.objects.filter(panel=panel).count() == 2
    assert not Event.objects.filter(kind=EventKind.PANEL_RESULTS_AMENDED).exists()


def test_a_correction_waits_for_the_current_report(panel: Panel, technician: StaffMember) -> None:
    response = browser(technician).post(
        f"/panels/{panel.pk}/correct/",
        {"analyte": "IL6", "value": "1.9", "unit": "pg/mL", "reason": "typo"},
    )

    assert response.status_code == 200
    assert "still being produced" in " ".join(response.context["form"].non_field_errors())
    assert Report.objects.filter(panel=panel).count() == 1


def test_the_panel_page_query_count_does_not_grow_with_earlier_panels(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    panel: Panel,
    technician: StaffMember,
) -> None:
    client = browser(technician)
    client.get(f"/panels/{panel.pk}/")
    with CaptureQueriesContext(connection) as one:
        client.get(f"/panels/{panel.pk}/")
    for number in range(10, 16):
        submitted(technician_client, panel_payload, number, number)
    with CaptureQueriesContext(connection) as six:
        response = client.get(f"/panels/{panel.pk}/")

    assert response.content.decode().count('href="/panels/') == 6 + 1  # earlier ones, correct
    assert len(six.captured_queries) == len(one.captured_queries)
