"""Telling the ordering clinician that a report was issued: when a panel is released (the FINAL
report) or a released report is corrected (CORRECTED), an email with a link to the report page
is sent after commit by a Celery task taking the report id. The email never carries patient
data (no name, MRN, accession or result): the clinician signs in to read it."""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.core.mail import send_mail
from django.db import OperationalError, transaction
from django.urls import reverse

from panels.critical import public_url
from reports.models import Report, ReportStage
from reports.services import BROKER_ERRORS

logger = logging.getLogger(__name__)

SUBJECTS = {
    ReportStage.FINAL: "Labpanel: a final report is ready for you",
    ReportStage.CORRECTED: "Labpanel: a corrected report is ready for you",
}


def report_issued_notify(*, report_id: int) -> None:
    """Enqueue the email of report ``report_id`` once the current transaction commits. A broker
    that is down is logged by id and never fails the caller (the inbox lists the report)."""
    transaction.on_commit(partial(_message_send, report_id=report_id))


def _message_send(*, report_id: int) -> None:
    try:
        send_report_issued_email_task.delay(report_id)
    except BROKER_ERRORS as error:
        logger.warning(
            "report.issued_email.dispatch_failed report_id=%s error=%s",
            report_id,
            type(error).__name__,
        )


def report_issued_email_body(*, report_id: int, stage: str) -> str:
    """The email's text: the stage and a link, never patient data."""
    url = public_url(reverse("reports:detail", kwargs={"pk": report_id}))
    kind = "corrected" if stage == ReportStage.CORRECTED else "final"
    return (
        f"A {kind} laboratory report of one of your patients is ready.\n\n"
        f"Sign in to Labpanel to read it:\n{url}\n\n"
        "This message carries no patient information.\n"
    )


def report_issued_email_send(*, report_id: int) -> bool:
    """Send the email of report ``report_id`` to its panel's ordering clinician; ``False``
    when the clinician has no address (logged by id)."""
    report = Report.objects.select_related("panel__ordering_clinician").get(pk=report_id)
    address = report.panel.ordering_clinician.email
    if not address:
        logger.info("report.issued_email.no_address report_id=%s", report_id)
        return False
    send_mail(
        subject=SUBJECTS.get(ReportStage(report.stage), "Labpanel: a report is ready for you"),
        message=report_issued_email_body(report_id=report.pk, stage=report.stage),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[address],
    )
    logger.info("report.issued_email report_id=%s stage=%s", report_id, report.stage)
    return True


@shared_task(
    name="reports.send_report_issued_email",
    base=DjangoTask,
    ignore_result=True,
    autoretry_for=(OperationalError, OSError),
    retry_backoff=True,
    max_retries=5,
)
def send_report_issued_email_task(report_id: int) -> None:
    report_issued_email_send(report_id=report_id)
