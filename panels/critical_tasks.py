"""Celery tasks of critical results (``panels.critical``): the escalation Celery beat runs every
minute (``settings.CELERY_BEAT_SCHEDULE``) and the sending of one notification's email. Thin
adapters: ids in, the service called. Listed in ``CELERY_IMPORTS`` (autodiscovery reads only
``<app>.tasks``)."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import OperationalError

from labpanel.celery import queue_depth
from panels.critical import critical_alerts_escalate, critical_email_send


@shared_task(name="panels.escalate_critical_alerts", base=DjangoTask, ignore_result=True)
def escalate_critical_alerts_task() -> None:
    """Scheduled every minute: the alerts due are read from PostgreSQL, so a beat run lost with
    the broker is made good by the next one; emails whose message was lost are sent again when
    nothing waits in the queue."""
    critical_alerts_escalate(waiting=queue_depth())


@shared_task(
    name="panels.send_critical_email",
    base=DjangoTask,
    ignore_result=True,
    acks_late=True,  # safe: the row is claimed from "queued" before sending
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def send_critical_email_task(notification_id: int) -> None:
    critical_email_send(notification_id=notification_id)
