"""A webhook delivered by a real Celery worker process: a panel is released through the
services, ``webhooks.dispatch`` (the beat task) is sent through the real Redis broker, and the
worker, a process of its own (``celery -A labpanel worker``), fans the event out, sends the
delivery's message to itself and POSTs the signed event to a real local receiver. Nothing is
mocked."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.celery import app
from labpanel.events.models import Event, EventKind
from labpanel.webhooks.models import Delivery, DeliveryAttempt, DeliveryState
from labpanel.webhooks.tasks import dispatch_webhooks_task
from panels.review import panel_verify
from reports.release import panel_release
from tests.conftest import token_client
from tests.e2e.conftest import WAIT_SECONDS
from tests.e2e.launcher import process_stop
from tests.e2e.worker_process import worker_start
from tests.webhooks.receiver import Receiver, verify

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker() -> Iterator[subprocess.Popen[Any]]:
    process = worker_start(str(app.conf.broker_url), env={"WEBHOOKS_ALLOW_HTTP_LOOPBACK": "true"})
    yield process
    process_stop(process)


def test_a_worker_process_delivers_a_released_panels_webhook(
    settings: Any,
    technician_client: APIClient,
    director: StaffMember,
    integrator: StaffMember,
    receiver: Receiver,
    panel_payload: dict[str, Any],
    worker: subprocess.Popen[Any],
) -> None:
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = True
    # given a subscription to the local receiver, and a panel released
    created = token_client(integrator).post(
        "/api/v1/webhooks/subscriptions/",
        {"url": receiver.url, "kinds": ["panel.released"]},
        format="json",
    )
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    submitted = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert submitted.status_code == 201, submitted.content
    panel_id = submitted.json()["id"]
    panel_verify(panel_id=panel_id, user=director.user)
    panel_release(panel_id=panel_id, user=director.user)
    released = Event.objects.get(kind=EventKind.PANEL_RELEASED, panel_id=panel_id)

    # when beat's task is sent through the broker (as beat would, every few seconds) until the
    # worker has delivered: the record yields the event once older transactions have ended
    deadline = time.monotonic() + WAIT_SECONDS
    while not receiver.accepted_ids():
        assert worker.poll() is None, "the worker process died"
        assert time.monotonic() < deadline, "the worker never delivered the webhook"
        dispatch_webhooks_task.delay()
        time.sleep(0.5)

    # then the worker sent it once, signed, and recorded the attempt
    time.sleep(1)  # a second message for it, if any, would have been sent by now
    assert receiver.accepted_ids() == {str(released.uuid): 1}
    [request] = receiver.received
    assert verify(secret, request.headers, request.body)
    assert json.loads(request.body)["panel_id"] == panel_id
    delivery = Delivery.objects.get()
    deadline = time.monotonic() + WAIT_SECONDS
    while delivery.state != DeliveryState.DELIVERED:  # the worker records after the answer
        assert time.monotonic() < deadline, "the attempt was never recorded"
        time.sleep(0.1)
        delivery.refresh_from_db()
    [attempt] = DeliveryAttempt.objects.filter(delivery=delivery)
    assert attempt.succeeded
    assert attempt.status_code == 200
