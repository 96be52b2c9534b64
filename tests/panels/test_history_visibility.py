"""Who sees a patient's history (issue 13): the earlier panels beside a panel, in every output.

One patient (MRN-77) of one lab, three panels, each with a unique IL-6 value:

- ``E-111`` (IL-6 987.6, marked baseline): submitted by the technician for dr.house, released;
- ``E-222`` (IL-6 876.5): submitted by the technician for dr.house, not released;
- ``E-333`` (IL-6 12.4): submitted by the interface for dr.wilson.

The interface may open E-333 only; dr.wilson, E-333's clinician, is shown the released E-111
beside it (a cumulative report) but never E-222; the technician sees all three. Assertions are on
the values (987.6, 876.5 and the change from E-222, -864.1, that would reveal it), not only on
counts.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from labpanel.accounts import access
from labpanel.accounts.access import PanelFacts
from labpanel.accounts.models import Lab, Role, StaffMember
from panels.history import HistoryShown, findings_shown, serial_shown
from panels.models import Finding, FindingStatus, Panel, ReviewState
from reports.document_builder import report_document_build
from reports.models import Report
from reports.rendering import render_pdf
from reports.selectors import report_source_get
from reports.services import report_render
from tests.conftest import EXAMPLE_PANEL, token_client
from tests.factories import make_staff
from tests.rendering.pdf_text import body_lines
from tests.reports.test_release import verify_and_release

HIDDEN = "876.5"  # E-222's IL-6: unreleased, ordered by dr.house
HIDDEN_CHANGE = "-864.1"  # E-333's IL-6 minus E-222's: reveals E-222's value as well
SHOWN = "987.6"  # E-111's IL-6: released, ordered by dr.house
OMITTED = "1 earlier panel of this patient is not shown: not yet released"


def _submit(
    client: APIClient,
    accession: str,
    day: int,
    il6: str,
    clinician: str,
    *,
    is_baseline: bool = False,
) -> Any:
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = accession
    payload["ordering_clinician"] = clinician
    payload["specimen"] = {
        "type": "plasma_heparin",
        "collected_at": f"2026-11-{day:02d}T08:30:00Z",
        "is_baseline": is_baseline,
    }
    payload["results"] = [
        {"analyte": "IL-6", "value": il6, "unit": "pg/mL"},
        {"analyte": "TNFA", "value": "<2.0", "unit": "pg/mL"},
    ]
    return client.post("/api/v1/panels/", payload, format="json")


@pytest.fixture
def people(
    reference_data: None,
    lab: Lab,
    technician: StaffMember,
    director: StaffMember,
    clinician: StaffMember,
    other_clinician: StaffMember,
    integrator: StaffMember,
) -> dict[str, StaffMember]:
    return {
        "technician": technician,
        "director": director,
        "house": clinician,
        "wilson": other_clinician,
        "integrator": integrator,
    }


@pytest.fixture
def earlier(people: dict[str, StaffMember]) -> dict[str, Panel]:
    """E-111 released, E-222 not: both the technician's, for dr.house."""
    technician = token_client(people["technician"])
    assert _submit(technician, "E-111", 1, SHOWN, "dr.house", is_baseline=True).status_code == 201
    assert _submit(technician, "E-222", 5, HIDDEN, "dr.house").status_code == 201
    first = Panel.objects.get(accession="E-111")
    verify_and_release(first, people["director"])
    return {"E-111": first, "E-222": Panel.objects.get(accession="E-222")}


@pytest.fixture
def interface_answer(people: dict[str, StaffMember], earlier: dict[str, Panel]) -> Any:
    """The interface's 201 for E-333, for dr.wilson."""
    response = _submit(token_client(people["integrator"]), "E-333", 10, "12.4", "dr.wilson")
    assert response.status_code == 201, response.json()
    return response


@pytest.fixture
def released_h3(people: dict[str, StaffMember], interface_answer: Any) -> tuple[Panel, Report]:
    """E-333 released: its FINAL report, rendered."""
    panel = Panel.objects.get(accession="E-333")
    final = verify_and_release(panel, people["director"])
    report_render(report_id=final.pk)
    return panel, final


def _text(response: Any) -> str:
    return json.dumps(response.json())


@pytest.mark.django_db
def test_the_interface_answer_holds_no_point_of_panels_it_did_not_submit(
    interface_answer: Any,
) -> None:
    # then: no accession, value, change or count of the technician's panels
    body = interface_answer.json()
    assert body["serial"] == {}
    text = _text(interface_answer)
    for leaked in (SHOWN, HIDDEN, HIDDEN_CHANGE, "E-111", "E-222", "not_shown"):
        assert leaked not in text
    assert body["results"][0]["value"] == "12.4"


@pytest.mark.django_db
def test_the_interface_reads_and_lists_no_history_of_others(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    panel, _ = released_h3
    client = token_client(people["integrator"])
    # when
    detail = client.get(f"/api/v1/panels/{panel.pk}/")
    listed = client.get("/api/v1/panels/")
    amended = client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {
            "reason": "Transcription error",
            "results": [{"analyte": "IL-6", "value": "12.5", "unit": "pg/mL"}],
        },
        format="json",
    )
    # then
    assert (detail.status_code, listed.status_code, amended.status_code) == (200, 200, 201)
    assert [item["accession"] for item in listed.json()["results"]] == ["E-333"]
    for response in (detail, listed, amended):
        text = _text(response)
        for leaked in (SHOWN, HIDDEN, HIDDEN_CHANGE, "E-111", "E-222"):
            assert leaked not in text


@pytest.mark.django_db
def test_the_interface_may_not_download_a_pdf_showing_others_results(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    _, final = released_h3
    # when
    response = token_client(people["integrator"]).get(f"/api/v1/reports/{final.pk}/pdf/")
    # then: the PDF (drawn for dr.wilson) shows E-111; the interface may not open E-111
    assert response.status_code == 403
    assert SHOWN not in response.content.decode()
    assert "may not open" in response.json()["message"]


@pytest.mark.django_db
def test_the_ordering_clinician_is_shown_released_earlier_panels_of_other_clinicians_only(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    panel, _ = released_h3
    # when
    response = token_client(people["wilson"]).get(f"/api/v1/panels/{panel.pk}/")
    # then: E-111 (released) and the change and fold computed from it; nothing of E-222
    serial = response.json()["serial"]
    assert [item["accession"] for item in serial["panels"]] == ["E-111", "E-333"]
    il6 = next(trend for trend in serial["analytes"] if trend["analyte"] == "IL6")
    assert [(p["accession"], p["value_text"]) for p in il6["points"]] == [
        ("E-111", SHOWN),
        ("E-333", "12.4"),
    ]
    assert il6["points"][1]["change_from_previous"] == "-975.2"
    assert serial["baseline"] == "E-111"
    assert serial["not_shown"] == {"count": 1, "reason": "not yet released"}
    text = _text(response)
    assert HIDDEN not in text
    assert HIDDEN_CHANGE not in text
    assert "E-222" not in text


@pytest.mark.django_db
def test_the_report_page_and_pdf_show_the_clinician_no_unreleased_panel(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    _, final = released_h3
    client = Client()
    client.force_login(people["wilson"].user)
    # when
    page = client.get(f"/reports/{final.pk}/").content.decode()
    pdf = token_client(people["wilson"]).get(f"/api/v1/reports/{final.pk}/pdf/")
    pdf_text = "\n".join(body_lines(b"".join(pdf.streaming_content)))  # type: ignore[attr-defined]
    # then
    assert pdf.status_code == 200
    for text in (page, pdf_text):
        assert SHOWN in text
        assert OMITTED in text
        assert HIDDEN not in text
        assert HIDDEN_CHANGE not in text
        assert "E-222" not in text


@pytest.mark.django_db
def test_the_worker_draws_the_pdf_for_the_ordering_clinician(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    _, final = released_h3
    # when: the worker's one-statement read, then the document, then the PDF
    document = report_document_build(
        report=final,
        reported_at=datetime(2026, 11, 20, tzinfo=UTC),
        source=report_source_get(report_id=final.pk),
    )
    text = "\n".join(body_lines(render_pdf(document), status=document.status_label))
    # then
    assert document.trend is not None
    assert [column.accession for column in document.trend.columns] == ["E-111", "E-333"]
    assert SHOWN in text
    assert OMITTED in text
    assert HIDDEN not in text
    assert "E-222" not in text


@pytest.mark.django_db
def test_the_lab_sees_the_whole_history(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    panel, _ = released_h3
    client = Client()
    client.force_login(people["technician"].user)
    # when
    answer = token_client(people["technician"]).get(f"/api/v1/panels/{panel.pk}/")
    page = client.get(f"/panels/{panel.pk}/").content.decode()
    # then
    serial = answer.json()["serial"]
    assert [item["accession"] for item in serial["panels"]] == ["E-111", "E-222", "E-333"]
    assert "not_shown" not in serial
    assert HIDDEN_CHANGE in _text(answer)
    # the lab's panel page lists the patient's earlier panels (it prints no serial table)
    assert "E-111" in page
    assert "E-222" in page
    assert "not shown" not in page


@pytest.mark.django_db
def test_a_clinician_without_a_panel_of_the_patient_opens_nothing(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report]
) -> None:
    panel, final = released_h3
    client = token_client(people["house"])
    # then: dr.house ordered E-111 and E-222, not E-333: E-333 and its report stay out of reach
    assert client.get(f"/api/v1/panels/{panel.pk}/").status_code == 404
    assert client.get(f"/api/v1/reports/{final.pk}/pdf/").status_code == 404


# --- The decision, on plain facts ----------------------------------------------------------------


def _facts(*, by: int = 1, orderer: int = 2, state: str = "received", lab: int = 0) -> PanelFacts:
    return PanelFacts(
        lab_id=lab, submitted_by_id=by, ordering_clinician_id=orderer, review_state=state
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("_case", "role", "preliminaries", "expected"),
    [
        ("technician: everything of the lab", Role.TECHNICIAN, False, {"mine", "rel", "other"}),
        ("director: everything of the lab", Role.DIRECTOR, False, {"mine", "rel", "other"}),
        ("clinician: released ones", Role.CLINICIAN, False, {"rel"}),
        ("clinician, preliminaries sent", Role.CLINICIAN, True, {"mine", "rel", "other"}),
        ("integrator: its own", Role.INTEGRATOR, False, {"mine"}),
    ],
)
def test_history_visible_decides_by_role(
    lab: Lab, _case: str, role: str, preliminaries: bool, expected: set[str]
) -> None:
    # given: the viewer submitted (an integrator) or ordered (a clinician) the current panel
    lab.preliminary_reports_to_clinicians = preliminaries
    lab.save()
    viewer = make_staff(username="viewer", lab=lab, role=role).user
    current = _facts(by=viewer.pk, orderer=viewer.pk, state="released", lab=lab.pk)
    earlier = {
        "mine": _facts(by=viewer.pk, orderer=-1, lab=lab.pk),
        "rel": _facts(by=-1, orderer=-1, state=ReviewState.RELEASED, lab=lab.pk),
        "other": _facts(by=-1, orderer=-1, lab=lab.pk),
        "elsewhere": _facts(by=viewer.pk, orderer=viewer.pk, state="released", lab=lab.pk + 1),
    }
    # then
    assert access.history_visible(viewer, current=current, earlier=earlier) == expected


@pytest.mark.django_db
def test_nobody_is_shown_the_history_of_a_panel_they_may_not_open(lab: Lab) -> None:
    clinician = make_staff(username="c", lab=lab, role=Role.CLINICIAN).user
    current = _facts(state="released", lab=lab.pk)  # ordered by someone else
    earlier = {"rel": _facts(state="released", lab=lab.pk)}
    assert access.history_visible(clinician, current=current, earlier=earlier) == set()


# --- Findings measured against a panel not shown -------------------------------------------------


def _fold_rise(status: str) -> Finding:
    return Finding(
        rule_id="DAVILA_2014_FOLD_RISE",
        rule_version="2026.1",
        name="Davila 2014 cytokine fold rise from baseline",
        status=status,
        statement=f"IL-6 rose 10x from baseline {HIDDEN}",
        evidence=[{"input": "IL6", "value": f"12.4 vs baseline {HIDDEN}", "note": ""}],
        missing_inputs=[],
        citation="Davila 2014",
        verified=False,
    )


def test_a_fold_rise_from_a_baseline_not_shown_keeps_none_of_its_values() -> None:
    serial = {"baseline": "E-222", "panels": [{"accession": "E-222"}, {"accession": "E-333"}]}
    finding = _fold_rise(FindingStatus.MET)
    # when
    hidden = findings_shown([finding], serial, "E-333", HistoryShown(frozenset(), True))
    visible = findings_shown([finding], serial, "E-333", HistoryShown(frozenset({"E-222"}), True))
    # then
    assert hidden[0].status == FindingStatus.INDETERMINATE
    assert HIDDEN not in hidden[0].statement
    assert hidden[0].evidence == []
    assert "not shown to this reader" in hidden[0].statement
    assert visible == [finding]
    assert finding.statement.endswith(HIDDEN)  # the stored finding is not changed


def test_a_snapshot_whose_earlier_panels_are_all_shown_is_returned_as_stored() -> None:
    serial = {"panels": [{"accession": "E-111"}, {"accession": "E-333"}], "analytes": []}
    assert serial_shown(serial, "E-333", HistoryShown(frozenset({"E-111"}), True)) == serial
    assert serial_shown(serial, "E-333", None) == serial


# --- Query counts --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("panels", [1, 3])
def test_a_list_reads_the_history_facts_of_its_panels_in_one_query(
    people: dict[str, StaffMember],
    earlier: dict[str, Panel],
    panels: int,
    django_assert_num_queries: Any,
) -> None:
    # given: the interface's panels of the patient, each with earlier panels in its snapshot
    client = token_client(people["integrator"])
    for number in range(panels):
        response = _submit(client, f"E-4{number}", 10 + number, "12.4", "dr.wilson")
        assert response.status_code == 201
    # when / then: the token (2) and membership, count, panels, their two users, results,
    # replaced results, findings, review history, reports (12, as before), and ONE read of the
    # earlier panels' facts (panels.history.history_facts), whatever the length of the list,
    # and the read audit's entry (labpanel.audit)
    with django_assert_num_queries(14):
        listed = client.get("/api/v1/panels/")
    assert len(listed.json()["results"]) == panels
    assert SHOWN not in _text(listed)
    assert HIDDEN not in _text(listed)


@pytest.mark.django_db
def test_a_read_reads_the_history_facts_once_for_serial_and_findings(
    people: dict[str, StaffMember],
    interface_answer: Any,
    django_assert_num_queries: Any,
) -> None:
    client = token_client(people["integrator"])
    pk = interface_answer.json()["id"]
    # when / then: as the list, without the count: 11 as before, ONE read of the facts and the
    # read audit's entry
    with django_assert_num_queries(13):
        detail = client.get(f"/api/v1/panels/{pk}/")
    assert detail.json()["serial"] == {}
