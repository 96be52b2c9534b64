"""The webhooks API: who may manage subscriptions and deliveries, the https rule, the secret
shown once, the pinned queries of the delivery list."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.webhooks.api import DeliveryViewSet, SubscriptionViewSet
from labpanel.webhooks.models import Delivery, DeliveryAttempt, Subscription
from tests.conftest import token_client
from tests.factories import make_lab, make_staff

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/api/v1/webhooks/subscriptions/"
DELIVERIES = "/api/v1/webhooks/deliveries/"
BODY = {"url": "https://ehr.example.org/hooks", "kinds": ["panel.released"]}


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.CLINICIAN])
def test_technicians_and_clinicians_are_refused(lab: Lab, role: str) -> None:
    client = token_client(make_staff(username=f"u-{role}", lab=lab, role=role))
    assert client.get(SUBSCRIPTIONS).status_code == 403
    assert client.post(SUBSCRIPTIONS, BODY, format="json").status_code == 403
    assert client.get(DELIVERIES).status_code == 403
    assert not Subscription.objects.exists()


def test_anonymous_callers_are_refused() -> None:
    assert APIClient().get(SUBSCRIPTIONS).status_code == 401


@pytest.mark.parametrize("role", [Role.INTEGRATOR, Role.DIRECTOR])
def test_integrators_and_directors_subscribe_and_see_the_secret_once(lab: Lab, role: str) -> None:
    staff = make_staff(username=f"u-{role}", lab=lab, role=role)
    client = token_client(staff)
    created = client.post(SUBSCRIPTIONS, BODY, format="json")
    assert created.status_code == 201, created.content
    answer = created.json()
    assert answer["secret"].startswith("whsec_")
    assert answer["lab_id"] == lab.pk
    assert answer["kinds"] == ["panel.released"]
    assert Subscription.objects.get().secret == answer["secret"]
    listed = client.get(SUBSCRIPTIONS).json()["results"]
    assert [s["id"] for s in listed] == [answer["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"{SUBSCRIPTIONS}{answer['id']}/").json()


@pytest.mark.parametrize(
    "url",
    [
        "http://ehr.example.org/hooks",  # plain http outside the loopback
        "ftp://ehr.example.org/hooks",
        "http://10.0.0.1/hooks",
    ],
)
def test_an_endpoint_must_be_https(integrator: StaffMember, url: str) -> None:
    answer = token_client(integrator).post(SUBSCRIPTIONS, {**BODY, "url": url}, format="json")
    assert answer.status_code == 400
    assert not Subscription.objects.exists()


def test_loopback_http_only_where_allowed(integrator: StaffMember, settings: Any) -> None:
    client = token_client(integrator)
    body = {**BODY, "url": "http://127.0.0.1:9/hook"}
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = False
    assert client.post(SUBSCRIPTIONS, body, format="json").status_code == 400
    settings.WEBHOOKS_ALLOW_HTTP_LOOPBACK = True
    assert client.post(SUBSCRIPTIONS, body, format="json").status_code == 201


@pytest.mark.parametrize("kinds", [[], ["patient.changed"], ["panel.stored"], ["nonsense"]])
def test_only_the_four_kinds_may_be_asked_for(integrator: StaffMember, kinds: list[str]) -> None:
    answer = token_client(integrator).post(SUBSCRIPTIONS, {**BODY, "kinds": kinds}, format="json")
    assert answer.status_code == 400


def test_another_labs_subscription_is_not_found_and_stopping_keeps_history(
    integrator: StaffMember, director: StaffMember
) -> None:
    other = make_staff(username="x", lab=make_lab(name="Other"), role=Role.INTEGRATOR)
    theirs = token_client(other).post(SUBSCRIPTIONS, BODY, format="json").json()["id"]
    client = token_client(integrator)
    assert client.get(f"{SUBSCRIPTIONS}{theirs}/").status_code == 404
    assert client.delete(f"{SUBSCRIPTIONS}{theirs}/").status_code == 404
    assert client.get(SUBSCRIPTIONS).json()["results"] == []

    mine = client.post(SUBSCRIPTIONS, BODY, format="json").json()["id"]
    # the lab's director manages the integrator's subscription too
    assert token_client(director).delete(f"{SUBSCRIPTIONS}{mine}/").status_code == 204
    assert Subscription.objects.get(pk=mine).is_active is False


def test_the_viewsets_declare_the_webhooks_scope() -> None:
    assert SubscriptionViewSet.required_scope == "webhooks:receive"
    assert DeliveryViewSet.required_scope == "webhooks:receive"


def test_a_bad_state_filter_is_named(integrator: StaffMember) -> None:
    answer = token_client(integrator).get(f"{DELIVERIES}?state=lost")
    assert answer.status_code == 400


def _deliveries(subscription: Subscription, n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            event = event_record(
                kind=EventKind.PANEL_RELEASED, lab_id=subscription.lab_id, panel_id=i
            )
            delivery = Delivery.objects.create(
                subscription=subscription, event=event, lab_id=subscription.lab_id, state="dead"
            )
            for _ in range(3):
                DeliveryAttempt.objects.create(
                    delivery=delivery,
                    attempted_at=event.occurred_at,
                    status_code=500,
                    duration_ms=3,
                    succeeded=False,
                )


@pytest.mark.parametrize("n", [1, 20])
def test_the_dead_letter_list_queries_do_not_grow_with_its_length(
    integrator: StaffMember, django_assert_num_queries: Any, n: int
) -> None:
    client = token_client(integrator)
    created = client.post(SUBSCRIPTIONS, BODY, format="json").json()
    _deliveries(Subscription.objects.get(pk=created["id"]), n)
    client.get(DELIVERIES)  # the token's first use
    # the token with its user and membership, the count, the page, its attempts
    with django_assert_num_queries(4):
        answer = client.get(f"{DELIVERIES}?state=dead")
    assert answer.status_code == 200
    assert len(answer.json()["results"]) == n
    assert all(len(d["attempts"]) == 3 for d in answer.json()["results"])
