"""Celery tasks of webhooks: thin adapters, ids in, the service called. Beat runs
``webhooks.dispatch`` every few seconds (``settings.CELERY_BEAT_SCHEDULE``); each delivery is
sent by ``webhooks.deliver``. Listed in ``CELERY_IMPORTS`` (autodiscovery reads only
``<app>.tasks`` of the apps it is told of)."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from labpanel.webhooks.services import (
    deliveries_due_enqueue,
    deliveries_fan_out,
    delivery_attempt,
)


@shared_task(name="webhooks.dispatch", base=DjangoTask, ignore_result=True)
def dispatch_webhooks_task() -> None:
    """Fan the new events out to deliveries, then hand the due deliveries (retries, and any
    whose message was lost) to the broker. Both read PostgreSQL: a run lost with the broker is
    made good by the next."""
    deliveries_fan_out()
    deliveries_due_enqueue()


@shared_task(name="webhooks.deliver", base=DjangoTask, ignore_result=True)
def deliver_webhook_task(delivery_id: int) -> None:
    """One attempt of one delivery (a no-op when it is not due or is being sent)."""
    delivery_attempt(delivery_id=delivery_id)
