"""Review states: received → verified → released, who may move a panel, the lab's settings,
self-verification, auto-verification and bulk verification, each change recorded with its event.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, StaffMember
from labpanel.events.models import AppendOnlyError, Event, EventKind
from panels.models import Panel, Result, ReviewState, ReviewTransition
from panels.review import AUTO_VERIFICATION_RULE, panel_verify
from panels.review_rules import review_blockers
from reference_ranges.models import Analyte, AssayMeasuringRange
from reports.models import Report, ReportStage
from tests.conftest import token_client
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

NORMAL = [
    {"analyte": "IL-6", "value": "1.8", "unit": "pg/mL"},
    {"analyte": "TNFA", "value": "5.0", "unit": "pg/mL"},
]


def submit(client: APIClient, payload: dict[str, Any], results: list[dict[str, str]]) -> Panel:
    payload["results"] = results
    response = client.post("/api/v1/panels/", payload, format="json")
    assert response.status_code == 201, response.json()
    return Panel.objects.get(pk=response.json()["id"])


def set_lab(lab: Lab, **settings: bool) -> None:
    for name, value in settings.items():
        setattr(lab, name, value)
    lab.save()


@pytest.fixture
def panel(technician_client: APIClient, panel_payload: dict[str, Any]) -> Panel:
    """A panel the technician submitted (IL-6 high, TNFA censored): received."""
    return submit(technician_client, panel_payload, panel_payload["results"])


def verify(staff: StaffMember, panel: Panel, **body: Any) -> Any:
    return token_client(staff).post(f"/api/v1/panels/{panel.pk}/verify/", body, format="json")


def release(staff: StaffMember, panel: Panel) -> Any:
    return token_client(staff).post(f"/api/v1/panels/{panel.pk}/release/", {}, format="json")


# --- Transitions and who may make them -----------------------------------------------------


def test_a_director_verifies_with_a_reason_recorded_with_its_event(
    panel: Panel, director: StaffMember
) -> None:
    response = verify(director, panel, reason="IL-6 checked against the QC run")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["review_state"] == "verified"
    [entry] = body["review_history"]
    assert entry["from_state"] == "received"
    assert entry["to_state"] == "verified"
    assert entry["by"] == "director"
    assert entry["automatic"] is False
    assert entry["rule"] is None
    assert entry["reason"] == "IL-6 checked against the QC run"
    assert entry["report"] is None
    event = Event.objects.get(kind=EventKind.PANEL_VERIFIED)
    transition = ReviewTransition.objects.get(panel=panel)
    assert (event.panel_id, event.actor_id, event.lab_id) == (
        panel.pk,
        director.user_id,
        panel.lab_id,
    )
    assert event.payload == {
        "accession": panel.accession,
        "from_state": "received",
        "to_state": "verified",
        "automatic": False,
        "rule": None,
        "transition_id": transition.pk,
        "report_id": None,
    }


@pytest.mark.parametrize(
    ("_case", "settings", "status", "message"),
    [
        ("default: technicians verify", {}, 200, None),
        (
            "lab keeps verification to directors",
            {"technicians_may_verify": False},
            403,
            "technicians may not verify results in this lab; a director verifies",
        ),
    ],
)
def test_a_technician_verifies_where_the_lab_allows_it(
    panel: Panel,
    lab: Lab,
    director: StaffMember,
    _case: str,
    settings: dict[str, bool],
    status: int,
    message: str | None,
) -> None:
    set_lab(lab, **settings)
    colleague = make_staff(username="tech2", lab=lab, role="technician")  # not the submitter

    response = verify(colleague, panel)

    assert response.status_code == status, response.json()
    if message is not None:
        assert response.json() == {"code": "permission_denied", "message": message, "details": []}
        assert not ReviewTransition.objects.exists()
        assert not Event.objects.filter(kind=EventKind.PANEL_VERIFIED).exists()


def test_self_verification_is_refused_unless_the_lab_allows_it(
    panel: Panel, lab: Lab, technician: StaffMember
) -> None:
    refused = verify(technician, panel)

    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "self-verification is not allowed in this lab: someone other than the person who "
        "submitted the panel verifies it"
    )
    panel.refresh_from_db()
    assert panel.review_state == ReviewState.RECEIVED
    assert not ReviewTransition.objects.exists()

    set_lab(lab, self_verification_allowed=True)
    allowed = verify(technician, panel)

    assert allowed.status_code == 200, allowed.json()
    assert allowed.json()["review_state"] == "verified"


def test_a_director_is_refused_self_verification_too(
    reference_data: None, director: StaffMember, clinician: StaffMember, panel_payload: Any
) -> None:
    panel = submit(token_client(director), panel_payload, NORMAL)

    response = verify(director, panel)

    assert response.status_code == 403
    assert response.json()["message"].startswith("self-verification is not allowed in this lab")


@pytest.mark.parametrize("role", ["integrator", "clinician"])
def test_integrators_and_clinicians_never_verify_or_release(
    panel: Panel, lab: Lab, role: str, director: StaffMember
) -> None:
    set_lab(lab, preliminary_reports_to_clinicians=True, technicians_may_release=True)
    # the integrator sees the panels it submitted; the clinician sees the ordered panel
    panel.submitted_by = (
        make_staff(username="iface", lab=lab, role=role).user
        if role == "integrator"
        else panel.submitted_by
    )
    panel.save(update_fields=["submitted_by"])
    staff = panel.submitted_by.staff if role == "integrator" else panel.ordering_clinician.staff

    refused_verify = verify(staff, panel)
    assert verify(director, panel).status_code == 200
    refused_release = release(staff, panel)

    plural = {"integrator": "integrators", "clinician": "clinicians"}[role]
    assert refused_verify.status_code == 403
    assert refused_verify.json()["message"] == (
        f"{plural} never verify results; the lab's directors and technicians do"
    )
    assert refused_release.status_code == 403
    assert refused_release.json()["message"] == (
        f"{plural} never release results; the lab's directors and technicians do"
    )
    panel.refresh_from_db()
    assert panel.review_state == ReviewState.VERIFIED
    assert not Report.objects.filter(stage=ReportStage.FINAL).exists()


@pytest.mark.parametrize(
    ("_case", "state", "action", "message"),
    [
        ("verify twice", "verified", "verify", "is already verified"),
        ("verify after release", "released", "verify", "is already released"),
        ("release before verification", "received", "release", "must be verified before"),
        ("release twice", "released", "release", "is already released"),
    ],
)
def test_a_transition_from_the_wrong_state_is_a_conflict(
    panel: Panel, director: StaffMember, _case: str, state: str, action: str, message: str
) -> None:
    if state in ("verified", "released"):
        assert verify(director, panel).status_code == 200
    if state == "released":
        assert release(director, panel).status_code == 202
    transitions = ReviewTransition.objects.count()
    reports = Report.objects.count()

    response = (verify if action == "verify" else release)(director, panel)

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "conflict"
    assert message in response.json()["message"]
    assert response.json()["details"] == [{"field": "review_state", "message": state}]
    assert ReviewTransition.objects.count() == transitions
    assert Report.objects.count() == reports


@pytest.mark.parametrize(
    ("_case", "role", "settings", "status", "message"),
    [
        ("director", "director", {}, 202, None),
        (
            "technician, default",
            "technician",
            {},
            403,
            "technicians may not release reports in this lab; a director releases",
        ),
        ("technician, lab allows it", "technician", {"technicians_may_release": True}, 202, None),
    ],
)
def test_who_releases_depends_on_role_and_lab_setting(
    panel: Panel,
    lab: Lab,
    director: StaffMember,
    technician: StaffMember,
    _case: str,
    role: str,
    settings: dict[str, bool],
    status: int,
    message: str | None,
) -> None:
    set_lab(lab, **settings)
    assert verify(director, panel).status_code == 200
    staff = {"director": director, "technician": technician}[role]

    response = release(staff, panel)

    assert response.status_code == status, response.json()
    if message:
        assert response.json() == {"code": "permission_denied", "message": message, "details": []}
        assert not Report.objects.filter(stage=ReportStage.FINAL).exists()
        assert not Event.objects.filter(kind=EventKind.PANEL_RELEASED).exists()
    else:
        final = Report.objects.get(stage=ReportStage.FINAL)
        body = response.json()
        assert body["review_state"] == "released"
        assert body["report"]["id"] == final.pk
        assert body["report"]["stage"] == "final"
        assert body["review_history"][-1]["report"] == final.pk
        event = Event.objects.get(kind=EventKind.PANEL_RELEASED)
        assert (event.report_id, event.payload["report_id"]) == (final.pk, final.pk)


def test_interpretive_findings_are_released_only_by_a_director(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    lab: Lab,
    director: StaffMember,
    technician: StaffMember,
) -> None:
    # given: HScore and HLH-2004 evaluated from the clinical data sent with the panel
    set_lab(lab, technicians_may_release=True)
    panel_payload["clinical"] = {"temperature_c": "39.6", "splenomegaly": True}
    panel_payload["results"] = [{"analyte": "FERRITIN", "value": "2500", "unit": "ng/mL"}]
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    panel = Panel.objects.get(pk=response.json()["id"])
    assert {f["rule_id"] for f in response.json()["findings"] if f["status"] != "not_evaluated"}
    assert verify(director, panel).status_code == 200

    refused = release(technician, panel)
    released = release(director, panel)

    assert refused.status_code == 403
    assert refused.json()["message"] == (
        "a panel with interpretive findings (HLH-2004, HScore, ASTCT grade) is released only "
        "by a director"
    )
    assert released.status_code == 202, released.json()


def test_another_labs_director_sees_nothing(panel: Panel) -> None:
    stranger = make_staff(username="elsewhere", lab=make_lab(name="Other"), role="director")

    assert verify(stranger, panel).status_code == 404
    assert release(stranger, panel).status_code == 404


# --- Auto-verification ---------------------------------------------------------------------


def test_auto_verification_is_off_by_default(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel = submit(technician_client, panel_payload, NORMAL)

    assert panel.review_state == ReviewState.RECEIVED
    assert not ReviewTransition.objects.exists()


def test_auto_verification_verifies_an_all_normal_panel_naming_its_rule(
    technician_client: APIClient, panel_payload: dict[str, Any], lab: Lab
) -> None:
    set_lab(lab, auto_verification_enabled=True)

    panel = submit(technician_client, panel_payload, NORMAL)

    assert panel.review_state == ReviewState.VERIFIED
    transition = ReviewTransition.objects.get(panel=panel)
    assert transition.actor_id is None
    assert transition.rule == AUTO_VERIFICATION_RULE
    assert (transition.from_state, transition.to_state) == ("received", "verified")
    kinds = list(Event.objects.filter(panel_id=panel.pk).values_list("kind", flat=True))
    assert kinds == [EventKind.PANEL_STORED, EventKind.PANEL_VERIFIED]
    event = Event.objects.get(kind=EventKind.PANEL_VERIFIED)
    assert event.actor_id is None
    assert event.payload["automatic"] is True
    assert event.payload["rule"] == AUTO_VERIFICATION_RULE
    # before release the report is still a preliminary one
    assert panel.reports.get().stage == ReportStage.PRELIMINARY


@pytest.mark.parametrize(
    ("_case", "results"),
    [
        ("outside its interval", [{"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"}]),
        ("censored, though N", [{"analyte": "IL-10", "value": "<2.0", "unit": "pg/mL"}]),
        ("extrapolated below the LLOQ", [{"analyte": "IL-6", "value": "0.9", "unit": "pg/mL"}]),
    ],
)
def test_auto_verification_leaves_a_panel_waiting_and_says_nothing(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    lab: Lab,
    _case: str,
    results: list[dict[str, str]],
) -> None:
    set_lab(lab, auto_verification_enabled=True)
    AssayMeasuringRange.objects.create(
        lab=lab,
        analyte=Analyte.objects.get(code="IL6"),
        assay="Test IL-6",
        lloq=Decimal("1.5"),
        uloq=Decimal("5000"),
        unit="pg/mL",
        effective_from=dt.date(2020, 1, 1),
        source="package insert",
    )

    panel = submit(technician_client, panel_payload, [*results, NORMAL[1]])

    assert panel.review_state == ReviewState.RECEIVED
    assert not ReviewTransition.objects.exists()
    assert not Event.objects.filter(kind=EventKind.PANEL_VERIFIED).exists()


def test_auto_verification_never_takes_a_result_no_interval_judged_for_normal(
    technician_client: APIClient, panel_payload: dict[str, Any], lab: Lab
) -> None:
    # given: a child, for whom the adult intervals do not apply
    set_lab(lab, auto_verification_enabled=True)
    panel_payload["patient"]["birth_date"] = "2020-01-01"

    panel = submit(technician_client, panel_payload, NORMAL)

    assert set(panel.results.values_list("interpretation", flat=True)) == {""}
    assert panel.review_state == ReviewState.RECEIVED
    assert not ReviewTransition.objects.exists()


def _result(code: str, interpretation: str, value: str = "1", comparator: str = "") -> Result:
    analyte = Analyte.objects.get(code=code)
    return Result(
        analyte=analyte,
        value=Decimal(value),
        value_scale=0,
        comparator=comparator,
        unit="pg/mL",
        interpretation=interpretation,
    )


def test_review_blockers_name_every_disqualifying_condition(reference_data: None) -> None:
    results = [
        _result("IL6", "N"),
        _result("IL10", "HH", "900"),
        _result("TNFA", ""),
        _result("IL8", "H", "20"),
        _result("IFNG", "<", "2", "<"),
    ]

    blockers = review_blockers(results=results, met_findings=["Herold 2020"], ranges={})

    assert [(blocker.code, blocker.message) for blocker in blockers] == [
        ("critical", "IL-10: critical value (HH)"),
        ("no_interval", "TNF-α: no reference interval judged this result"),
        ("outside_interval", "IL-8: not within its reference interval (H)"),
        ("outside_measuring_range", "IFN-γ: <2 is censored at a measuring limit"),
        ("finding_met", "finding met: Herold 2020"),
    ]
    assert review_blockers(results=[], met_findings=[], ranges={})[0].code == "no_results"
    assert review_blockers(results=results[:1], met_findings=[], ranges={}) == []


# --- Bulk verification ---------------------------------------------------------------------


def test_bulk_verification_verifies_only_all_normal_panels_and_says_why_not(
    technician_client: APIClient, panel_payload: dict[str, Any], director: StaffMember
) -> None:
    normal = submit(technician_client, panel_payload, NORMAL)
    panel_payload["accession"] = "A-1002"
    already = submit(technician_client, panel_payload, NORMAL[1:])
    panel_payload["accession"] = "A-1003"
    flagged = submit(
        technician_client, panel_payload, [{"analyte": "IL-6", "value": "12.4", "unit": "pg/mL"}]
    )
    assert verify(director, already).status_code == 200

    response = token_client(director).post(
        "/api/v1/panels/verify/",
        {"ids": [normal.pk, flagged.pk, already.pk, 999999]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "verified": [normal.pk],
        "refused": [
            {
                "id": flagged.pk,
                "code": "not_all_normal",
                "message": "not every result is within its interval; verify it on its own",
                "blockers": [
                    {
                        "code": "outside_interval",
                        "message": "IL-6: not within its reference interval (H)",
                    }
                ],
            },
            {
                "id": already.pk,
                "code": "conflict",
                "message": "panel A-1002 is already verified",
                "blockers": [],
            },
            {"id": 999999, "code": "not_found", "message": "no such panel", "blockers": []},
        ],
    }
    assert Panel.objects.get(pk=normal.pk).review_state == ReviewState.VERIFIED
    assert Panel.objects.get(pk=flagged.pk).review_state == ReviewState.RECEIVED


def test_bulk_verification_refuses_self_verification_per_panel(
    technician_client: APIClient, panel_payload: dict[str, Any], technician: StaffMember
) -> None:
    normal = submit(technician_client, panel_payload, NORMAL)

    response = token_client(technician).post(
        "/api/v1/panels/verify/", {"ids": [normal.pk]}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["verified"] == []
    assert response.json()["refused"][0]["code"] == "permission_denied"
    assert response.json()["refused"][0]["message"].startswith("self-verification")


# --- The record ----------------------------------------------------------------------------


def test_a_transition_and_its_event_commit_or_roll_back_together(
    panel: Panel, director: StaffMember
) -> None:
    seen: list[tuple[bool, bool]] = []

    def verify_then_fail() -> None:
        with transaction.atomic():
            panel_verify(panel_id=panel.pk, user=director.user)
            seen.append(
                (
                    ReviewTransition.objects.filter(panel=panel).exists(),
                    Event.objects.filter(kind=EventKind.PANEL_VERIFIED).exists(),
                )
            )
            raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        verify_then_fail()

    assert seen == [(True, True)]  # written together inside the transaction

    panel.refresh_from_db()
    assert panel.review_state == ReviewState.RECEIVED
    assert not ReviewTransition.objects.exists()
    assert not Event.objects.filter(kind=EventKind.PANEL_VERIFIED).exists()


def test_review_transitions_are_append_only(panel: Panel, director: StaffMember) -> None:
    assert verify(director, panel).status_code == 200
    transition = ReviewTransition.objects.get()

    with pytest.raises(AppendOnlyError):
        transition.save()
    with pytest.raises(AppendOnlyError):
        ReviewTransition.objects.update(reason="changed")
    with pytest.raises(AppendOnlyError):
        ReviewTransition.objects.all().delete()


def test_the_review_endpoints_are_in_the_openapi_schema(technician_client: APIClient) -> None:
    response = technician_client.get(
        "/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )

    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    # their own answers, and the ones every operation with an id and a body may give (422:
    # an Idempotency-Key reused with another body; 409 they document themselves)
    shared = {"400", "401", "403", "404", "413", "415", "422", "503"}
    assert set(paths["/api/v1/panels/{id}/verify/"]["post"]["responses"]) == {"200", "409", *shared}
    assert set(paths["/api/v1/panels/{id}/release/"]["post"]["responses"]) == {
        "202",
        "409",
        *shared,
    }
    assert paths["/api/v1/panels/verify/"]["post"]["operationId"] == "panels_verify_bulk"
    panel = schema["components"]["schemas"]["PanelOutput"]["properties"]
    assert {"review_state", "review_history"} <= set(panel)
    assert schema["components"]["schemas"]["ReviewStateEnum"]["enum"] == [
        "received",
        "verified",
        "released",
    ]
