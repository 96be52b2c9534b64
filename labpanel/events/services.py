"""Writing domain events: one at a time or many in one statement, always in the caller's
transaction.

A change others react to records its event here, inside the ``transaction.atomic`` block that
makes the change: if the change rolls back, so does its event, and an event is never written
for a change that did not commit. The broker plays no part: consumers read the record itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from labpanel.events.models import DEMOGRAPHIC_KINDS, Event, EventKind

# Keys a payload must never carry: events are read by outside consumers (webhooks).
FORBIDDEN_PAYLOAD_KEYS = frozenset(
    {"family_name", "given_name", "name", "patient_name", "birth_date", "mrn", "sex"}
)


class EventOutsideTransaction(Exception):
    """An event was to be written outside the transaction of the change it records."""


@dataclass(frozen=True, slots=True)
class EventData:
    """One event to write with ``events_record_bulk``."""

    kind: EventKind
    lab_id: int
    actor_id: int | None = None
    panel_id: int | None = None
    report_id: int | None = None
    import_job_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def _in_transaction_check() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise EventOutsideTransaction(
            "an event is written inside the transaction of the change it records"
        )


def _payload_check(payload: Mapping[str, Any], kind: str = "") -> dict[str, Any]:
    if kind in DEMOGRAPHIC_KINDS:
        # The audit of a patient's change: its old and new values, by design (never shared).
        return dict(payload)
    forbidden = FORBIDDEN_PAYLOAD_KEYS.intersection(payload)
    if forbidden:
        raise ValueError(f"event payloads carry ids, never demographics: {sorted(forbidden)}")
    return dict(payload)


def event_build(data: EventData, *, now: datetime) -> Event:
    """The unsaved row of ``data`` (``occurred_at`` defaults to ``now``); raises ``ValueError``
    when its payload names a demographic field."""
    return Event(
        uuid=uuid.uuid4(),
        kind=data.kind,
        occurred_at=data.occurred_at or now,
        lab_id=data.lab_id,
        actor_id=data.actor_id,
        panel_id=data.panel_id,
        report_id=data.report_id,
        import_job_id=data.import_job_id,
        payload=_payload_check(data.payload, data.kind),
    )


def event_record(
    *,
    kind: EventKind,
    lab_id: int,
    actor_id: int | None = None,
    panel_id: int | None = None,
    report_id: int | None = None,
    import_job_id: int | None = None,
    payload: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> Event:
    """Write one event in the caller's transaction (``occurred_at`` defaults to now).

    Raises ``EventOutsideTransaction`` unless called inside ``transaction.atomic``, and
    ``ValueError`` when ``payload`` names a demographic field.
    """
    _in_transaction_check()
    event = event_build(
        EventData(
            kind=kind,
            lab_id=lab_id,
            actor_id=actor_id,
            panel_id=panel_id,
            report_id=report_id,
            import_job_id=import_job_id,
            payload=payload or {},
            occurred_at=occurred_at,
        ),
        now=timezone.now(),
    )
    event.save(force_insert=True)
    return event


def events_record_bulk(*, events: Sequence[EventData]) -> list[Event]:
    """Write ``events`` in one INSERT, in the caller's transaction, their ids in the given
    order. Raises as ``event_record`` does."""
    _in_transaction_check()
    now = timezone.now()
    return Event.objects.bulk_create([event_build(data, now=now) for data in events])
