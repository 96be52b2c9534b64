"""One row per ``Idempotency-Key`` a caller sent with a POST: claimed (in flight) when the
request starts, completed with the first answer (status, type and body, and what it read, for
the read audit) in the same transaction as the work, kept 24 hours
(``settings.IDEMPOTENCY_KEY_TTL``)."""

from __future__ import annotations

from django.db import models

from labpanel.db import QuickLoadModel


class IdempotencyKey(QuickLoadModel):
    # "token:<knox digest>" or "user:<id>": a key is its token's (a session's: its user's)
    owner = models.CharField(max_length=160)
    key = models.CharField(max_length=255)
    path = models.CharField(max_length=400)
    # SHA-256 of the request body (of its fields and files, for a multipart upload)
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=200, blank=True)
    body = models.BinaryField(null=True, blank=True)
    # the read-audit entries the first answer recorded (labpanel.audit), recorded again on replay
    reads = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once_per_owner")
        ]

    def __str__(self) -> str:
        return f"{self.key} ({'done' if self.completed_at else 'in flight'})"
