"""Who opened a report and who acknowledged it (``ReportReceipt``): the clinician's report page
records the first opening, and "Acknowledge" records the acknowledgement once, with its
``report.acknowledged`` event in the same transaction (and acknowledges the panel's awaiting
critical alert, ``panels.critical``); both keep the reader's inbox entry
(``reports.inbox_entries``) in step in that transaction."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from panels.critical import critical_alerts_acknowledge_with_report
from reports.inbox_entries import inbox_entry_opened
from reports.models import Report, ReportReceipt


def report_opened_record(*, report: Report, user: User) -> ReportReceipt:
    """The receipt of ``user`` for ``report``, written at the first opening (later openings
    keep the first time), with the reader's inbox entry marked read in the same transaction.
    The caller has checked ``user`` may see the report."""
    with transaction.atomic():
        receipt, created = ReportReceipt.objects.get_or_create(
            report=report, user=user, defaults={"opened_at": timezone.now()}
        )
        if created:
            inbox_entry_opened(report_id=report.pk, user_id=user.pk, acknowledged=False)
    return receipt


def report_acknowledge(*, report: Report, user: User) -> datetime:
    """Record that ``user`` acknowledged ``report`` and write ``report.acknowledged``, both once:
    acknowledging again changes nothing and returns the first time. The caller has checked
    ``user`` may see the report."""
    with transaction.atomic():
        now = timezone.now()
        receipt, _ = ReportReceipt.objects.get_or_create(
            report=report, user=user, defaults={"opened_at": now}
        )
        # The row lock decides who acknowledges first, whatever runs at the same time.
        receipt = ReportReceipt.objects.select_for_update().get(pk=receipt.pk)
        if receipt.acknowledged_at is not None:
            return receipt.acknowledged_at
        receipt.acknowledged_at = now
        receipt.save(update_fields=["acknowledged_at"])
        inbox_entry_opened(report_id=report.pk, user_id=user.pk, acknowledged=True)
        event_record(
            kind=EventKind.REPORT_ACKNOWLEDGED,
            lab_id=report.panel.lab_id,
            actor_id=user.pk,
            panel_id=report.panel_id,
            report_id=report.pk,
            payload={"report_uuid": str(report.uuid), "report_stage": report.stage},
        )
        # The report shows the critical values: its ordering clinician acknowledging it
        # acknowledges the panel's critical alert too, and escalation stops.
        critical_alerts_acknowledge_with_report(panel_id=report.panel_id, user=user)
        return now
