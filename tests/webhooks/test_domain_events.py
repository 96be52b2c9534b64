"""From a real change to a received webhook: a panel submitted, verified and released through
the services writes ``panel.released`` in the release's transaction; the fan-out and one attempt
bring it to the receiver, naming the panel by id and no patient."""

from __future__ import annotations

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.webhooks.models import Delivery
from labpanel.webhooks.services import delivery_attempt
from panels.review import panel_verify
from reports.release import panel_release
from tests.conftest import token_client
from tests.webhooks.conftest import fan_out_until
from tests.webhooks.receiver import Receiver, verify

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_released_panel_reaches_the_receiver_by_id_only(
    technician_client: APIClient,
    director: StaffMember,
    integrator: StaffMember,
    receiver: Receiver,
    panel_payload: dict[str, Any],
) -> None:
    created = token_client(integrator).post(
        "/api/v1/webhooks/subscriptions/",
        {"url": receiver.url, "kinds": ["panel.released"]},
        format="json",
    )
    secret = created.json()["secret"]
    submitted = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert submitted.status_code == 201, submitted.content
    panel_id = submitted.json()["id"]
    panel_verify(panel_id=panel_id, user=director.user)
    panel_release(panel_id=panel_id, user=director.user)

    fan_out_until(1)
    attempt = delivery_attempt(delivery_id=Delivery.objects.get().pk)
    assert attempt is not None
    assert attempt.succeeded

    [request] = receiver.received
    assert verify(secret, request.headers, request.body)
    body = json.loads(request.body)
    assert body["kind"] == "panel.released"
    assert body["panel_id"] == panel_id
    assert body["lab_id"] == director.lab_id
    for word in (b"Doe", b"Jane", b"MRN-77", b"1980-04-02"):
        assert word not in request.body
