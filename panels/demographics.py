"""A known MRN sent with other demographics: the refusal, its audit and its rate limit.

A demographic mismatch on a known MRN may be a wrong-patient error, so the submission is
refused (409) and nothing of it is stored. The refusal must not be an oracle:

- only the lab's staff are told which fields differ (``access.demographics_details_allowed``);
  anyone else gets a refusal naming no field and no value;
- every mismatch is audited: a ``patient.demographics_mismatch`` event (ids and the names of
  the differing fields, never a value) written in its own transaction, after the refused
  submission rolled back, so it survives the refusal (an import's, with the job's validation);
- a user refused ``DEMOGRAPHICS_MISMATCH_LIMIT`` times within ``DEMOGRAPHICS_MISMATCH_WINDOW``
  is answered ``TooManyAttempts`` (429 with ``Retry-After``) on any known MRN of the lab until
  the window has passed. The count is read from the event record, so it holds across web
  workers, the MLLP listener and restarts.

``patient_demographics_check`` raises ``DemographicsMismatch`` inside the storing transaction;
the way in turns it into the caller's answer with ``mismatch_refusal`` once that transaction
has rolled back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labpanel.accounts import access
from labpanel.events.models import Event, EventKind
from labpanel.events.services import EventData, event_record, events_record_bulk
from labpanel.exceptions import Conflict, TooManyAttempts
from panels.models import Patient
from panels.submission import PatientData

DEMOGRAPHICS = ("family_name", "given_name", "birth_date", "sex")

MISMATCH_MESSAGE = (
    "the patient with this MRN is registered with different demographics; nothing was stored"
)


class DemographicsMismatch(Conflict):
    """A known MRN sent with other demographics (raised inside the storing transaction; not an
    answer by itself: see ``mismatch_refusal``)."""

    def __init__(self, *, patient: Patient, fields: Sequence[str]) -> None:
        super().__init__(MISMATCH_MESSAGE)
        self.patient_id = patient.pk
        self.lab_id = patient.lab_id
        self.fields = tuple(fields)


def differing_fields(patient: Patient, data: PatientData) -> list[str]:
    """The demographic fields of ``data`` that differ from the registered ``patient``."""
    return [name for name in DEMOGRAPHICS if getattr(patient, name) != getattr(data, name)]


def mismatch_limit_check(*, user_id: int | None, lab_id: int) -> None:
    """Raise ``TooManyAttempts`` when ``user_id`` was refused for mismatches
    ``DEMOGRAPHICS_MISMATCH_LIMIT`` times within the window (one query)."""
    if user_id is None:
        return
    limit: int = settings.DEMOGRAPHICS_MISMATCH_LIMIT
    window = settings.DEMOGRAPHICS_MISMATCH_WINDOW
    now = timezone.now()
    oldest_counted = (
        Event.objects.filter(
            lab_id=lab_id,
            kind=EventKind.PATIENT_DEMOGRAPHICS_MISMATCH,
            actor_id=user_id,
            occurred_at__gt=now - window,
        )
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)[limit - 1 : limit]
    )
    for occurred_at in oldest_counted:
        retry_after = max(1, math.ceil((occurred_at + window - now).total_seconds()))
        raise TooManyAttempts(
            f"too many submissions refused for differing demographics; try again in "
            f"{retry_after} seconds",
            retry_after=retry_after,
        )


def patient_demographics_check(*, patient: Patient, data: PatientData, user_id: int | None) -> None:
    """For a registered ``patient``: refuse a user over the mismatch limit
    (``TooManyAttempts``), then raise ``DemographicsMismatch`` when ``data`` differs."""
    mismatch_limit_check(user_id=user_id, lab_id=patient.lab_id)
    fields = differing_fields(patient, data)
    if fields:
        raise DemographicsMismatch(patient=patient, fields=fields)


def mismatch_audit(*, mismatch: DemographicsMismatch, user_id: int | None, intake: str) -> None:
    """Record ``mismatch`` in the event record, in its own transaction (call it once the
    refused submission has rolled back)."""
    payload: dict[str, Any] = {
        "patient_id": mismatch.patient_id,
        "intake": intake,
        "fields": list(mismatch.fields),
    }
    with transaction.atomic():
        event_record(
            kind=EventKind.PATIENT_DEMOGRAPHICS_MISMATCH,
            lab_id=mismatch.lab_id,
            actor_id=user_id,
            payload=payload,
        )


def import_mismatches_audit(
    *,
    lab_id: int,
    user_id: int,
    import_job_id: int,
    mismatches: Sequence[tuple[int, tuple[str, ...]]],
) -> None:
    """Record the rows of an import naming a known MRN with other demographics, one event
    each, in the caller's transaction (the one that stores the job's validation). Their
    uploader is the lab's staff, told every differing field at its row; imports are not
    rate-limited (a file is one upload)."""
    events_record_bulk(
        events=[
            EventData(
                kind=EventKind.PATIENT_DEMOGRAPHICS_MISMATCH,
                lab_id=lab_id,
                actor_id=user_id,
                import_job_id=import_job_id,
                payload={"patient_id": patient_id, "intake": "import", "fields": list(fields)},
            )
            for patient_id, fields in mismatches
        ]
    )


def mismatch_refusal(*, mismatch: DemographicsMismatch, user: Any, intake: str) -> Conflict:
    """Audit ``mismatch`` (its own transaction: call it once the refused submission has rolled
    back) and return the refusal ``user`` may be given: the differing fields for the lab's
    staff, none for anyone else."""
    mismatch_audit(mismatch=mismatch, user_id=getattr(user, "pk", None), intake=intake)
    if not access.demographics_details_allowed(user, lab_id=mismatch.lab_id):
        return Conflict(MISMATCH_MESSAGE)
    return Conflict(
        f"the patient with this MRN is registered with a different "
        f"{', '.join(mismatch.fields)}; nothing was stored (possible wrong patient: never "
        "merged)",
        details=[
            {"field": f"patient.{field}", "message": "differs from the registered patient"}
            for field in mismatch.fields
        ],
    )
