"""Claiming, completing and releasing idempotency keys, and their expiry.

A key is claimed in a transaction of its own, so that a second request with the same key sees
it in flight (409) while the first is answered; the first answer is stored in the transaction
of the work itself (``views.IdempotentPosts``), so the work and its stored answer commit
together or not at all. Only successful answers (2xx) are kept: after any other nothing was
stored, the claim is released, and a retry does the request again (as it would without a key).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labpanel.exceptions import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidInput
from labpanel.idempotency.models import IdempotencyKey

logger = logging.getLogger(__name__)

KEY_MAX = 255


@dataclass(frozen=True)
class Replay:
    """The first answer to a key, to be sent again."""

    status_code: int
    content_type: str
    body: bytes
    reads: list[dict[str, Any]]


def key_clean(key: str) -> str:
    """``key`` as sent, if it is 1 to 255 printable ASCII characters; else ``InvalidInput``."""
    if not 0 < len(key) <= KEY_MAX or not key.isascii() or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {KEY_MAX} printable ASCII characters (e.g. a UUID)"
        )
    return key


def idempotency_claim(
    *, owner: str, key: str, path: str, fingerprint: str, now: datetime | None = None
) -> int | Replay:
    """Claim ``key`` of ``owner`` for a POST to ``path`` whose body hashes to
    ``fingerprint``: the claim's id, or the first answer's ``Replay`` when the key was answered
    (within ``IDEMPOTENCY_KEY_TTL``). Raises ``IdempotencyKeyReused`` when the key was used for
    another path or body, ``IdempotencyKeyInFlight`` while its first request is being
    answered. Commits at once (its own transaction)."""
    now = now or timezone.now()
    with transaction.atomic():
        row, created = IdempotencyKey.objects.select_for_update().get_or_create(
            owner=owner,
            key=key,
            defaults={"path": path, "fingerprint": fingerprint, "created_at": now},
        )
        if created:
            return row.pk
        expired = row.created_at < now - settings.IDEMPOTENCY_KEY_TTL
        abandoned = (
            row.completed_at is None and row.created_at < now - settings.IDEMPOTENCY_IN_FLIGHT_STALE
        )
        if expired or abandoned:
            row.path, row.fingerprint, row.created_at = path, fingerprint, now
            row.completed_at, row.status_code, row.content_type = None, None, ""
            row.body, row.reads = None, []
            row.save()
            return row.pk
        if row.path != path or row.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was sent with another request (a different body or "
                "path); send a new key for a new request",
                details=[{"field": "Idempotency-Key", "message": "used for another request"}],
            )
        if row.completed_at is None or row.status_code is None:
            raise IdempotencyKeyInFlight(
                "a request with this Idempotency-Key is still being answered; retry later"
            )
        return Replay(
            status_code=row.status_code,
            content_type=row.content_type,
            body=bytes(row.body or b""),
            reads=list(row.reads),
        )


def idempotency_complete(
    *,
    claim_id: int,
    status_code: int,
    content_type: str,
    body: bytes,
    reads: list[dict[str, Any]],
) -> None:
    """Keep the first answer to claim ``claim_id`` when it succeeded (2xx), else release the
    claim: call it inside the work's transaction."""
    if not 200 <= status_code < 300:
        idempotency_release(claim_id=claim_id)
        return
    IdempotencyKey.objects.filter(pk=claim_id).update(
        completed_at=timezone.now(),
        status_code=status_code,
        content_type=content_type,
        body=body,
        reads=reads,
    )


def idempotency_release(*, claim_id: int) -> None:
    """Forget claim ``claim_id`` (its request stored nothing): a retry does the work."""
    IdempotencyKey.objects.filter(pk=claim_id, completed_at__isnull=True).delete()


def idempotency_keys_expire(*, now: datetime | None = None) -> int:
    """Delete the keys older than ``IDEMPOTENCY_KEY_TTL``; how many."""
    cutoff = (now or timezone.now()) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    logger.info("idempotency.expired count=%s", deleted)
    return int(deleted)
