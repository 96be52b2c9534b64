"""Who sees a patient's history (issue 13): the earlier panels beside a panel, in every output.

One patient (MRN-77) of one lab, three panels, each with a unique IL-6 value:

- ``E-111`` (IL-6 987.6, marked baseline): submitted by the technician for dr.house, released;
- ``E-222`` (IL-6 876.5): submitted by the technician for dr.house, not released;
- ``E-333`` (IL-6 12.4): submitted by the interface for dr.wilson.

The interface may open E-333 only; dr.wilson, E-333's clinician, is shown the released E-111
beside it (a cumulative report) and, the patient being in their care once E-333 is released, may
open it too, but never E-222; the technician sees all three. The rule checked throughout: a
caller is shown only panels they may open. Assertions are on the values (987.6, 876.5 and the
change from E-222, -864.1, that would reveal it), not only on counts.
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
from panels.history import (
    HistoryShown,
    findings_shown,
    history_facts,
    panel_facts,
    serial_shown,
)
from panels.models import Finding, FindingStatus, Panel, ReviewState, finding_text
from reports.document_builder import report_document_build
from reports.models import Report
from reports.rendering import render_pdf
from reports.selectors import report_source_get
from reports.services import report_render
from tests.conftest import EXAMPLE_PANEL, token_client
from tests.factories import make_lab, make_staff
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
    mrn: str | None = None,
) -> Any:
    payload = copy.deepcopy(EXAMPLE_PANEL)
    payload["accession"] = accession
    if mrn is not None:
        payload["patient"]["mrn"] = mrn
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
def test_a_clinician_without_a_panel_they_may_open_of_the_patient_opens_nothing(
    people: dict[str, StaffMember], interface_answer: Any
) -> None:
    # given: E-333, dr.wilson's only panel of the patient, is not released (the lab sends no
    # preliminary reports): the patient is not (yet) in dr.wilson's care
    client = token_client(people["wilson"])
    first = Panel.objects.get(accession="E-111")
    # then: neither E-333 nor dr.house's released E-111 and its report
    assert client.get(f"/api/v1/panels/{interface_answer.json()['id']}/").status_code == 404
    assert client.get(f"/api/v1/panels/{first.pk}/").status_code == 404
    assert client.get(f"/api/v1/reports/{first.reports.get(stage='final').pk}/").status_code == 404
    assert client.get("/api/v1/panels/").json()["results"] == []


@pytest.fixture
def care(
    people: dict[str, StaffMember], released_h3: tuple[Panel, Report], lab: Lab
) -> dict[str, Panel]:
    """Beside the patient's E-111 (dr.house, released), E-222 (dr.house, not released) and E-333
    (dr.wilson, released): E-444, dr.wilson's second released panel of the patient (so that a
    join over the patient's panels would list E-111 twice); Q-1, dr.house's released panel of
    another patient (MRN-88); X-1, a released panel of the MRN MRN-77 in another lab (another
    patient). E-111's FINAL report is rendered."""
    technician = token_client(people["technician"])
    assert _submit(technician, "E-444", 12, "15.0", "dr.wilson").status_code == 201
    verify_and_release(Panel.objects.get(accession="E-444"), people["director"])
    assert _submit(technician, "Q-1", 3, "40.0", "dr.house", mrn="MRN-88").status_code == 201
    verify_and_release(Panel.objects.get(accession="Q-1"), people["director"])
    elsewhere = make_lab(name="Elsewhere")
    make_staff(username="dr.cuddy", lab=elsewhere, role=Role.CLINICIAN)
    their_tech = make_staff(username="their.tech", lab=elsewhere, role=Role.TECHNICIAN)
    their_director = make_staff(username="their.director", lab=elsewhere, role=Role.DIRECTOR)
    assert _submit(token_client(their_tech), "X-1", 4, "50.0", "dr.cuddy").status_code == 201
    verify_and_release(Panel.objects.get(accession="X-1"), their_director)
    first = Panel.objects.get(accession="E-111")
    report_render(report_id=first.reports.get(stage="final").pk)
    return {
        accession: Panel.objects.get(accession=accession)
        for accession in ("E-111", "E-222", "E-333", "E-444", "Q-1", "X-1")
    }


@pytest.mark.django_db
def test_a_clinician_opens_the_released_panels_of_a_patient_in_their_care(
    people: dict[str, StaffMember], care: dict[str, Panel]
) -> None:
    client = token_client(people["wilson"])
    first = care["E-111"]
    final = first.reports.get(stage="final")
    # when
    panel = client.get(f"/api/v1/panels/{first.pk}/")
    report = client.get(f"/api/v1/reports/{final.pk}/")
    pdf = client.get(f"/api/v1/reports/{final.pk}/pdf/")
    # then: dr.house's released E-111, its FINAL report and PDF
    assert (panel.status_code, report.status_code, pdf.status_code) == (200, 200, 200)
    assert panel.json()["results"][0]["value"] == SHOWN
    assert pdf["Content-Type"] == "application/pdf"
    # and not the unreleased E-222 (nor its PRELIMINARY report), nor a patient not in their care,
    # nor another lab's patient of the same MRN
    for accession in ("E-222", "Q-1", "X-1"):
        other = care[accession]
        assert client.get(f"/api/v1/panels/{other.pk}/").status_code == 404, accession
        for item in other.reports.all():
            assert client.get(f"/api/v1/reports/{item.pk}/").status_code == 404, accession
            assert client.get(f"/api/v1/reports/{item.pk}/pdf/").status_code == 404, accession


@pytest.mark.django_db
def test_a_clinicians_list_holds_each_panel_of_their_care_once(
    people: dict[str, StaffMember], care: dict[str, Panel], django_assert_num_queries: Any
) -> None:
    client = token_client(people["wilson"])
    # when / then: the token with its user and membership (one statement), count, the page
    # (the care subquery inside the scope; each panel's stored summary and reports) and the
    # read audit's entry, as the interface's list (a summary shows nothing of the history: no
    # facts to read)
    with django_assert_num_queries(4):
        listed = client.get("/api/v1/panels/")
    # then: E-111 once, although dr.wilson ordered two panels of the patient
    accessions = [item["accession"] for item in listed.json()["results"]]
    assert sorted(accessions) == ["E-111", "E-333", "E-444"]
    assert listed.json()["count"] == 3
    # the reports they may open: those of the same panels, each once
    reports = Report.objects.filter(access.reports_scope(people["wilson"].user))
    assert sorted(reports.values_list("panel__accession", flat=True)) == sorted(
        Report.objects.filter(
            panel__in=[care["E-111"], care["E-333"], care["E-444"]], stage="final"
        ).values_list("panel__accession", flat=True)
    )


@pytest.mark.django_db
def test_every_history_point_a_clinician_is_shown_is_a_panel_they_may_open(
    people: dict[str, StaffMember], care: dict[str, Panel]
) -> None:
    client = token_client(people["wilson"])
    for accession in ("E-333", "E-444"):
        panel = care[accession]
        serial = client.get(f"/api/v1/panels/{panel.pk}/").json()["serial"]
        final = panel.reports.get(stage="final")
        report_render(report_id=final.pk)
        document = report_document_build(
            report=Report.objects.get(pk=final.pk),
            reported_at=datetime(2026, 11, 20, tzinfo=UTC),
            viewer=people["wilson"].user,
        )
        assert document.trend is not None
        shown = {item["accession"] for item in [*serial["panels"], *serial.get("excluded", [])]}
        shown |= {column.accession for column in document.trend.columns}
        assert "E-111" in shown
        assert "E-222" not in shown
        # then: every point is a panel dr.wilson opens
        for point in shown:
            pk = Panel.objects.get(lab=panel.lab, accession=point).pk
            assert client.get(f"/api/v1/panels/{pk}/").status_code == 200, (accession, point)


@pytest.mark.django_db
def test_the_decision_on_facts_agrees_with_the_scope(
    people: dict[str, StaffMember], care: dict[str, Panel]
) -> None:
    # given: the facts of the patient's panels as panels.history reads them (one query)
    newest = care["E-444"]
    earlier = history_facts([newest])[newest.pk]
    facts = {**earlier, "E-444": panel_facts(newest, earlier)}
    assert set(facts) == {"E-111", "E-222", "E-333", "E-444"}
    viewers = [*people.values(), StaffMember.objects.get(user__username="dr.cuddy")]
    for staff in viewers:
        user = staff.user
        access.staff_forget(user)
        opened = set(
            Panel.objects.filter(access.panels_scope(user), accession__in=facts).values_list(
                "accession", flat=True
            )
        )
        # then
        decided = {accession for accession, item in facts.items() if access.panel_open(user, item)}
        assert decided == opened, staff.user.username
    assert {
        accession
        for accession, item in facts.items()
        if access.panel_open(people["house"].user, item)
    } == {"E-111", "E-333", "E-444"}


# --- The decision, on plain facts ----------------------------------------------------------------


def _facts(
    *,
    by: int = 1,
    orderer: int = 2,
    state: str = "received",
    lab: int = 0,
    orders: frozenset[tuple[int | None, str]] = frozenset(),
) -> PanelFacts:
    return PanelFacts(
        lab_id=lab,
        submitted_by_id=by,
        ordering_clinician_id=orderer,
        review_state=state,
        patient_orders=orders,
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
    # the patient's orders (the care fact): the viewer's released current panel, the others'
    orders = frozenset({(viewer.pk, "released"), (-1, "received"), (-1, "released")})
    current = _facts(by=viewer.pk, orderer=viewer.pk, state="released", lab=lab.pk, orders=orders)
    earlier = {
        "mine": _facts(by=viewer.pk, orderer=-1, lab=lab.pk, orders=orders),
        "rel": _facts(by=-1, orderer=-1, state=ReviewState.RELEASED, lab=lab.pk, orders=orders),
        "other": _facts(by=-1, orderer=-1, lab=lab.pk, orders=orders),
        "elsewhere": _facts(
            by=viewer.pk, orderer=viewer.pk, state="released", lab=lab.pk + 1, orders=orders
        ),
    }
    # then
    assert access.history_visible(viewer, current=current, earlier=earlier) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_history_whole_in_scope_holds_for_every_panel_the_scope_holds(lab: Lab, role: str) -> None:
    """A read of many panels skips the snapshots for such a reader (the FHIR report search)."""
    viewer = make_staff(username="viewer", lab=lab, role=role).user
    make_lab(name="Another lab")

    whole = access.history_whole_in_scope(viewer)

    assert whole == (role in (Role.TECHNICIAN, Role.DIRECTOR))
    if whole:
        # the scope is the viewer's lab, whose every patient's whole history the viewer sees
        assert Panel.objects.filter(access.panels_scope(viewer)).query.where == (
            Panel.objects.filter(lab_id=lab.pk).query.where
        )
        assert access.history_whole(viewer, lab_id=lab.pk)


@pytest.mark.django_db
def test_nobody_is_shown_the_history_of_a_panel_they_may_not_open(lab: Lab) -> None:
    clinician = make_staff(username="c", lab=lab, role=Role.CLINICIAN).user
    # ordered by someone else, of a patient the clinician ordered only an unreleased panel of
    orders = frozenset({(2, "released"), (clinician.pk, "verified")})
    current = _facts(state="released", lab=lab.pk, orders=orders)
    earlier = {"rel": _facts(state="released", lab=lab.pk, orders=orders)}
    assert access.history_visible(clinician, current=current, earlier=earlier) == set()
    assert not access.panel_open(clinician, earlier["rel"])


@pytest.mark.django_db
@pytest.mark.parametrize("preliminaries", [False, True])
def test_a_clinician_opens_a_panel_of_a_patient_in_their_care(
    lab: Lab, preliminaries: bool
) -> None:
    lab.preliminary_reports_to_clinicians = preliminaries
    lab.save()
    clinician = make_staff(username="c", lab=lab, role=Role.CLINICIAN).user
    in_care = frozenset({(2, "released"), (2, "received"), (clinician.pk, "released")})
    not_in_care = frozenset({(2, "released"), (2, "received"), (clinician.pk, "received")})
    # then: another's released panel of a patient in their care; an unreleased one only where
    # the lab sends preliminary reports; where their own panel is unreleased, only then too
    assert access.panel_open(clinician, _facts(state="released", lab=lab.pk, orders=in_care))
    assert (
        access.panel_open(clinician, _facts(state="received", lab=lab.pk, orders=in_care))
        is preliminaries
    )
    assert (
        access.panel_open(clinician, _facts(state="released", lab=lab.pk, orders=not_in_care))
        is preliminaries
    )
    assert not access.panel_open(
        clinician, _facts(state="released", lab=lab.pk + 1, orders=in_care)
    )


# --- Findings measured against a panel not shown -------------------------------------------------


def _fold_rise(status: str) -> Finding:
    return Finding(
        rule_id="DAVILA_2014_FOLD_RISE",
        rule_version="2026.1",
        status=status,
        text=finding_text(
            rule_id="DAVILA_2014_FOLD_RISE",
            rule_version="2026.1",
            name="Davila 2014 cytokine fold rise from baseline",
            statement=f"IL-6 rose 10x from baseline {HIDDEN}",
            citation="Davila 2014",
            verified=False,
            verification_note="",
        ),
        evidence=[{"input": "IL6", "value": f"12.4 vs baseline {HIDDEN}", "note": ""}],
        missing_inputs=[],
    )


def test_a_fold_rise_from_a_baseline_not_shown_keeps_none_of_its_values() -> None:
    serial = {"baseline": "E-222", "panels": [{"accession": "E-222"}, {"accession": "E-333"}]}
    finding = _fold_rise(FindingStatus.MET)
    # when
    hidden = findings_shown([finding], serial, "E-333", HistoryShown(frozenset(), True))
    visible = findings_shown([finding], serial, "E-333", HistoryShown(frozenset({"E-222"}), True))
    # then
    assert hidden[0].status == FindingStatus.INDETERMINATE
    assert HIDDEN not in hidden[0].text.statement
    assert hidden[0].evidence == []
    assert "not shown to this reader" in hidden[0].text.statement
    assert visible == [finding]
    assert finding.text.statement.endswith(HIDDEN)  # the stored finding is not changed


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
    # when / then: the token with its user and membership (one statement), count, the page
    # (each panel's stored summary and its reports: panels.documents), whatever the length of
    # the list, and the read audit's entry (labpanel.audit); a summary shows nothing of the
    # history
    with django_assert_num_queries(4):
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
    # when / then: the token with its user and membership (one statement), the stored
    # document with the read audit's entry (a reader not shown the whole history of a panel
    # showing earlier panels: built from the records instead, its entry already written), the
    # panels' reads (panels, two users, results, replaced results, findings, review history,
    # reports) and ONE read of the facts
    with django_assert_num_queries(11):
        detail = client.get(f"/api/v1/panels/{pk}/")
    assert detail.json()["serial"] == {}
