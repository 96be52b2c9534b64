"""Deliveries to a real local HTTP receiver: signed, retried with backoff after failures,
recorded per attempt, each event accepted once; dead letters replayed; another lab's events never
sent; the broker down when the change commits loses nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from labpanel.accounts.models import Role, StaffMember
from labpanel.events.models import EventKind
from labpanel.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryReplay,
    DeliveryState,
)
from labpanel.webhooks.services import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    deliveries_due_enqueue,
    deliveries_fan_out,
    delivery_attempt,
)
from tests.broker import celery_broker, dead_broker_url
from tests.conftest import token_client
from tests.factories import make_lab, make_staff
from tests.webhooks.conftest import events_write, fan_out_until
from tests.webhooks.receiver import Receiver, verify

pytestmark = pytest.mark.django_db(transaction=True)

ALL_KINDS = ["panel.released", "report.corrected", "panel.critical_result", "import.committed"]


def _subscribe(staff: StaffMember, url: str, kinds: list[str] | None = None) -> dict[str, object]:
    answer = token_client(staff).post(
        "/api/v1/webhooks/subscriptions/", {"url": url, "kinds": kinds or ALL_KINDS}, format="json"
    )
    assert answer.status_code == 201, answer.content
    return dict(answer.json())


def test_failed_deliveries_are_retried_on_the_backoff_and_accepted_once(
    integrator: StaffMember, receiver: Receiver
) -> None:
    # given a subscription whose receiver fails the first two deliveries (500)
    receiver.plan = [500, 500]
    subscription = _subscribe(integrator, receiver.url)
    [event] = events_write(integrator.lab_id)
    fan_out_until(1)
    delivery = Delivery.objects.get()

    with time_machine.travel(timezone.now(), tick=True) as clock:
        # when it is attempted: refused, the next attempt 30 s later
        first = delivery_attempt(delivery_id=delivery.pk)
        assert first is not None
        assert first.status_code == 500
        assert not first.succeeded
        delivery.refresh_from_db()
        assert delivery.state == DeliveryState.PENDING
        assert delivery.next_attempt_at is not None
        assert delivery.next_attempt_at - first.attempted_at >= RETRY_DELAYS[0]
        # not due yet: nothing is sent
        assert delivery_attempt(delivery_id=delivery.pk) is None
        assert len(receiver.received) == 1

        clock.shift(RETRY_DELAYS[0] + timedelta(seconds=1))
        second = delivery_attempt(delivery_id=delivery.pk)
        assert second is not None
        assert second.status_code == 500
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is not None
        assert delivery.next_attempt_at - second.attempted_at >= RETRY_DELAYS[1]

        clock.shift(RETRY_DELAYS[1] + timedelta(seconds=1))
        third = delivery_attempt(delivery_id=delivery.pk)
        assert third is not None
        assert third.status_code == 200
        assert third.succeeded

        # then it is delivered, once; another message for it does nothing
        clock.shift(timedelta(days=2))
        assert delivery_attempt(delivery_id=delivery.pk) is None
        assert deliveries_due_enqueue() == 0

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    assert [a.status_code for a in DeliveryAttempt.objects.filter(delivery=delivery)] == [
        500,
        500,
        200,
    ]
    assert all(a.duration_ms >= 0 for a in DeliveryAttempt.objects.all())
    assert receiver.accepted_ids() == {str(event.uuid): 1}
    # every request carried the same id and a valid signature over its body
    for request in receiver.received:
        assert request.headers["webhook-id"] == str(event.uuid)
        assert verify(str(subscription["secret"]), request.headers, request.body)
        assert request.headers["webhook-signature"].startswith("v1,")
    body = json.loads(receiver.received[-1].body)
    assert body == {
        "id": str(event.uuid),
        "kind": "panel.released",
        "occurred_at": event.occurred_at.isoformat(),
        "lab_id": integrator.lab_id,
        "panel_id": 1000,
        "report_id": None,
        "import_job_id": None,
        "payload": {"accession": "A0"},
    }


def test_a_tampered_body_fails_verification(integrator: StaffMember, receiver: Receiver) -> None:
    subscription = _subscribe(integrator, receiver.url)
    events_write(integrator.lab_id)
    fan_out_until(1)
    delivery_attempt(delivery_id=Delivery.objects.get().pk)
    [request] = receiver.received
    assert verify(str(subscription["secret"]), request.headers, request.body)
    assert not verify(str(subscription["secret"]), request.headers, request.body + b" ")
    assert not verify("whsec_" + "A" * 44, request.headers, request.body)


def test_after_the_last_attempt_fails_the_delivery_is_dead_and_replayable(
    director: StaffMember, receiver: Receiver
) -> None:
    receiver.always = 503
    _subscribe(director, receiver.url)
    events_write(director.lab_id)
    fan_out_until(1)
    delivery = Delivery.objects.get()
    client = token_client(director)

    with time_machine.travel(timezone.now(), tick=True) as clock:
        gaps = []
        for _ in range(MAX_ATTEMPTS):
            attempt = delivery_attempt(delivery_id=delivery.pk)
            assert attempt is not None
            delivery.refresh_from_db()
            if delivery.next_attempt_at is not None:
                gaps.append(delivery.next_attempt_at - attempt.attempted_at)
                clock.move_to(delivery.next_attempt_at + timedelta(seconds=1))
        # the schedule: 30 s, 2 min, 10 min, 1 h, 3 h, 6 h, 12 h, 24 h (over 24 hours in all)
        assert [round(gap.total_seconds()) for gap in gaps] == [
            round(d.total_seconds()) for d in RETRY_DELAYS
        ]
        assert sum(RETRY_DELAYS, timedelta()) > timedelta(hours=24)
        assert delivery.state == DeliveryState.DEAD
        assert delivery_attempt(delivery_id=delivery.pk) is None

    # the dead letters, with their attempts, through the API
    dead = client.get("/api/v1/webhooks/deliveries/?state=dead")
    assert dead.status_code == 200
    [letter] = dead.json()["results"]
    assert letter["id"] == delivery.pk
    assert letter["state"] == "dead"
    assert [a["status_code"] for a in letter["attempts"]] == [503] * MAX_ATTEMPTS
    assert client.get("/api/v1/webhooks/deliveries/?state=pending").json()["results"] == []

    # replayed: scheduled now, recorded, and delivered once the receiver answers
    receiver.always = 204
    replayed = client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay/")
    assert replayed.status_code == 202, replayed.content
    assert replayed.json()["state"] == "pending"
    assert DeliveryReplay.objects.filter(delivery=delivery, replayed_by=director.user).count() == 1
    attempt = delivery_attempt(delivery_id=delivery.pk)
    assert attempt is not None
    assert attempt.succeeded
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED
    # a delivery that is not dead is not replayed
    assert client.post(f"/api/v1/webhooks/deliveries/{delivery.pk}/replay/").status_code == 409


def test_no_event_is_lost_when_the_broker_is_down_as_the_change_commits(
    integrator: StaffMember, receiver: Receiver
) -> None:
    _subscribe(integrator, receiver.url)
    with celery_broker(dead_broker_url()):
        # the change commits (its event with it) and even the fan-out runs: the broker refuses
        [event] = events_write(integrator.lab_id, kind=EventKind.IMPORT_COMMITTED)
        fan_out_until(1)
        delivery = Delivery.objects.get()
        assert delivery.enqueued_at is None  # the message was never handed over
        assert deliveries_due_enqueue() == 1  # ...and the sweep cannot hand it over either
        delivery.refresh_from_db()
        assert delivery.enqueued_at is None

    # the broker is back: the next beat hands it over and it is delivered
    assert deliveries_due_enqueue() == 1
    assert delivery_attempt(delivery_id=delivery.pk) is not None
    assert receiver.accepted_ids() == {str(event.uuid): 1}


def test_a_subscription_never_receives_another_labs_events_nor_kinds_it_did_not_ask_for(
    integrator: StaffMember, receiver: Receiver
) -> None:
    other_lab = make_lab(name="Other Laboratory")
    other = make_staff(username="other.engine", lab=other_lab, role=Role.INTEGRATOR)
    _subscribe(integrator, receiver.url, kinds=["report.corrected"])
    _subscribe(other, receiver.url, kinds=ALL_KINDS)

    events_write(integrator.lab_id, kind=EventKind.PANEL_RELEASED)  # not asked for
    events_write(integrator.lab_id, kind=EventKind.PATIENT_CHANGED)  # demographics: never
    [other_event] = events_write(other_lab.pk, kind=EventKind.REPORT_CORRECTED)
    [own] = events_write(integrator.lab_id, kind=EventKind.REPORT_CORRECTED)
    fan_out_until(2)
    for _ in range(3):
        deliveries_fan_out()

    pairs = {(d.subscription.lab_id, d.event_id) for d in Delivery.objects.all()}
    assert pairs == {(integrator.lab_id, own.pk), (other_lab.pk, other_event.pk)}
    for delivery in Delivery.objects.all():
        delivery_attempt(delivery_id=delivery.pk)
    sent = {json.loads(r.body)["id"]: json.loads(r.body)["lab_id"] for r in receiver.received}
    assert sent == {str(own.uuid): integrator.lab_id, str(other_event.uuid): other_lab.pk}
    # each lab's API shows only its own deliveries
    mine = token_client(integrator).get("/api/v1/webhooks/deliveries/").json()["results"]
    assert [d["event_id"] for d in mine] == [str(own.uuid)]
    theirs = Delivery.objects.get(lab_id=other_lab.pk)
    replay = token_client(integrator).post(f"/api/v1/webhooks/deliveries/{theirs.pk}/replay/")
    assert replay.status_code == 404


def test_events_written_before_a_subscription_are_not_sent_to_it(
    integrator: StaffMember, receiver: Receiver
) -> None:
    events_write(integrator.lab_id)
    _subscribe(integrator, receiver.url)
    [later] = events_write(integrator.lab_id)
    fan_out_until(1)
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [later.pk]
