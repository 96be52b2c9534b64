"""The read audit's one table: every view and download of patient data, append-only.

A ``ReadEntry`` is one request that returned patient data: who (the user, and for an API token
which token: the token's id, knox's digest, never the token), when, what (the ids of the
patients, panels and reports the answer carried, and the import job), from where (the client's
address, its user agent) and by which channel (``token``, ``session``, ``admin``). A list is
ONE entry holding the ids of the page returned.

This app sits at the bottom layer, beside ``labpanel.accounts`` and ``labpanel.events``: the
subjects are plain integers (lists of them in JSON arrays), never foreign keys, so an entry
outlives nothing it names and this app imports nothing above it. ``lab_id`` is the lab of the
data read (the reader's lab), so a director searches their own lab's entries only.

Rows are append-only: the model and its queryset refuse updates and deletes, and on PostgreSQL
a trigger (migration ``0001_initial``) rejects ``UPDATE`` and ``DELETE`` from any client.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from labpanel.db import QuickLoadModel


class Channel(models.TextChoices):
    TOKEN = "token", "API token"
    SESSION = "session", "Session (web pages, API with a session)"
    ADMIN = "admin", "Admin site"


class AuditAppendOnlyError(Exception):
    """A read entry was to be changed or deleted: the audit is append-only."""


class ReadEntryQuerySet(models.QuerySet["ReadEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditAppendOnlyError("read audit entries are append-only: never updated")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AuditAppendOnlyError("read audit entries are append-only: never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditAppendOnlyError("read audit entries are append-only: never deleted")


class ReadEntry(QuickLoadModel):
    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    lab_id = models.BigIntegerField(null=True, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    # The API token's id (knox's digest: its primary key, not the secret), "" otherwise.
    token_id = models.CharField(max_length=128, blank=True, default="")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The URL name of the view (``api:panel-detail``) and the path without its query string
    # (a query may hold a searched name: it is never stored).
    view = models.CharField(max_length=120)
    path = models.CharField(max_length=400)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True, default="")
    patient_ids = models.JSONField(default=list, blank=True)
    panel_ids = models.JSONField(default=list, blank=True)
    report_ids = models.JSONField(default=list, blank=True)
    import_job_id = models.BigIntegerField(null=True, blank=True)

    objects = ReadEntryQuerySet.as_manager()

    class Meta:
        ordering = ("-id",)
        verbose_name = "read audit entry"
        verbose_name_plural = "read audit entries"
        indexes = (
            models.Index(fields=("lab_id", "occurred_at"), name="audit_read_lab_time"),
            models.Index(fields=("user_id", "occurred_at"), name="audit_read_user_time"),
        )

    def __str__(self) -> str:
        return f"read #{self.pk} by user {self.user_id} ({self.view})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AuditAppendOnlyError("read audit entries are append-only: never updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditAppendOnlyError("read audit entries are append-only: never deleted")
