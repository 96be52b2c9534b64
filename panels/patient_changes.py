"""A change of a patient's record in the admin, audited: the row is saved and a
``patient.changed`` event holding every changed field's old and new value is written in the
same transaction (the event record is the audit of changes; this kind is never sent outside the
installation: ``labpanel.events.models.DEMOGRAPHIC_KINDS``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from panels.documents import panel_documents_write
from panels.models import Panel, Patient

# The fields whose change is recorded (``lab`` as its id).
AUDITED_FIELDS = ("lab_id", "mrn", "family_name", "given_name", "birth_date", "sex")


def _text(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def patient_admin_change(*, patient: Patient, user: Any) -> list[str]:
    """Save ``patient`` (already validated by the admin's form) and, when any of
    ``AUDITED_FIELDS`` changed, write ``patient.changed`` with ``fields``, ``old`` and ``new``
    values (the stored row, locked, against ``patient``), actor ``user``. Returns the changed
    fields."""
    with transaction.atomic():
        stored = Patient.objects.select_for_update().get(pk=patient.pk)
        changed = [
            field for field in AUDITED_FIELDS if getattr(stored, field) != getattr(patient, field)
        ]
        patient.save()
        # every panel of the patient shows the record: its documents are written again
        panel_documents_write(
            panel_ids=Panel.objects.filter(patient=patient).values_list("pk", flat=True)
        )
        if changed:
            event_record(
                kind=EventKind.PATIENT_CHANGED,
                lab_id=patient.lab_id,
                actor_id=user.pk,
                payload={
                    "patient_id": patient.pk,
                    "fields": changed,
                    "old": {field: _text(getattr(stored, field)) for field in changed},
                    "new": {field: _text(getattr(patient, field)) for field in changed},
                },
            )
    return changed
