"""The fan-out reads the record by writing transaction: an event committed late with a smaller
id is still delivered, and two runs at once never create a delivery twice."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.db import connection

from labpanel.accounts.models import StaffMember
from labpanel.webhooks.models import Delivery
from labpanel.webhooks.services import deliveries_fan_out
from tests.conftest import token_client
from tests.webhooks.conftest import events_write, fan_out_until

pytestmark = pytest.mark.django_db(transaction=True)

INSERT = (
    "INSERT INTO events_event (uuid, kind, occurred_at, lab_id, payload) "
    "VALUES (gen_random_uuid(), 'panel.released', now(), %s, '{}') RETURNING id"
)


def _connect() -> Any:
    params = connection.get_connection_params()
    return psycopg.connect(
        **{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
    )


def _subscribe(staff: StaffMember) -> None:
    answer = token_client(staff).post(
        "/api/v1/webhooks/subscriptions/",
        {"url": "https://ehr.example.org/hook", "kinds": ["panel.released"]},
        format="json",
    )
    assert answer.status_code == 201


def test_an_event_committed_after_a_later_one_was_read_is_still_delivered(
    integrator: StaffMember,
) -> None:
    _subscribe(integrator)
    early, late = _connect(), _connect()
    try:
        # given a transaction that took its id first (a long import, say)...
        early.execute("SELECT pg_current_xact_id()")
        # ...a later one that writes an event (the smaller id) and stays open...
        (smaller,) = late.execute(INSERT, (integrator.lab_id,)).fetchone()
        # ...and the first writing its event (the larger id) and committing
        (larger,) = early.execute(INSERT, (integrator.lab_id,)).fetchone()
        early.commit()
        assert smaller < larger

        # when the fan-out runs: the committed event is delivered
        fan_out_until(1)
        assert list(Delivery.objects.values_list("event_id", flat=True)) == [larger]

        # then the other commits behind it, and is delivered too
        late.commit()
        fan_out_until(2)
        delivered = sorted(Delivery.objects.values_list("event_id", flat=True))
        assert delivered == [smaller, larger]
    finally:
        early.close()
        late.close()


def test_a_run_never_creates_while_another_holds_the_cursor(integrator: StaffMember) -> None:
    _subscribe(integrator)
    deliveries_fan_out()  # the cursor row exists
    [event] = events_write(integrator.lab_id)
    other = _connect()
    try:
        other.execute("SELECT id FROM webhooks_fanoutcursor WHERE id = 1 FOR UPDATE")
        assert deliveries_fan_out() == 0  # skipped, not blocked
        assert not Delivery.objects.exists()
    finally:
        other.rollback()
        other.close()
    fan_out_until(1)
    for _ in range(3):
        deliveries_fan_out()
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [event.pk]
