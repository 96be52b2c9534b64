"""Webhooks: subscribing, the fan-out of events to deliveries, sending one attempt, replaying.

- :func:`subscription_create` registers an endpoint for a lab (``access.webhooks_lab``) and
  returns its secret, shown once.
- :func:`deliveries_fan_out` (Celery beat, every few seconds) reads the event record after the
  ``FanoutCursor`` and creates one ``Delivery`` per (subscription, event) in the transaction that
  moves the cursor; the cursor row is locked with ``FOR UPDATE SKIP LOCKED`` so two beats never
  create twice. The broker plays no part in what is to be sent: a change that committed while the
  broker was down has its event in the record, and the next fan-out finds it.
- :func:`delivery_attempt` claims a due delivery (a lease, so the HTTP request runs outside any
  transaction and two messages for one delivery never send twice at once), POSTs the signed
  event to the address it checked (the SSRF guard, :mod:`labpanel.webhooks.endpoints`: a host
  on the installation's own network is a refused attempt), records the attempt and schedules
  the next one (``RETRY_DELAYS``) or ends it: delivered, or dead after the last.
- :func:`subscription_deactivate` stops a subscription and cancels its pending deliveries in
  the same transaction.
- :func:`deliveries_due_enqueue` (beat) hands the due deliveries to the broker again: the schedule
  lives in ``next_attempt_at``, so nothing waits on a message that a Redis restart lost.
- :func:`delivery_replay` schedules a dead letter again, recorded as a ``DeliveryReplay``.

Logs carry ids, never patient data (an event carries none).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from labpanel.accounts import access
from labpanel.events.models import Event
from labpanel.exceptions import Conflict, InvalidInput
from labpanel.webhooks.endpoints import Outcome, post, url_check
from labpanel.webhooks.models import (
    SUBSCRIBABLE_KINDS,
    Delivery,
    DeliveryAttempt,
    DeliveryReplay,
    DeliveryState,
    FanoutCursor,
    Subscription,
)
from labpanel.webhooks.signing import secret_generate, signature

logger = logging.getLogger(__name__)

# After the n-th failed attempt the next one is RETRY_DELAYS[n-1] later: 9 attempts over
# about 46 hours 42 minutes; after the 9th fails the delivery is dead.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
REQUEST_TIMEOUT_SECONDS = 10
# An attempt holds its delivery this long (the request's timeout and a margin): a worker that
# died mid-attempt frees it for the next beat.
LEASE = timedelta(seconds=REQUEST_TIMEOUT_SECONDS + 20)
# A message handed to the broker this long ago and not acted on is taken as lost.
ENQUEUE_STALE_AFTER = timedelta(seconds=60)
FAN_OUT_BATCH = 1000
DUE_BATCH = 1000
USER_AGENT = "Labpanel-Webhooks/1"
_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)
# The oldest transaction that may still be open, cluster-wide (see labpanel.events.models).
_OLDEST_OPEN_TRANSACTION = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


# --- Subscriptions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Created:
    subscription: Subscription
    secret: str  # shown once


def subscription_create(*, user: Any, url: str, kinds: Sequence[str]) -> Created:
    """Register ``url`` for ``kinds`` (some of ``SUBSCRIBABLE_KINDS``) in ``user``'s lab. Raises
    ``NotAllowed`` (not an integrator or director) and ``InvalidInput``."""
    lab = access.webhooks_lab(user)
    url_check(url)
    unknown = sorted(set(kinds) - {kind.value for kind in SUBSCRIBABLE_KINDS})
    if unknown or not kinds:
        raise InvalidInput(
            "kinds must name some of the subscribable event kinds",
            details={"kinds": unknown or ["empty"]},
        )
    secret = secret_generate()
    with transaction.atomic():
        last = Event.objects.aggregate(last=Max("pk"))["last"] or 0
        subscription = Subscription.objects.create(
            lab=lab,
            url=url,
            kinds=sorted(set(kinds)),
            secret=secret,
            from_event_id=last,
            created_by=user,
        )
    logger.info("webhook.subscribed subscription=%s lab=%s", subscription.pk, lab.pk)
    return Created(subscription=subscription, secret=secret)


def subscription_deactivate(*, user: Any, subscription_id: int) -> Subscription:
    """Stop sending to a subscription of ``user``'s lab and cancel its pending deliveries, in
    one transaction (its history stays). Raises ``Subscription.DoesNotExist`` outside the lab.

    A fan-out that read the subscription as active just before may still insert deliveries
    for it: the insert's foreign-key check waits on this transaction's row lock, and the
    fan-out then cancels what it made for a subscription that is no longer active
    (:func:`deliveries_fan_out`)."""
    with transaction.atomic():
        subscription = (
            Subscription.objects.select_for_update()
            .filter(access.webhooks_scope(user))
            .get(pk=subscription_id)
        )
        subscription.is_active = False
        subscription.save(update_fields=["is_active"])
        cancelled = _deliveries_cancel(Delivery.objects.filter(subscription_id=subscription.pk))
    logger.info("webhook.unsubscribed subscription=%s cancelled=%d", subscription.pk, cancelled)
    return subscription


def _deliveries_cancel(deliveries: QuerySet[Delivery]) -> int:
    """Cancel the pending ones of ``deliveries``: recorded (state, time), never sent. An
    attempt already under way finishes and is recorded, but leaves the delivery cancelled."""
    return deliveries.filter(state=DeliveryState.PENDING).update(
        state=DeliveryState.CANCELLED,
        cancelled_at=timezone.now(),
        next_attempt_at=None,
        enqueued_at=None,
    )


# --- Fan-out -------------------------------------------------------------------------------------


def _oldest_open_transaction() -> int:
    with connection.cursor() as cursor:
        cursor.execute(_OLDEST_OPEN_TRANSACTION)
        return int(cursor.fetchone()[0])


def _cursor_locked() -> FanoutCursor | None:
    FanoutCursor.objects.get_or_create(pk=1)
    return FanoutCursor.objects.select_for_update(skip_locked=True).filter(pk=1).first()


def deliveries_fan_out(*, batch: int = FAN_OUT_BATCH) -> int:
    """Create the deliveries of the events written since the last run; returns how many.

    Events are read by the id of their writing transaction, not by their own id: an event's id
    is taken at insert, so a transaction that started earlier can commit an event with a
    smaller id after a later one was read. The window ``[xid_done, xid_high)`` holds only
    transactions older than every open one: all of them have ended. Each batch moves the cursor
    in the transaction that creates its deliveries; a concurrent run skips the locked cursor.
    Deliveries are handed to the broker after commit; if it is down they stay due in the
    database for :func:`deliveries_due_enqueue`."""
    postgresql = connection.vendor == "postgresql"
    created = 0
    while True:
        # Before the lock: this transaction has no id yet.
        high = _oldest_open_transaction() if postgresql else 0
        with transaction.atomic():
            cursor = _cursor_locked()
            if cursor is None:
                return created  # another run holds it
            if postgresql:
                if cursor.xid_high is None:
                    if high <= cursor.xid_done:
                        return created
                    cursor.xid_high = high
                events = list(
                    Event.objects.shareable()
                    .filter(
                        transaction_id__gte=cursor.xid_done,
                        transaction_id__lt=cursor.xid_high,
                        pk__gt=cursor.last_event_id,
                        kind__in=SUBSCRIBABLE_KINDS,
                    )
                    .order_by("pk")[:batch]
                )
                if len(events) < batch:
                    cursor.xid_done, cursor.xid_high = cursor.xid_high, None
                    cursor.last_event_id = 0
                else:
                    cursor.last_event_id = events[-1].pk
            else:
                # SQLite: one writer at a time, so ids commit in order; read by id.
                events = list(
                    Event.objects.shareable()
                    .after(cursor.last_event_id)
                    .filter(kind__in=SUBSCRIBABLE_KINDS)[:batch]
                )
                if events:
                    cursor.last_event_id = events[-1].pk
            deliveries = _deliveries_build(events)
            cursor.save()
            if deliveries:
                made = Delivery.objects.bulk_create(deliveries)
                ids = [delivery.pk for delivery in made]
                # A subscription stopped since it was read: its new deliveries are cancelled
                # (this statement sees the stop once it has committed; see
                # subscription_deactivate).
                _deliveries_cancel(
                    Delivery.objects.filter(pk__in=ids, subscription__is_active=False)
                )
                transaction.on_commit(partial(_deliveries_send_messages, delivery_ids=ids))
                created += len(ids)
        if len(events) < batch:
            break
    if created:
        logger.info("webhook.fan_out deliveries=%d", created)
    return created


def _deliveries_build(events: Sequence[Event]) -> list[Delivery]:
    if not events:
        return []
    lab_ids = {event.lab_id for event in events}
    subscriptions = list(
        Subscription.objects.filter(is_active=True, lab_id__in=lab_ids).only(
            "pk", "lab_id", "kinds", "from_event_id"
        )
    )
    now = timezone.now()
    deliveries = []
    for event in events:
        for subscription in subscriptions:
            if (
                subscription.lab_id == event.lab_id  # never another lab's event
                and event.kind in subscription.kinds
                and event.pk > subscription.from_event_id
            ):
                deliveries.append(
                    Delivery(
                        subscription_id=subscription.pk,
                        event_id=event.pk,
                        lab_id=subscription.lab_id,
                        next_attempt_at=now,
                        enqueued_at=now,
                    )
                )
    return deliveries


def _deliveries_send_messages(*, delivery_ids: Sequence[int]) -> None:
    from labpanel.webhooks.tasks import deliver_webhook_task

    for index, delivery_id in enumerate(delivery_ids):
        try:
            deliver_webhook_task.delay(delivery_id)
        except _BROKER_ERRORS as error:
            unsent = list(delivery_ids[index:])
            Delivery.objects.filter(pk__in=unsent).update(enqueued_at=None)
            logger.warning(
                "webhook.enqueue_failed deliveries=%d first=%s error=%s",
                len(unsent),
                unsent[0],
                type(error).__name__,
            )
            return


def deliveries_due_enqueue(*, now: datetime | None = None, batch: int = DUE_BATCH) -> int:
    """Hand to the broker the pending deliveries that are due and have no live message (none
    sent, or sent longer ago than ``ENQUEUE_STALE_AFTER``); returns how many."""
    moment = now or timezone.now()
    with transaction.atomic():
        due = list(
            Delivery.objects.filter(
                state=DeliveryState.PENDING,
                next_attempt_at__lte=moment,
                subscription__is_active=True,
            )
            .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=moment - ENQUEUE_STALE_AFTER))
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=moment))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:batch]
        )
        if due:
            Delivery.objects.filter(pk__in=due).update(enqueued_at=moment)
            transaction.on_commit(partial(_deliveries_send_messages, delivery_ids=due))
    return len(due)


# --- One attempt ---------------------------------------------------------------------------------


def event_body(event: Event) -> bytes:
    """The JSON a subscriber receives: the event's ids, kind, time and payload (no names)."""
    return json.dumps(
        {
            "id": str(event.uuid),
            "kind": event.kind,
            "occurred_at": event.occurred_at.isoformat(),
            "lab_id": event.lab_id,
            "panel_id": event.panel_id,
            "report_id": event.report_id,
            "import_job_id": event.import_job_id,
            "payload": event.payload,
        },
        separators=(",", ":"),
    ).encode()


def delivery_attempt(*, delivery_id: int) -> DeliveryAttempt | None:
    """Send ``delivery_id`` once if it is due and nobody else is sending it; record the attempt
    and what follows. Returns the attempt, or None when there was nothing to do."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription", "event")
            .filter(
                pk=delivery_id,
                state=DeliveryState.PENDING,
                next_attempt_at__lte=now,
                subscription__is_active=True,
            )
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
            .first()
        )
        if delivery is None:
            return None
        delivery.leased_until = now + LEASE
        delivery.save(update_fields=["leased_until"])

    event, subscription = delivery.event, delivery.subscription
    body = event_body(event)
    message_id = str(event.uuid)
    timestamp = int(now.timestamp())
    outcome = post(
        subscription.url,
        timeout=REQUEST_TIMEOUT_SECONDS,
        body=body,
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Webhook-Id": message_id,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": signature(
                secret=subscription.secret, message_id=message_id, timestamp=timestamp, body=body
            ),
        },
    )
    return _attempt_record(delivery, outcome, attempted_at=now)


def _attempt_record(
    delivery: Delivery, outcome: Outcome, *, attempted_at: datetime
) -> DeliveryAttempt:
    now = timezone.now()
    with transaction.atomic():
        attempt = DeliveryAttempt.objects.create(
            delivery_id=delivery.pk,
            attempted_at=attempted_at,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            succeeded=outcome.succeeded,
        )
        changes: dict[str, Any] = {"leased_until": None, "enqueued_at": None}
        if outcome.succeeded:
            changes.update(state=DeliveryState.DELIVERED, delivered_at=now, next_attempt_at=None)
        else:
            failures = delivery.failures + 1
            changes["failures"] = failures
            if failures >= MAX_ATTEMPTS:
                changes.update(state=DeliveryState.DEAD, dead_at=now, next_attempt_at=None)
            else:
                changes["next_attempt_at"] = now + RETRY_DELAYS[failures - 1]
        # Only while pending: a delivery cancelled during the attempt stays cancelled.
        Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.PENDING).update(**changes)
    logger.info(
        "webhook.attempt delivery=%s subscription=%s event=%s status=%s ms=%d state=%s",
        delivery.pk,
        delivery.subscription_id,
        delivery.event_id,
        outcome.status_code if outcome.status_code is not None else outcome.error.split(":")[0],
        outcome.duration_ms,
        changes.get("state", DeliveryState.PENDING),
    )
    return attempt


# --- Dead letters --------------------------------------------------------------------------------


def delivery_replay(*, user: Any, delivery_id: int) -> Delivery:
    """Schedule a dead delivery of ``user``'s lab again, now, with a fresh backoff; recorded.
    Raises ``Delivery.DoesNotExist`` outside the lab and ``Conflict`` unless it is dead."""
    access.webhooks_lab(user)
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update()
            .filter(access.webhooks_scope(user))
            .get(pk=delivery_id)
        )
        if delivery.state != DeliveryState.DEAD:
            raise Conflict("only a dead delivery is replayed", details={"state": delivery.state})
        if not Subscription.objects.filter(pk=delivery.subscription_id, is_active=True).exists():
            raise Conflict(
                "the delivery's subscription was stopped", details={"subscription": "stopped"}
            )
        delivery.state = DeliveryState.PENDING
        delivery.failures = 0
        delivery.dead_at = None
        delivery.next_attempt_at = now
        delivery.enqueued_at = now
        delivery.leased_until = None
        delivery.save()
        DeliveryReplay.objects.create(delivery=delivery, replayed_by=user, replayed_at=now)
        transaction.on_commit(partial(_deliveries_send_messages, delivery_ids=[delivery.pk]))
    logger.info("webhook.replay delivery=%s user=%s", delivery.pk, getattr(user, "pk", None))
    return delivery
