"""The record of domain events: what happened, to which subjects, in commit order of writing.

``Event`` is a transactional outbox. A change that others react to (a panel stored, results
amended, a report ready or failed for good, an import committed) writes its event in the same
transaction as the change, so the record holds an event exactly when the change committed.
Consumers (webhooks, notifications, the read audit) read it in ``id`` order and keep their own
cursor; they never change it.

Rows are append-only: the model and its queryset refuse updates and deletes, and on PostgreSQL
a trigger (migration ``0001_initial``) rejects ``UPDATE`` and ``DELETE`` from any client. The
subjects are plain integers, not foreign keys: this app sits below the ones whose rows it
names, and an event outlives nothing it points at. The payload holds ids, accessions, counts and
the intake path — never a patient's name or other demographics, except in the one kind that
audits a change of them (``patient.changed``: ``DEMOGRAPHIC_KINDS``, never sent outside).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import connections, models
from django.db.models.expressions import RawSQL

from labpanel.db import QuickLoadModel


class EventKind(models.TextChoices):
    PANEL_STORED = "panel.stored", "Panel stored"
    PANEL_RESULTS_AMENDED = "panel.results_amended", "Panel results amended"
    PANEL_VERIFIED = "panel.verified", "Panel verified"
    PANEL_VERIFICATION_WITHDRAWN = (
        "panel.verification_withdrawn",
        "Panel verification withdrawn (results amended before release)",
    )
    PANEL_RELEASED = "panel.released", "Panel released"
    PANEL_CRITICAL_RESULT = (
        "panel.critical_result",
        "Critical result verified: ordering clinician notified",
    )
    PANEL_CRITICAL_ESCALATED = (
        "panel.critical_escalated",
        "Critical result not acknowledged in time: escalated",
    )
    PANEL_CRITICAL_ACKNOWLEDGED = (
        "panel.critical_acknowledged",
        "Critical result acknowledged (or read back by phone)",
    )
    REPORT_READY = "report.ready", "Report ready"
    REPORT_CORRECTED = "report.corrected", "Corrected report issued"
    REPORT_FAILED = "report.failed", "Report failed"
    REPORT_ACKNOWLEDGED = "report.acknowledged", "Report acknowledged by a clinician"
    IMPORT_COMMITTED = "import.committed", "Import committed"
    PATIENT_DEMOGRAPHICS_MISMATCH = (
        "patient.demographics_mismatch",
        "Submission refused: a known MRN sent with other demographics (audit)",
    )
    PATIENT_CHANGED = "patient.changed", "Patient changed in the admin (old and new values)"


# Kinds whose payload carries demographics: the audit of a patient's change keeps the old and
# new values (HIPAA §164.312(b)). They stay in the record: a consumer that sends events outside
# the installation (webhooks) never sends these (``Event.objects.shareable()``).
DEMOGRAPHIC_KINDS = frozenset({EventKind.PATIENT_CHANGED})


# The oldest transaction that may still be open, as the bigint the insert trigger stores.
_OLDEST_OPEN_TRANSACTION = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


class AppendOnlyError(Exception):
    """An event was to be changed or deleted: the record is append-only."""


class EventQuerySet(models.QuerySet["Event"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("events are append-only: they are never updated")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError("events are append-only: they are never updated")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("events are append-only: they are never deleted")

    def shareable(self) -> EventQuerySet:
        """Events a consumer may send outside the installation: all but ``DEMOGRAPHIC_KINDS``."""
        return self.exclude(kind__in=DEMOGRAPHIC_KINDS)

    def after(self, event_id: int) -> EventQuerySet:
        """Events after ``event_id`` in id order, on PostgreSQL only those of transactions older
        than every open one. Not enough for a consumer that moves a cursor by event id on
        PostgreSQL: a transaction that started earlier (a smaller transaction id) may insert
        its event later (a larger event id) and commit while a later transaction holding a
        smaller event id is still open, so the cursor passes an event not yet committed. A
        consumer there reads windows of ended transactions instead (the webhook fan-out:
        ``labpanel.webhooks.services.deliveries_fan_out``); with one writer at a time (SQLite)
        ids commit in order and this is enough."""
        events = self.filter(pk__gt=event_id)
        if connections[self.db].vendor == "postgresql":
            oldest_open = RawSQL(_OLDEST_OPEN_TRANSACTION, ())  # noqa: S611 - constant SQL
            events = events.filter(transaction_id__lt=oldest_open)
        return events.order_by("pk")


class Event(QuickLoadModel):
    # The id is the order: a consumer reads ``id > its cursor`` in id order.
    id = models.BigAutoField(primary_key=True)
    # Stable across deliveries: a consumer de-duplicates on it.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    lab_id = models.BigIntegerField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True)  # the user, when one acted
    panel_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    report_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    import_job_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    # PostgreSQL: the id of the writing transaction, set by a trigger (0001_initial). A
    # consumer's read skips events of transactions that may still be open, so that an event
    # with a smaller id can never commit behind its cursor (see ``EventQuerySet.after``).
    # SQLite (one writer at a time) leaves it empty.
    transaction_id = models.BigIntegerField(null=True, blank=True, editable=False)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ("id",)
        indexes = (
            models.Index(fields=("lab_id", "kind", "id"), name="event_lab_kind_id"),
            # The webhook fan-out reads by writing transaction (labpanel.webhooks.services).
            models.Index(fields=("transaction_id", "id"), name="event_transaction_id"),
        )

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("events are append-only: they are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("events are append-only: they are never deleted")
