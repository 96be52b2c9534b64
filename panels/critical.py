"""Critical results that reach a person (CLIA 493.1291(g), CLSI GP47): the alert opened when a
panel holding a critical value is verified, its escalation, its acknowledgement.

- :func:`critical_alert_open` runs inside the verification's transaction
  (``panels.review.review_transition``): when a current result of the panel is critical
  (``HH``/``LL``: at or beyond a critical limit of the lab's rule set) it opens a
  ``CriticalAlert``, tells the ordering clinician at once (inbox and email) and writes
  ``panel.critical_result``.
- :func:`critical_alerts_escalate` is what Celery beat runs every minute: every open alert whose
  ``next_attempt_at`` has passed goes to the next level (lab directors, then the lab's on-call
  contact, then ``exhausted``), each attempt a ``CriticalNotification`` row, with
  ``panel.critical_escalated``. Rows are claimed with ``SKIP LOCKED`` so that two beat runs (or a
  run and an acknowledgement) never handle one alert twice. Emails whose message was lost (a
  Redis restart) are sent again from the rows.
- :func:`critical_alert_acknowledge` (the ordering clinician),
  :func:`critical_alert_read_back_record` (the lab, by phone) and
  :func:`critical_alerts_acknowledge_with_report` (the clinician acknowledged the report) end
  the escalation with ``panel.critical_acknowledged``.

Emails carry a link and never patient data; they are sent by ``panels.critical_tasks`` after
commit, taking notification ids.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from labpanel.accounts import access
from labpanel.accounts.models import Lab
from labpanel.events.models import EventKind
from labpanel.events.services import event_record
from labpanel.exceptions import Conflict
from panels.models import Panel, Result
from panels.models_critical import (
    CriticalAcknowledgement,
    CriticalAlert,
    CriticalAlertState,
    CriticalChannel,
    CriticalLevel,
    CriticalNotification,
    CriticalOutcome,
)
from panels.review_rules import CRITICAL_CODES

logger = logging.getLogger(__name__)

ESCALATION_ORDER = (
    CriticalLevel.ORDERING_CLINICIAN,
    CriticalLevel.LAB_DIRECTOR,
    CriticalLevel.ON_CALL,
)
AWAITING = (CriticalAlertState.OPEN, CriticalAlertState.EXHAUSTED)
# An email row still queued this long after its attempt lost its message: send it again.
EMAIL_RESEND_AFTER = timedelta(minutes=2)
ESCALATION_BATCH = 100
_BROKER_ERRORS: tuple[type[BaseException], ...] = (
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
)
EMAIL_SUBJECT = "Labpanel: a critical result awaits acknowledgement"


# --- Opening -------------------------------------------------------------------------------------


def critical_alert_open(
    *,
    panel: Panel,
    actor: User | None,
    now: datetime,
    analytes: Sequence[str] | None = None,
) -> CriticalAlert | None:
    """Inside the transaction verifying ``panel`` (locked by the caller): open its critical
    alert when a current result is critical, notify the ordering clinician (inbox row, email
    row; the email is enqueued after commit) and write ``panel.critical_result``. Returns the
    alert, or ``None`` when no result is critical. An alert already open for the panel (it was
    verified, amended and verified again) is kept, with the newly critical results added.

    ``analytes`` (codes) limits the results considered: a correction after release tells only
    of the corrected results that are critical."""
    results = Result.objects.current().filter(panel_id=panel.pk, interpretation__in=CRITICAL_CODES)
    if analytes is not None:
        results = results.filter(analyte__code__in=list(analytes))
    critical = list(results.select_related("analyte").order_by("position"))
    if not critical:
        return None
    existing = CriticalAlert.objects.filter(panel_id=panel.pk, state=CriticalAlertState.OPEN)
    alert = existing.first()
    if alert is not None:
        alert.results.add(*critical)
        return alert
    lab = Lab.objects.get(pk=panel.lab_id)
    alert = CriticalAlert.objects.create(
        panel=panel,
        opened_at=now,
        opened_by=actor,
        state=CriticalAlertState.OPEN,
        level=CriticalLevel.ORDERING_CLINICIAN,
        next_attempt_at=now + _limit(lab),
    )
    alert.results.set(critical)
    notifications = _level_notify(alert, panel, lab, CriticalLevel.ORDERING_CLINICIAN, now)
    event_record(
        kind=EventKind.PANEL_CRITICAL_RESULT,
        lab_id=panel.lab_id,
        actor_id=None if actor is None else actor.pk,
        panel_id=panel.pk,
        payload={
            "alert_id": alert.pk,
            "accession": panel.accession,
            "analytes": [result.analyte.code for result in critical],
            "flags": [result.interpretation for result in critical],
            "automatic": actor is None,
            "corrected_after_release": analytes is not None,
            "level": alert.level,
            "notifications": len(notifications),
            "next_attempt_at": alert.next_attempt_at.isoformat() if alert.next_attempt_at else None,
        },
        occurred_at=now,
    )
    logger.info(
        "panel.critical_result alert_id=%s panel_id=%s results=%d",
        alert.pk,
        panel.pk,
        len(critical),
    )
    return alert


def _limit(lab: Lab) -> timedelta:
    return timedelta(minutes=max(1, lab.critical_ack_limit_minutes))


def _level_notify(
    alert: CriticalAlert, panel: Panel, lab: Lab, level: CriticalLevel, now: datetime
) -> list[CriticalNotification]:
    """The attempts of ``level`` (stored; emails enqueued after commit). A level with nobody to
    tell stores one ``no_recipient`` row."""
    rows: list[CriticalNotification] = []

    def add(channel: str, outcome: str, **fields: Any) -> None:
        rows.append(
            CriticalNotification(
                alert=alert,
                level=level,
                channel=channel,
                attempted_at=now,
                outcome=outcome,
                outcome_at=None if outcome == CriticalOutcome.QUEUED else now,
                **fields,
            )
        )

    def tell_user(user: User, name: str) -> None:
        add(CriticalChannel.INBOX, CriticalOutcome.SHOWN, recipient=user, recipient_name=name)
        outcome = CriticalOutcome.QUEUED if user.email else CriticalOutcome.NO_ADDRESS
        add(CriticalChannel.EMAIL, outcome, recipient=user, recipient_name=name, address=user.email)

    if level == CriticalLevel.ORDERING_CLINICIAN:
        clinician = User.objects.get(pk=panel.ordering_clinician_id)
        tell_user(clinician, _user_name(clinician))
    elif level == CriticalLevel.LAB_DIRECTOR:
        for staff in access.critical_escalation_directors(lab_id=lab.pk):
            tell_user(staff.user, staff.display_name or _user_name(staff.user))
    else:
        name = lab.critical_on_call_name
        if lab.critical_on_call_phone:
            add(
                CriticalChannel.PHONE,
                CriticalOutcome.CALL_DUE,
                recipient_name=name,
                address=lab.critical_on_call_phone,
                detail="the lab calls the on-call contact and records the read-back",
            )
        if lab.critical_on_call_email:
            add(
                CriticalChannel.EMAIL,
                CriticalOutcome.QUEUED,
                recipient_name=name,
                address=lab.critical_on_call_email,
            )
    if not rows:
        add(CriticalChannel.INBOX, CriticalOutcome.NO_RECIPIENT, detail="nobody at this level")
    stored = CriticalNotification.objects.bulk_create(rows)
    _emails_enqueue([row.pk for row in stored if row.outcome == CriticalOutcome.QUEUED])
    return stored


def _user_name(user: User) -> str:
    return user.get_full_name() or user.get_username()


# --- Escalation (Celery beat) --------------------------------------------------------------------


def critical_alerts_escalate(
    *, now: datetime | None = None, waiting: int | None = None, batch: int = ESCALATION_BATCH
) -> int:
    """Escalate every open alert whose ``next_attempt_at`` has passed, ``batch`` alerts per
    transaction, each claimed with ``FOR UPDATE SKIP LOCKED``. Then, when ``waiting`` (the
    messages in the queue before this run) is 0, send again the emails still queued after
    ``EMAIL_RESEND_AFTER``: their message was lost (a Redis restart). Returns how many alerts
    were escalated. Idempotent: an alert escalated now is due again only after the lab's
    limit, and an email row is claimed once, however many messages name it."""
    moment = now or timezone.now()
    escalated = 0
    while True:
        with transaction.atomic():
            alerts = list(
                CriticalAlert.objects.filter(
                    state=CriticalAlertState.OPEN, next_attempt_at__lte=moment
                )
                .select_for_update(skip_locked=True)
                .order_by("next_attempt_at", "pk")[:batch]
            )
            for alert in alerts:
                _alert_escalate(alert, moment)
        escalated += len(alerts)
        if len(alerts) < batch:
            break
    if waiting == 0:
        _lost_emails_resend(moment)
    if escalated:
        logger.info("panel.critical_escalation alerts=%d", escalated)
    return escalated


def _alert_escalate(alert: CriticalAlert, now: datetime) -> None:
    panel = Panel.objects.only("pk", "lab_id", "accession", "ordering_clinician_id").get(
        pk=alert.panel_id
    )
    lab = Lab.objects.get(pk=panel.lab_id)
    from_level = alert.level
    index = ESCALATION_ORDER.index(CriticalLevel(alert.level))
    told = 0
    while True:
        index += 1
        if index >= len(ESCALATION_ORDER):
            alert.state = CriticalAlertState.EXHAUSTED
            alert.exhausted_at = now
            alert.next_attempt_at = None
            break
        level = ESCALATION_ORDER[index]
        rows = _level_notify(alert, panel, lab, level, now)
        alert.level = level
        told += len(rows)
        if any(row.outcome != CriticalOutcome.NO_RECIPIENT for row in rows):
            alert.next_attempt_at = now + _limit(lab)
            break
    alert.save(update_fields=["state", "exhausted_at", "next_attempt_at", "level"])
    event_record(
        kind=EventKind.PANEL_CRITICAL_ESCALATED,
        lab_id=panel.lab_id,
        panel_id=panel.pk,
        payload={
            "alert_id": alert.pk,
            "accession": panel.accession,
            "from_level": from_level,
            "to_level": alert.level if alert.state == CriticalAlertState.OPEN else "exhausted",
            "notifications": told,
        },
        occurred_at=now,
    )
    logger.info(
        "panel.critical_escalated alert_id=%s from=%s to=%s",
        alert.pk,
        from_level,
        alert.level if alert.state == CriticalAlertState.OPEN else "exhausted",
    )


def _lost_emails_resend(now: datetime) -> None:
    lost = list(
        CriticalNotification.objects.filter(
            channel=CriticalChannel.EMAIL,
            outcome=CriticalOutcome.QUEUED,
            attempted_at__lte=now - EMAIL_RESEND_AFTER,
        ).values_list("pk", flat=True)[:ESCALATION_BATCH]
    )
    if lost:
        logger.info("panel.critical_email.resend count=%d", len(lost))
        _emails_send(notification_ids=lost)


# --- Acknowledgement -----------------------------------------------------------------------------


def _awaiting_locked(alert_id: int) -> CriticalAlert:
    alert = CriticalAlert.objects.select_for_update().select_related("panel").get(pk=alert_id)
    if alert.state == CriticalAlertState.ACKNOWLEDGED:
        raise Conflict(
            f"critical alert {alert.pk} was already acknowledged",
            details=[{"field": "state", "message": alert.state}],
        )
    return alert


def _acknowledged(
    alert: CriticalAlert, user: User, how: CriticalAcknowledgement, at: datetime
) -> None:
    previous = alert.state
    alert.state = CriticalAlertState.ACKNOWLEDGED
    alert.acknowledged_at = at
    alert.acknowledged_by = user
    alert.acknowledgement = how
    alert.next_attempt_at = None
    alert.save(
        update_fields=[
            "state",
            "acknowledged_at",
            "acknowledged_by",
            "acknowledgement",
            "next_attempt_at",
        ]
    )
    event_record(
        kind=EventKind.PANEL_CRITICAL_ACKNOWLEDGED,
        lab_id=alert.panel.lab_id,
        actor_id=user.pk,
        panel_id=alert.panel_id,
        payload={
            "alert_id": alert.pk,
            "accession": alert.panel.accession,
            "acknowledgement": how.value,
            "level": alert.level,
            "escalation_exhausted": previous == CriticalAlertState.EXHAUSTED,
        },
    )
    logger.info("panel.critical_acknowledged alert_id=%s how=%s", alert.pk, how.value)


def critical_alert_acknowledge(*, alert_id: int, user: User) -> CriticalAlert:
    """The ordering clinician acknowledges critical alert ``alert_id`` (open or exhausted):
    escalation stops. Raises ``NotAllowed`` (not the ordering clinician), ``Conflict``
    (already acknowledged). Side effects, in one transaction: the alert, the event."""
    with transaction.atomic():
        alert = _awaiting_locked(alert_id)
        access.critical_acknowledge_check(
            user, ordering_clinician_id=alert.panel.ordering_clinician_id
        )
        _acknowledged(alert, user, CriticalAcknowledgement.CLINICIAN, timezone.now())
    return alert


def critical_alert_read_back_record(
    *, alert_id: int, user: User, person_called: str, read_back_by: str, told_at: datetime
) -> CriticalAlert:
    """A technician or director of the lab records that ``person_called`` was told by phone at
    ``told_at`` and that ``read_back_by`` read the value back: a phone notification row, and
    the alert acknowledged (escalation stops). Raises ``NotAllowed``, ``Conflict``."""
    with transaction.atomic():
        alert = _awaiting_locked(alert_id)
        access.critical_read_back_check(user, lab_id=alert.panel.lab_id)
        # A lab may phone before it verifies in Labpanel, never before the specimen existed.
        collected_at = alert.panel.collected_at
        if told_at < collected_at:
            raise Conflict(
                f"the call cannot be before the collection ({collected_at:%Y-%m-%d %H:%M} UTC)"
            )
        CriticalNotification.objects.create(
            alert=alert,
            level=alert.level,
            channel=CriticalChannel.PHONE,
            recipient_name=person_called.strip(),
            attempted_at=told_at,
            outcome=CriticalOutcome.READ_BACK,
            outcome_at=told_at,
            read_back_by=read_back_by.strip(),
            recorded_by=user,
        )
        _acknowledged(alert, user, CriticalAcknowledgement.READ_BACK, told_at)
    return alert


def critical_alerts_acknowledge_with_report(*, panel_id: int, user: User) -> int:
    """Inside the transaction of a report's acknowledgement: when ``user`` is the ordering
    clinician, the panel's awaiting critical alerts are acknowledged too (the report shows the
    critical values). Returns how many."""
    alerts = list(
        CriticalAlert.objects.select_for_update()
        .select_related("panel")
        .filter(panel_id=panel_id, state__in=AWAITING, panel__ordering_clinician_id=user.pk)
    )
    now = timezone.now()
    for alert in alerts:
        _acknowledged(alert, user, CriticalAcknowledgement.REPORT, now)
    return len(alerts)


# --- Email ---------------------------------------------------------------------------------------


def _emails_enqueue(notification_ids: Sequence[int]) -> None:
    ids = list(notification_ids)
    if ids:
        transaction.on_commit(partial(_emails_send, notification_ids=ids))


def _emails_send(*, notification_ids: list[int]) -> None:
    """Send the email messages; a broker that is down leaves the rows queued, and the next beat
    run sends them again (never raises for the broker)."""
    from panels.critical_tasks import send_critical_email_task

    for notification_id in notification_ids:
        try:
            send_critical_email_task.delay(notification_id)
        except _BROKER_ERRORS as error:
            logger.warning(
                "panel.critical_email.dispatch_failed notification_id=%s error=%s",
                notification_id,
                type(error).__name__,
            )
            return


def critical_email_body(*, alert_id: int, level: str) -> str:
    """The email's text: a link and what to do, never patient data (no name, MRN, accession,
    analyte or value)."""
    url = public_url(reverse("critical:detail", kwargs={"pk": alert_id}))
    escalated = (
        ""
        if level == CriticalLevel.ORDERING_CLINICIAN
        else f"It was escalated to you ({CriticalLevel(level).label}): nobody acknowledged it "
        "in time.\n\n"
    )
    return (
        "A critical laboratory result awaits acknowledgement.\n\n"
        f"{escalated}"
        f"Sign in to Labpanel to see it and acknowledge it:\n{url}\n\n"
        "This message carries no patient information.\n"
    )


def public_url(path: str) -> str:
    """``path`` as an absolute link on ``LABPANEL_PUBLIC_URL``."""
    return f"{settings.LABPANEL_PUBLIC_URL.rstrip('/')}{path}"


def critical_email_send(*, notification_id: int) -> str:
    """Send the email of notification ``notification_id`` once: claimed from ``queued`` (a
    second message for the same row finds it claimed and does nothing), then ``sent`` or
    ``failed``. Returns the outcome."""
    claimed = CriticalNotification.objects.filter(
        pk=notification_id, outcome=CriticalOutcome.QUEUED
    ).update(outcome=CriticalOutcome.SENDING)
    if not claimed:
        return ""
    notification = CriticalNotification.objects.get(pk=notification_id)
    try:
        send_mail(
            subject=EMAIL_SUBJECT,
            message=critical_email_body(alert_id=notification.alert_id, level=notification.level),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.address],
        )
    except OSError as error:  # smtplib.SMTPException is an OSError
        outcome, detail = CriticalOutcome.FAILED, type(error).__name__
    else:
        outcome, detail = CriticalOutcome.SENT, ""
    CriticalNotification.objects.filter(pk=notification_id).update(
        outcome=outcome, outcome_at=timezone.now(), detail=detail
    )
    logger.info(
        "panel.critical_email notification_id=%s alert_id=%s outcome=%s",
        notification_id,
        notification.alert_id,
        outcome,
    )
    return outcome
