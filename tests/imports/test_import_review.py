"""Imported panels enter review like submitted ones: ``received``, or verified automatically
on commit where the lab has auto-verification on and the panel is all normal."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.events.models import Event, EventKind
from panels.intake.imports.commit import import_job_commit
from panels.models import ImportStatus, Panel, ReviewTransition
from panels.review import AUTO_VERIFICATION_RULE
from tests.imports.test_import_jobs import HEADER, PATIENT_1, PATIENT_2, upload, validated

pytestmark = pytest.mark.django_db

CSV = "\n".join(
    [
        HEADER,
        f"{PATIENT_1},IL-6,1.8,pg/mL",
        f"{PATIENT_1},TNFA,5.0,pg/mL",
        f"{PATIENT_2},IL6,3.1,pg/mL",
        "",
    ]
)


def committed(client: APIClient) -> None:
    job = validated(upload(client, CSV))
    assert client.post(f"/api/v1/imports/{job.uuid}/commit/").status_code == 202
    import_job_commit(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMMITTED, job.status_message


def test_imported_panels_are_received_when_auto_verification_is_off(
    technician_client: APIClient,
) -> None:
    committed(technician_client)

    assert dict(Panel.objects.values_list("accession", "review_state")) == {
        "I-1": "received",
        "I-2": "received",
    }
    assert not ReviewTransition.objects.exists()


def test_an_all_normal_imported_panel_is_verified_automatically(
    technician_client: APIClient, technician: StaffMember
) -> None:
    lab = technician.lab
    lab.auto_verification_enabled = True
    lab.save()

    committed(technician_client)

    assert dict(Panel.objects.values_list("accession", "review_state")) == {
        "I-1": "verified",
        "I-2": "received",  # IL-6 3.1 pg/mL is high
    }
    transition = ReviewTransition.objects.get()
    assert (transition.panel.accession, transition.actor_id, transition.rule) == (
        "I-1",
        None,
        AUTO_VERIFICATION_RULE,
    )
    event = Event.objects.get(kind=EventKind.PANEL_VERIFIED)
    assert event.panel_id == transition.panel_id
    assert event.payload["transition_id"] == transition.pk
    assert event.payload["automatic"] is True
