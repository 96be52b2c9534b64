"""Celery beat's hourly expiry of idempotency keys (``settings.CELERY_BEAT_SCHEDULE``)."""

from __future__ import annotations

from celery import shared_task

from labpanel.idempotency.services import idempotency_keys_expire


@shared_task(name="idempotency.keys_expire")
def keys_expire() -> int:
    return idempotency_keys_expire()
