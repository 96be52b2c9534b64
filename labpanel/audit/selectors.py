"""Searching the read audit: by patient, user and date, within what the reader may search
(``access.read_audit_scope``: a director their own lab's entries, a superuser every lab's)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from labpanel.accounts import access
from labpanel.audit.models import ReadEntry


def _holding_patient(entries: QuerySet[ReadEntry], patient_id: int) -> QuerySet[ReadEntry]:
    """The entries whose ``patient_ids`` hold ``patient_id``: JSON containment on PostgreSQL
    (``@>``, served by the GIN index of migration 0001), ``json_each`` on SQLite."""
    if connections[entries.db].vendor == "postgresql":
        return entries.filter(patient_ids__contains=[patient_id])
    holds = RawSQL(
        "EXISTS (SELECT 1 FROM json_each(audit_readentry.patient_ids) WHERE value = %s)",
        (patient_id,),
        output_field=BooleanField(),
    )
    return entries.alias(holds=holds).filter(holds=True)


def read_entries_search(
    *,
    reader: Any,
    patient_id: int | None = None,
    user_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[ReadEntry]:
    """The entries ``reader`` may search, narrowed to a patient, a user and ``since <=
    occurred_at < until``, newest first."""
    entries: QuerySet[ReadEntry] = ReadEntry.objects.filter(access.read_audit_scope(reader))
    if patient_id is not None:
        entries = _holding_patient(entries, patient_id)
    if user_id is not None:
        entries = entries.filter(user_id=user_id)
    if since is not None:
        entries = entries.filter(occurred_at__gte=since)
    if until is not None:
        entries = entries.filter(occurred_at__lt=until)
    return entries.order_by("-occurred_at", "-id")
