"""Stopping a subscription cancels its pending deliveries in the same transaction: recorded
(``cancelled``, when), never sent; delivered and dead ones keep their state; an attempt under
way finishes and is recorded but the delivery stays cancelled; a fan-out that read the
subscription as active just before the stop cancels what it made."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from labpanel.accounts.models import StaffMember
from labpanel.webhooks import services
from labpanel.webhooks.models import Delivery, DeliveryAttempt, DeliveryState, Subscription
from labpanel.webhooks.services import (
    deliveries_due_enqueue,
    deliveries_fan_out,
    delivery_attempt,
    subscription_deactivate,
)
from tests.conftest import token_client
from tests.webhooks.conftest import events_write, fan_out_until
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIPTIONS = "/api/v1/webhooks/subscriptions/"


def _subscribe(staff: StaffMember, url: str) -> int:
    answer = token_client(staff).post(
        SUBSCRIPTIONS, {"url": url, "kinds": ["panel.released"]}, format="json"
    )
    assert answer.status_code == 201, answer.content
    return int(answer.json()["id"])


def test_stopping_a_subscription_cancels_its_pending_deliveries_only(
    integrator: StaffMember, receiver: Receiver
) -> None:
    # given four deliveries: one delivered, one dead, two pending
    subscription_id = _subscribe(integrator, receiver.url)
    events_write(integrator.lab_id, n=4)
    fan_out_until(4)
    delivered, dead, *pending = Delivery.objects.order_by("pk")
    assert delivery_attempt(delivery_id=delivered.pk) is not None
    Delivery.objects.filter(pk=dead.pk).update(state=DeliveryState.DEAD, next_attempt_at=None)
    sent_before = len(receiver.received)

    # when the subscription is stopped through the API
    client = token_client(integrator)
    assert client.delete(f"{SUBSCRIPTIONS}{subscription_id}/").status_code == 204

    # then the pending ones are cancelled, recorded and never sent
    states = dict(Delivery.objects.values_list("pk", "state"))
    assert states == {
        delivered.pk: DeliveryState.DELIVERED,
        dead.pk: DeliveryState.DEAD,
        pending[0].pk: DeliveryState.CANCELLED,
        pending[1].pk: DeliveryState.CANCELLED,
    }
    for delivery in Delivery.objects.filter(state=DeliveryState.CANCELLED):
        assert delivery.cancelled_at is not None
        assert delivery.next_attempt_at is None
        assert delivery_attempt(delivery_id=delivery.pk) is None
    assert deliveries_due_enqueue() == 0
    assert len(receiver.received) == sent_before
    assert not DeliveryAttempt.objects.filter(delivery__state=DeliveryState.CANCELLED).exists()
    listed = client.get("/api/v1/webhooks/deliveries/?state=cancelled").json()["results"]
    assert sorted(d["id"] for d in listed) == sorted(d.pk for d in pending)
    assert all(d["cancelled_at"] for d in listed)
    # a dead letter of a stopped subscription is not replayed (nothing would send it)
    assert client.post(f"/api/v1/webhooks/deliveries/{dead.pk}/replay/").status_code == 409


def test_an_attempt_under_way_is_recorded_but_the_delivery_stays_cancelled(
    integrator: StaffMember, receiver: Receiver
) -> None:
    subscription_id = _subscribe(integrator, receiver.url)
    events_write(integrator.lab_id)
    fan_out_until(1)
    delivery = Delivery.objects.get()
    arrived, release = threading.Event(), threading.Event()

    def hold() -> None:
        arrived.set()
        release.wait(10)

    receiver.before_answer = hold
    receiver.always = 500  # a failure would schedule a retry: it must not

    def attempt() -> None:
        try:
            delivery_attempt(delivery_id=delivery.pk)
        finally:
            connection.close()

    sender = threading.Thread(target=attempt)
    sender.start()
    assert arrived.wait(10)
    subscription_deactivate(user=integrator.user, subscription_id=subscription_id)
    release.set()
    sender.join(15)

    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.CANCELLED
    assert delivery.next_attempt_at is None
    [recorded] = DeliveryAttempt.objects.filter(delivery=delivery)
    assert recorded.status_code == 500


def test_a_fan_out_racing_the_stop_cancels_what_it_made(
    integrator: StaffMember, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscription_id = _subscribe(integrator, receiver.url)
    build = services._deliveries_build

    def build_then_stop(events: Any) -> Any:
        made = build(events)  # the subscription was read as active...
        if made:

            def stop() -> None:  # ...and is stopped (committed) by another connection now
                try:
                    subscription_deactivate(user=integrator.user, subscription_id=subscription_id)
                finally:
                    connection.close()

            other = threading.Thread(target=stop)
            other.start()
            other.join(15)
        return made

    monkeypatch.setattr(services, "_deliveries_build", build_then_stop)
    events_write(integrator.lab_id, n=2)
    fan_out_until(2)
    deliveries_fan_out()

    assert not Subscription.objects.get(pk=subscription_id).is_active
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.CANCELLED}
    assert receiver.received == []
