"""Webhooks in the admin: read-only pages of subscriptions (never the secret) and deliveries
with their attempts and replays inline, a director's own lab's only, a superuser's every lab's;
nobody adds, changes or deletes there; the delivery list's queries do not grow with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import timezone

from labpanel.accounts.models import Lab, Role, StaffMember
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.webhooks.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryReplay,
    DeliveryState,
    Subscription,
)
from labpanel.webhooks.services import subscription_create
from tests.factories import make_lab, make_staff, make_user

pytestmark = pytest.mark.django_db

SUBSCRIPTIONS = "/admin/webhooks/subscription/"
DELIVERIES = "/admin/webhooks/delivery/"


@dataclass
class LabHooks:
    lab: Lab
    director: StaffMember
    subscription: Subscription
    secret: str
    delivery: Delivery


def _lab_hooks(tag: str, attempts: int = 3) -> LabHooks:
    lab = make_lab(name=f"Lab {tag}")
    director = make_staff(username=f"director.{tag}", lab=lab, role=Role.DIRECTOR)
    director.user.is_staff = True
    director.user.save()
    created = subscription_create(
        user=director.user, url=f"https://{tag}.example.org/hooks", kinds=["panel.released"]
    )
    with transaction.atomic():
        event = event_record(kind=EventKind.PANEL_RELEASED, lab_id=lab.pk, panel_id=7)
        delivery = Delivery.objects.create(
            subscription=created.subscription, event=event, lab_id=lab.pk, state="dead"
        )
        for status in [503] * attempts:
            DeliveryAttempt.objects.create(
                delivery=delivery,
                attempted_at=timezone.now(),
                status_code=status,
                error="",
                duration_ms=4,
                succeeded=False,
            )
        DeliveryReplay.objects.create(
            delivery=delivery, replayed_by=director.user, replayed_at=timezone.now()
        )
    return LabHooks(lab, director, created.subscription, created.secret, delivery)


def _browser(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_director_reads_their_own_labs_subscriptions_never_the_secret() -> None:
    mine, theirs = _lab_hooks("a"), _lab_hooks("b")
    client = _browser(mine.director.user)

    listed = client.get(SUBSCRIPTIONS)
    assert listed.status_code == 200
    assert mine.subscription.url.encode() in listed.content
    assert theirs.subscription.url.encode() not in listed.content

    page = client.get(f"{SUBSCRIPTIONS}{mine.subscription.pk}/change/")
    assert page.status_code == 200
    assert mine.subscription.url.encode() in page.content
    for secret in (mine.secret, mine.secret.removeprefix("whsec_")):
        assert secret.encode() not in listed.content
        assert secret.encode() not in page.content
    # another lab's row is not found
    other = client.get(f"{SUBSCRIPTIONS}{theirs.subscription.pk}/change/")
    assert other.status_code == 302
    assert client.get(f"{DELIVERIES}{theirs.delivery.pk}/change/").status_code == 302


def test_a_delivery_shows_its_attempts_and_replays_inline() -> None:
    mine, theirs = _lab_hooks("a"), _lab_hooks("b")
    client = _browser(mine.director.user)

    listed = client.get(DELIVERIES)
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 1
    assert [d.pk for d in listed.context["cl"].result_list] == [mine.delivery.pk]
    assert client.get(f"{DELIVERIES}?state=dead").context["cl"].result_count == 1

    page = client.get(f"{DELIVERIES}{mine.delivery.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert str(mine.delivery.event.uuid) in body
    assert body.count("503") >= 3
    assert [len(formset.formset.forms) for formset in page.context["inline_admin_formsets"]] == [
        3,
        1,
    ]
    assert mine.secret not in body
    assert theirs.delivery.event.uuid.hex not in body


def test_nobody_adds_changes_or_deletes_there() -> None:
    mine = _lab_hooks("a")
    superuser = make_user("root")
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    for user in (mine.director.user, superuser):
        client = _browser(user)
        for base, row in ((SUBSCRIPTIONS, mine.subscription), (DELIVERIES, mine.delivery)):
            assert client.get(f"{base}add/").status_code == 403
            assert client.get(f"{base}{row.pk}/delete/").status_code == 403
            changed = client.post(f"{base}{row.pk}/change/", {"url": "https://evil.example/"})
            assert changed.status_code == 403
    mine.subscription.refresh_from_db()
    assert mine.subscription.url == "https://a.example.org/hooks"
    assert Delivery.objects.get().state == DeliveryState.DEAD


def test_a_superuser_sees_every_lab_and_others_see_none() -> None:
    a, b = _lab_hooks("a"), _lab_hooks("b")
    superuser = make_user("root")
    superuser.is_staff = superuser.is_superuser = True
    superuser.save()
    listed = _browser(superuser).get(DELIVERIES)
    assert {d.pk for d in listed.context["cl"].result_list} == {a.delivery.pk, b.delivery.pk}

    # an integrator manages webhooks through the API, not the admin (no staff user)
    integrator = make_staff(username="engine", lab=a.lab, role=Role.INTEGRATOR)
    assert _browser(integrator.user).get(DELIVERIES).status_code == 302  # to the login
    # a staff user directing no lab sees nothing
    stray = make_user("stray")
    stray.is_staff = True
    stray.save()
    assert _browser(stray).get(DELIVERIES).status_code == 403
    assert _browser(stray).get(SUBSCRIPTIONS).status_code == 403


@pytest.mark.parametrize("n", [1, 15])
def test_the_delivery_list_queries_do_not_grow(n: int, django_assert_num_queries: Any) -> None:
    mine = _lab_hooks("a")
    for i in range(1, n):
        with transaction.atomic():
            event = event_record(kind=EventKind.PANEL_RELEASED, lab_id=mine.lab.pk, panel_id=i)
            Delivery.objects.create(subscription=mine.subscription, event=event, lab_id=mine.lab.pk)
    client = _browser(mine.director.user)
    client.get(DELIVERIES)  # the session's first use
    # the session, the user with their membership, the count, the user's and their groups'
    # permissions (the page's links), the page (with each delivery's event)
    with django_assert_num_queries(6):
        answer = client.get(DELIVERIES)
    assert len(answer.context["cl"].result_list) == n
