"""Every way a change others react to is made writes its event in the same transaction: a panel
posted as JSON, sent as HL7 over HTTP or MLLP, imported in bulk; results amended; a report
rendered or failed for good. Refused or rolled-back changes leave no event (a demographics
mismatch leaves only its audit event, ``patient.demographics_mismatch``: ids, no values).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.events.models import Event, EventKind
from panels.intake.hl7.services import hl7_receive_any
from panels.intake.imports.commit import import_job_commit
from panels.intake.imports.services import import_job_commit_request
from panels.models import Finding, ImportJob, ImportStatus, Panel, Transport
from reports.models import FailureKind, Report, ReportStatus
from reports.rendering import RenderError
from reports.services import report_mark_failed, report_render, reports_stalled_requeue
from reports.tasks import render_report_pdf_task
from tests.broker import celery_broker, dead_broker_url
from tests.conftest import token_client
from tests.imports.test_import_jobs import LONG_CSV, upload, validated
from tests.messaging.test_hl7_http import oru, post

pytestmark = pytest.mark.django_db

DEMOGRAPHICS = ("Doe", "Jane", "1980-04-02", "MRN-77", "O&Brien", "Mary", "Roe", "Rick")


def events(*kinds: EventKind) -> list[Event]:
    queryset = Event.objects.order_by("pk")
    return list(queryset.filter(kind__in=kinds) if kinds else queryset)


def assert_no_demographics(event: Event) -> None:
    text = str(event.payload)
    assert not [word for word in DEMOGRAPHICS if word in text], text


@pytest.fixture
def integrator_client(
    reference_data: None, integrator: StaffMember, clinician: StaffMember
) -> APIClient:
    return token_client(integrator)


# --- panels stored --------------------------------------------------------------------------


def test_a_json_post_writes_one_panel_stored_event(
    technician_client: APIClient, technician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == 201
    panel = Panel.objects.get()
    report = panel.reports.get()
    [event] = events()
    assert (event.kind, event.lab_id, event.actor_id) == (
        EventKind.PANEL_STORED,
        panel.lab_id,
        technician.user_id,
    )
    assert (event.panel_id, event.report_id, event.import_job_id) == (panel.pk, report.pk, None)
    assert event.payload == {
        "accession": "A-1001",
        "intake": "api",
        "patient_id": panel.patient_id,
        "report_id": report.pk,
        "results": 2,
    }
    assert event.occurred_at == panel.created_at
    assert_no_demographics(event)


def test_an_identical_resubmission_writes_no_second_event(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    assert (
        technician_client.post("/api/v1/panels/", panel_payload, format="json").status_code == 201
    )
    again = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert again.status_code == 200
    assert len(events()) == 1


@pytest.mark.parametrize(
    ("_case", "change", "status"),
    [
        ("invalid unit", {"results": [{"analyte": "IL-6", "value": "1", "unit": "mg/L"}]}, 400),
        ("other demographics", {"accession": "A-1002", "birth_date": "1981-04-02"}, 409),
        (
            "accession reused",
            {"results": [{"analyte": "IL-6", "value": "9", "unit": "pg/mL"}]},
            409,
        ),
    ],
)
def test_a_refused_submission_writes_no_event(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    _case: str,
    change: dict[str, Any],
    status: int,
) -> None:
    assert (
        technician_client.post("/api/v1/panels/", panel_payload, format="json").status_code == 201
    )
    first = events()
    if "birth_date" in change:
        panel_payload["accession"] = change["accession"]
        panel_payload["patient"]["birth_date"] = change["birth_date"]
    else:
        panel_payload.update(change)

    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")

    assert response.status_code == status, response.json()
    audit = events(EventKind.PATIENT_DEMOGRAPHICS_MISMATCH)
    assert [e for e in events() if e not in audit] == first
    assert len(audit) == (1 if "birth_date" in change else 0)
    for event in audit:
        assert event.panel_id is None
        assert_no_demographics(event)


def test_hl7_over_http_writes_one_event_per_stored_panel(
    integrator_client: APIClient, integrator: StaffMember
) -> None:
    second_patient = (
        "PID|2||MRN-H2^^^HOSP^MR||Smith^John||19700101|M",
        "OBR|2|PL-H-3|H-3|CYTO^Cytokine panel^L|||202611200900+0000||||||||SER|dr.house",
        "OBX|1|NM|26881-3^IL-6^LN||99|pg/mL|||||F",
    )
    response, ack = post(integrator_client, oru(extra_orders=second_patient))

    assert str(ack.segment("MSA")[1]) == "AA", response.content
    stored = events()
    panels = {panel.accession: panel for panel in Panel.objects.all()}
    assert [(e.kind, e.payload["accession"], e.payload["intake"]) for e in stored] == [
        (EventKind.PANEL_STORED, "H-1", "hl7_http"),
        (EventKind.PANEL_STORED, "H-3", "hl7_http"),
    ]
    for event in stored:
        panel = panels[event.payload["accession"]]
        assert (event.panel_id, event.report_id, event.actor_id) == (
            panel.pk,
            panel.reports.get().pk,
            integrator.user_id,
        )
        assert event.payload["results"] == panel.results.count()
        assert_no_demographics(event)
    # the resent message is answered from the archive: nothing new happens, nothing is told
    post(integrator_client, oru(extra_orders=second_patient))
    assert events() == stored


def test_an_hl7_message_refused_after_its_first_panel_was_stored_leaves_no_event(
    integrator_client: APIClient,
) -> None:
    bad_second = (
        "PID|2||MRN-H4^^^HOSP^MR||Smith^Jane||19700101|F",
        "OBR|2|PL-H-5|H-5|CYTO^Cytokine panel^L|||202611200900+0000||||||||SER|dr.house",
        "OBX|1|NM|26881-3^IL-6^LN||99|pg/mL|||||F",
    )
    # H-5 is already taken by another patient: the second order fails after the first is stored
    post(integrator_client, oru("MSG-0", accession="H-5", mrn="MRN-H0"))
    before = events()

    response, ack = post(integrator_client, oru("MSG-2", accession="H-4", extra_orders=bad_second))

    assert str(ack.segment("MSA")[1]) == "AE", response.content
    assert not Panel.objects.filter(accession="H-4").exists()
    assert events() == before


def test_hl7_over_mllp_names_its_transport(
    reference_data: None, integrator: StaffMember, clinician: StaffMember
) -> None:
    outcome = hl7_receive_any(raw=oru(), user=integrator.user, transport=Transport.MLLP)

    assert outcome.ack_code == "AA"
    [event] = events()
    assert (event.kind, event.panel_id, event.payload["intake"]) == (
        EventKind.PANEL_STORED,
        Panel.objects.get(accession="H-1").pk,
        "hl7_mllp",
    )


# --- the bulk import ------------------------------------------------------------------------


def test_an_import_commit_writes_one_event_per_panel_and_one_for_the_import(
    technician_client: APIClient, technician: StaffMember
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")

    import_job_commit(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED
    stored = events()
    assert [event.kind for event in stored] == [
        EventKind.PANEL_STORED,
        EventKind.PANEL_STORED,
        EventKind.IMPORT_COMMITTED,
    ]
    panels = {panel.accession: panel for panel in Panel.objects.all()}
    for event in stored[:2]:
        panel = panels[event.payload["accession"]]
        report = panel.reports.get()
        assert (event.lab_id, event.actor_id, event.import_job_id) == (
            job.lab_id,
            technician.user_id,
            job.pk,
        )
        assert (event.panel_id, event.report_id) == (panel.pk, report.pk)
        assert event.payload == {
            "accession": panel.accession,
            "intake": "import",
            "patient_id": panel.patient_id,
            "report_id": report.pk,
            "results": panel.results.count(),
        }
        assert event.occurred_at == panel.created_at
        assert_no_demographics(event)
    assert sorted(e.payload["accession"] for e in stored[:2]) == ["I-1", "I-2"]
    committed = stored[2]
    assert (committed.lab_id, committed.actor_id, committed.import_job_id) == (
        job.lab_id,
        technician.user_id,
        job.pk,
    )
    assert (committed.panel_id, committed.report_id) == (None, None)
    assert committed.payload == {
        "import_job_uuid": str(job.uuid),
        "intake": "import",
        "panels": 2,
        "results": 5,
        "findings": Finding.objects.count(),
        "patients_created": 2,
    }
    assert committed.occurred_at == job.committed_at


def test_an_import_commit_refused_as_changed_writes_no_event(
    technician_client: APIClient,
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    payload = {
        "accession": "I-2",
        "patient": {
            "mrn": "MRN-OTHER",
            "family_name": "X",
            "given_name": "Y",
            "birth_date": None,
            "sex": "unknown",
        },
        "specimen": {"type": "serum", "collected_at": "2026-11-20T09:00:00Z"},
        "ordering_clinician": "dr.house",
        "results": [{"analyte": "IL-6", "value": "1.0", "unit": "pg/mL"}],
    }
    assert technician_client.post("/api/v1/panels/", payload, format="json").status_code == 201
    before = events()

    import_job_commit(job_id=job.pk)

    assert ImportJob.objects.get(pk=job.pk).status == ImportStatus.REJECTED
    assert events() == before
    assert not events(EventKind.IMPORT_COMMITTED)


def test_an_import_commit_that_crashes_after_storing_its_events_leaves_none(
    technician_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = validated(upload(technician_client, LONG_CSV))
    technician_client.post(f"/api/v1/imports/{job.uuid}/commit/")
    from labpanel.bulk import rows_insert as original

    written: list[int] = []

    def crash_after_events(model: Any, columns: Any, rows: Any) -> int:
        count = original(model, columns, rows)
        if model is Event:
            written.append(Event.objects.count())
            raise RuntimeError("connection lost")
        return count

    monkeypatch.setattr("panels.intake.imports.store.rows_insert", crash_after_events)

    with pytest.raises(RuntimeError):
        import_job_commit(job_id=job.pk)

    assert written == [2]  # they were in the transaction...
    assert events() == []  # ...and went with it
    assert Panel.objects.count() == 0


# --- amendments -----------------------------------------------------------------------------


def _released(client: APIClient, payload: dict[str, Any]) -> tuple[Panel, Report]:
    assert client.post("/api/v1/panels/", payload, format="json").status_code == 201
    panel = Panel.objects.get(accession=payload["accession"])
    report = panel.reports.get()
    report_render(report_id=report.pk)
    return panel, report


def test_an_amendment_writes_results_amended_with_the_amended_report(
    technician_client: APIClient, technician: StaffMember, panel_payload: dict[str, Any]
) -> None:
    panel, original = _released(technician_client, panel_payload)
    before = events()

    response = technician_client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {
            "reason": "Transcription error",
            "results": [{"analyte": "IL-6", "value": "1.24", "unit": "pg/mL"}],
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    amended = Report.objects.get(amends=original)
    [event] = events()[len(before) :]
    assert (event.kind, event.lab_id, event.actor_id) == (
        EventKind.PANEL_RESULTS_AMENDED,
        panel.lab_id,
        technician.user_id,
    )
    assert (event.panel_id, event.report_id, event.import_job_id) == (panel.pk, amended.pk, None)
    assert event.payload == {
        "accession": "A-1001",
        "amendment_kind": "correction",
        "amends_report_id": original.pk,
        "analytes": ["IL6"],
        "intake": "api",
        "report_id": amended.pk,
        "report_stage": "preliminary",
    }
    assert_no_demographics(event)


def test_an_hl7_correction_writes_results_amended_naming_its_transport(
    integrator_client: APIClient,
) -> None:
    post(integrator_client, oru())
    panel = Panel.objects.get(accession="H-1")
    original = panel.reports.get()
    report_render(report_id=original.pk)
    corrected = oru(
        "MSG-2",
        observations=(
            "OBX|1|NM|26881-3^IL-6^LN||1.24|pg/mL|<=7.0|N|||C",
            "OBX|2|SN|3074-2^TNF-alpha^LN||<^2.0|pg/mL|||||F",
        ),
    )

    response, ack = post(integrator_client, corrected)

    assert str(ack.segment("MSA")[1]) == "AA", response.content
    [event] = events(EventKind.PANEL_RESULTS_AMENDED)
    amended = Report.objects.get(amends=original)
    assert (event.panel_id, event.report_id) == (panel.pk, amended.pk)
    assert (event.payload["intake"], event.payload["analytes"]) == ("hl7_http", ["IL6"])


def test_an_amendment_refused_while_the_report_is_pending_writes_no_event(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    assert (
        technician_client.post("/api/v1/panels/", panel_payload, format="json").status_code == 201
    )
    panel = Panel.objects.get()
    before = events()

    response = technician_client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {"reason": "typo", "results": [{"analyte": "IL-6", "value": "1.24", "unit": "pg/mL"}]},
        format="json",
    )

    assert response.status_code == 409
    assert events() == before


# --- reports --------------------------------------------------------------------------------


@pytest.fixture
def report(technician_client: APIClient, panel_payload: dict[str, Any]) -> Report:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201
    return Report.objects.get(pk=response.json()["report"]["id"])


def test_a_report_rendered_by_the_task_writes_report_ready_once(report: Report) -> None:
    render_report_pdf_task(report.pk)
    render_report_pdf_task(report.pk)  # a duplicate message changes nothing

    report.refresh_from_db()
    assert report.status == ReportStatus.READY
    [event] = events(EventKind.REPORT_READY)
    assert (event.lab_id, event.actor_id, event.panel_id, event.report_id) == (
        report.panel.lab_id,
        None,
        report.panel_id,
        report.pk,
    )
    assert event.payload == {
        "accession": "A-1001",
        "amends_report_id": None,
        "report_uuid": str(report.uuid),
        "checksum": report.checksum,
    }
    assert event.occurred_at == report.rendered_at


def test_an_amended_report_becoming_ready_names_the_report_it_amends(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    panel, original = _released(technician_client, panel_payload)
    technician_client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {"reason": "typo", "results": [{"analyte": "IL-6", "value": "1.24", "unit": "pg/mL"}]},
        format="json",
    )
    amended = Report.objects.get(amends=original)

    report_render(report_id=amended.pk)

    ready = events(EventKind.REPORT_READY)
    assert [(e.report_id, e.payload["amends_report_id"]) for e in ready] == [
        (original.pk, None),
        (amended.pk, original.pk),
    ]


def test_a_report_that_fails_for_good_writes_report_failed(report: Report) -> None:
    with mock.patch("reports.services.render_pdf", side_effect=RenderError("font file missing")):
        report_render(report_id=report.pk)

    report.refresh_from_db()
    assert report.status == ReportStatus.FAILED
    assert not events(EventKind.REPORT_READY)
    [event] = events(EventKind.REPORT_FAILED)
    assert (event.lab_id, event.panel_id, event.report_id) == (
        report.panel.lab_id,
        report.panel_id,
        report.pk,
    )
    assert event.payload == {
        "accession": "A-1001",
        "amends_report_id": None,
        "report_uuid": str(report.uuid),
        "failure_kind": "permanent",
        "auto_retries": 0,
    }


def test_a_transient_failure_is_an_event_only_once_no_retry_is_left(
    report: Report, settings: Any
) -> None:
    settings.REPORT_AUTO_RETRY_LIMIT = 1
    report_mark_failed(report_id=report.pk, reason="storage full", kind=FailureKind.TRANSIENT)
    assert not events(EventKind.REPORT_FAILED)  # an automatic retry is ahead

    report.refresh_from_db()
    assert report.next_retry_at is not None
    assert reports_stalled_requeue(waiting=0, now=report.next_retry_at) == [report.pk]
    report_mark_failed(report_id=report.pk, reason="storage full", kind=FailureKind.TRANSIENT)

    [event] = events(EventKind.REPORT_FAILED)
    assert (event.report_id, event.payload["failure_kind"], event.payload["auto_retries"]) == (
        report.pk,
        "transient",
        1,
    )


def test_a_released_report_marked_failed_late_writes_no_event(report: Report) -> None:
    report_render(report_id=report.pk)

    report_mark_failed(report_id=report.pk, reason="late", kind=FailureKind.PERMANENT)

    assert [e.kind for e in events(EventKind.REPORT_READY, EventKind.REPORT_FAILED)] == [
        EventKind.REPORT_READY
    ]


# --- the outbox does not need the broker ----------------------------------------------------


def test_with_the_broker_down_every_stored_change_still_has_its_event(
    technician_client: APIClient,
    panel_payload: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    job = validated(upload(technician_client, LONG_CSV))

    with celery_broker(dead_broker_url()):
        with django_capture_on_commit_callbacks(execute=True):
            response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
        assert response.status_code == 201
        with django_capture_on_commit_callbacks(execute=True):
            import_job_commit_request(job=job, user=job.created_by)
        with django_capture_on_commit_callbacks(execute=True):
            import_job_commit(job_id=job.pk)

    unsent = Report.objects.filter(dispatch_failed_at__isnull=False, status=ReportStatus.PENDING)
    assert unsent.count() == 3  # the broker really was down
    stored = events()
    assert [(e.kind, e.payload.get("accession")) for e in stored] == [
        (EventKind.PANEL_STORED, "A-1001"),
        *sorted((EventKind.PANEL_STORED, a) for a in ("I-1", "I-2")),
        (EventKind.IMPORT_COMMITTED, None),
    ]
    assert {e.panel_id for e in stored if e.panel_id} == set(
        Panel.objects.values_list("pk", flat=True)
    )
