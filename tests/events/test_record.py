"""The event record itself: written only inside a transaction, in id order, never changed.

On PostgreSQL the append-only rule holds below the ORM too: a trigger refuses raw ``UPDATE`` and
``DELETE``.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from labpanel.events.models import AppendOnlyError, Event, EventKind
from labpanel.events.services import (
    EventData,
    EventOutsideTransaction,
    event_record,
    events_record_bulk,
)


def _stored(**fields: Any) -> Event:
    with transaction.atomic():
        return event_record(kind=EventKind.PANEL_STORED, lab_id=7, panel_id=11, **fields)


@pytest.mark.django_db
def test_an_event_is_stored_with_its_subjects_payload_and_a_fresh_uuid() -> None:
    first = _stored(actor_id=3, report_id=12, payload={"accession": "A-1", "results": 2})
    second = _stored()

    stored = Event.objects.get(pk=first.pk)
    assert (stored.kind, stored.lab_id, stored.actor_id, stored.panel_id, stored.report_id) == (
        "panel.stored",
        7,
        3,
        11,
        12,
    )
    assert stored.import_job_id is None
    assert stored.payload == {"accession": "A-1", "results": 2}
    assert stored.occurred_at is not None
    assert second.pk > first.pk
    assert second.uuid != first.uuid
    assert list(Event.objects.filter(pk__gt=first.pk)) == [second]


@pytest.mark.django_db
def test_many_events_go_in_with_ids_in_the_given_order() -> None:
    with transaction.atomic():
        events = events_record_bulk(
            events=[
                EventData(kind=EventKind.PANEL_STORED, lab_id=1, panel_id=panel_id)
                for panel_id in (30, 10, 20)
            ]
        )

    assert [event.panel_id for event in Event.objects.order_by("pk")] == [30, 10, 20]
    assert [event.pk for event in events] == sorted(event.pk for event in events)


@pytest.mark.django_db
def test_a_payload_naming_a_demographic_field_is_refused() -> None:
    with pytest.raises(ValueError, match="never demographics"):
        _stored(payload={"accession": "A-1", "family_name": "Doe"})

    assert Event.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_event_outside_a_transaction_is_refused() -> None:
    with pytest.raises(EventOutsideTransaction):
        event_record(kind=EventKind.PANEL_STORED, lab_id=1)
    with pytest.raises(EventOutsideTransaction):
        events_record_bulk(events=[EventData(kind=EventKind.PANEL_STORED, lab_id=1)])

    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_an_event_rolled_back_with_its_change_is_gone() -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            event_record(kind=EventKind.PANEL_STORED, lab_id=7)
            raise RuntimeError("the change failed after its event")

    with pytest.raises(RuntimeError):
        change_that_fails()

    assert Event.objects.count() == 0


@pytest.mark.django_db
def test_the_orm_refuses_to_update_or_delete_an_event() -> None:
    event = _stored(payload={"results": 2})

    event.payload = {"results": 3}
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).update(payload={"results": 3})
    with pytest.raises(AppendOnlyError):
        Event.objects.filter(pk=event.pk).delete()
    with pytest.raises(AppendOnlyError):
        Event.objects.bulk_update([event], ["payload"])

    assert Event.objects.get(pk=event.pk).payload == {"results": 2}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("_case", "sql"),
    [
        ("update", "UPDATE events_event SET lab_id = 99 WHERE id = %s"),
        ("delete", "DELETE FROM events_event WHERE id = %s"),
    ],
)
def test_postgresql_refuses_raw_sql_that_changes_or_deletes_an_event(_case: str, sql: str) -> None:
    assert connection.vendor == "postgresql"
    event = _stored()

    def raw() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])

    with pytest.raises(IntegrityError, match="append-only"):
        raw()

    assert Event.objects.filter(pk=event.pk, lab_id=7).exists()


@pytest.mark.django_db(transaction=True)
def test_a_consumer_never_reads_past_an_event_whose_transaction_is_still_open() -> None:
    # given an event inserted (id taken) by a transaction that has not committed yet...
    other = psycopg.connect(
        **{
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in ("cursor_factory", "context")
        }
    )
    try:
        other.execute(
            "INSERT INTO events_event (uuid, kind, occurred_at, lab_id, payload) "
            "VALUES (gen_random_uuid(), 'panel.stored', now(), 1, '{}')"
        )
        # ...and a later event (a larger id) that committed
        later = _stored()

        # then a consumer is given neither: the first could still commit behind its cursor
        assert list(Event.objects.after(0)) == []

        other.commit()
        # Both are given once no older transaction is open anywhere in the cluster (other
        # test runs may hold one for a while); until then, only ever a prefix of them.
        expected = [later.pk - 1, later.pk]
        deadline = time.monotonic() + 120
        while (given := [event.pk for event in Event.objects.after(0)]) != expected:
            assert given == expected[: len(given)]
            assert time.monotonic() < deadline, "the events never became readable"
            time.sleep(0.05)
        assert list(Event.objects.after(later.pk - 1)) == [later]
        assert all(event.transaction_id for event in Event.objects.all())
    finally:
        other.close()
