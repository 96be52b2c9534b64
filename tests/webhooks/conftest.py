"""Fixtures of the webhook tests: a local receiver, a lab's integrator client, and the fan-out
run until the record yields what a test wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from labpanel.events.models import Event, EventKind
from labpanel.events.services import event_record
from labpanel.webhooks.models import Delivery
from labpanel.webhooks.services import deliveries_fan_out
from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _loopback_allowed(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = True


def events_write(
    lab_id: int, kind: EventKind = EventKind.PANEL_RELEASED, n: int = 1
) -> list[Event]:
    """``n`` events of ``kind`` for ``lab_id``, committed in one transaction."""
    with transaction.atomic():
        return [
            event_record(
                kind=kind, lab_id=lab_id, panel_id=1000 + i, payload={"accession": f"A{i}"}
            )
            for i in range(n)
        ]


def fan_out_until(count: int, *, seconds: float = 120) -> int:
    """Run the fan-out until ``count`` deliveries exist. The record gives an event only once
    every older transaction in the cluster has ended (other test runs may hold one a while)."""
    deadline = time.monotonic() + seconds
    created = 0
    while Delivery.objects.count() < count:
        assert time.monotonic() < deadline, "the events never became readable"
        created += deliveries_fan_out()
        if Delivery.objects.count() < count:
            time.sleep(0.05)
    return created
