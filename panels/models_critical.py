"""Critical results that must reach a person: the alert of a verified panel holding a value at
or beyond a lab's critical limit, and every attempt to tell someone about it.

``CriticalAlert`` is the schedule: while it is ``open`` its ``next_attempt_at`` says when Celery
beat escalates it to the next level (ordering clinician → lab directors → the lab's on-call
contact → ``exhausted``). The schedule lives in PostgreSQL, not in the broker, so nothing is lost
when Redis restarts. ``CriticalNotification`` is one attempt (or the final phone read-back): who
was told, when, by which channel, at which level, with what outcome. Changed only by
``panels.critical``. Imported by ``panels.models`` so that Django finds the models.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labpanel.db import QuickLoadModel


class CriticalAlertState(models.TextChoices):
    OPEN = "open", "Open: awaiting acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    EXHAUSTED = "exhausted", "Escalation exhausted: nobody acknowledged"


class CriticalLevel(models.TextChoices):
    """Who is told, in escalation order."""

    ORDERING_CLINICIAN = "ordering_clinician", "Ordering clinician"
    LAB_DIRECTOR = "lab_director", "Lab director"
    ON_CALL = "on_call", "Lab's on-call contact"


class CriticalChannel(models.TextChoices):
    INBOX = "inbox", "Inbox"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"


class CriticalOutcome(models.TextChoices):
    SHOWN = "shown", "Shown in the inbox"
    QUEUED = "queued", "Email queued"
    SENDING = "sending", "Email being sent"
    SENT = "sent", "Email sent"
    FAILED = "failed", "Email could not be sent"
    NO_ADDRESS = "no_address", "No address on record: not sent"
    NO_RECIPIENT = "no_recipient", "Nobody at this level: skipped"
    CALL_DUE = "call_due", "Phone call due (the lab calls)"
    READ_BACK = "read_back", "Told by phone; value read back"


class CriticalAcknowledgement(models.TextChoices):
    CLINICIAN = "clinician", "Acknowledged by the ordering clinician"
    REPORT = "report", "Acknowledged with the report by the ordering clinician"
    READ_BACK = "read_back", "Phone read-back recorded by the lab"


class CriticalAlert(QuickLoadModel):
    """One panel's critical results awaiting acknowledgement, and where its escalation stands.

    At most one alert of a panel is ``open`` at a time (a constraint)."""

    panel = models.ForeignKey(
        "panels.Panel", on_delete=models.PROTECT, related_name="critical_alerts"
    )
    results = models.ManyToManyField("panels.Result", related_name="critical_alerts")
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who verified the panel; empty for an automatic verification",
    )
    state = models.CharField(
        max_length=12, choices=CriticalAlertState.choices, default=CriticalAlertState.OPEN
    )
    level = models.CharField(
        max_length=20,
        choices=CriticalLevel.choices,
        default=CriticalLevel.ORDERING_CLINICIAN,
        help_text="The last level notified",
    )
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When beat escalates an open alert; empty otherwise"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The clinician who acknowledged, or the lab member who recorded the read-back",
    )
    acknowledgement = models.CharField(
        max_length=12, choices=CriticalAcknowledgement.choices, blank=True
    )
    exhausted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state=CriticalAlertState.OPEN),
                name="critical_alert_due",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["panel"],
                condition=Q(state=CriticalAlertState.OPEN),
                name="critical_alert_one_open_per_panel",
            ),
            models.CheckConstraint(
                condition=~Q(state=CriticalAlertState.OPEN) | Q(next_attempt_at__isnull=False),
                name="critical_alert_open_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=~Q(state=CriticalAlertState.ACKNOWLEDGED)
                | Q(acknowledged_at__isnull=False),
                name="critical_alert_acknowledged_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Critical alert {self.pk} of panel {self.panel_id} ({self.state})"

    @property
    def is_awaiting(self) -> bool:
        """Nobody has acknowledged it yet (open, or escalation exhausted)."""
        return self.state != CriticalAlertState.ACKNOWLEDGED


class CriticalNotification(QuickLoadModel):
    """One attempt to tell someone of a critical alert, or the phone read-back that ended it."""

    alert = models.ForeignKey(CriticalAlert, on_delete=models.PROTECT, related_name="notifications")
    level = models.CharField(max_length=20, choices=CriticalLevel.choices)
    channel = models.CharField(max_length=8, choices=CriticalChannel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The user told; empty for the on-call contact or a person called",
    )
    recipient_name = models.CharField(max_length=200, blank=True)
    address = models.CharField(
        max_length=254, blank=True, help_text="The email address or phone number used"
    )
    attempted_at = models.DateTimeField()
    outcome = models.CharField(max_length=12, choices=CriticalOutcome.choices)
    outcome_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=200, blank=True)
    read_back_by = models.CharField(
        max_length=200, blank=True, help_text="Who read the value back (phone read-back)"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The lab member who recorded a phone read-back",
    )

    class Meta:
        ordering = ["alert", "attempted_at", "pk"]

    def __str__(self) -> str:
        return f"Critical alert {self.alert_id}: {self.channel} to {self.level} ({self.outcome})"
