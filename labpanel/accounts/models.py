"""Labs, the staff roles and a user's membership of a lab.

The models moved here from ``panels``; their tables keep their names (``panels_lab``,
``panels_staffmember``) so that existing data stays where it is.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from labpanel.db import QuickLoadModel, TimestampedModel


class Lab(TimestampedModel):
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    clia_number = models.CharField(max_length=16, blank=True)
    # Review and release (the lab's director sets them in the admin; ``access`` reads them).
    # Database defaults too: every existing lab gets the safe defaults when they are added.
    technicians_may_verify = models.BooleanField(
        default=True,
        db_default=True,
        help_text="Technicians may verify results (directors always may)",
    )
    technicians_may_release = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Technicians may release reports without interpretive findings "
        "(directors always may; interpretive findings only directors release)",
    )
    self_verification_allowed = models.BooleanField(
        default=False,
        db_default=False,
        help_text="A person may verify a panel they submitted",
    )
    auto_verification_enabled = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Verify a panel on submission when every result is normal, inside the "
        "measuring range and judged by an interval, with no finding met and no critical value",
    )
    preliminary_reports_to_clinicians = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Ordering clinicians see results and PRELIMINARY reports before release",
    )

    # Critical results (panels.critical): how long a notified person has to acknowledge before
    # Celery beat escalates (ordering clinician -> directors -> on-call contact), and the
    # on-call contact, the last level.
    critical_ack_limit_minutes = models.PositiveIntegerField(
        default=15,
        db_default=15,
        help_text="Minutes a notified person has to acknowledge a critical result before it is "
        "escalated to the next level",
    )
    critical_on_call_name = models.CharField(
        max_length=120,
        blank=True,
        default="",
        db_default="",
        help_text="The lab's on-call contact for critical results",
    )
    critical_on_call_phone = models.CharField(
        max_length=40,
        blank=True,
        default="",
        db_default="",
        help_text="The on-call contact's phone number",
    )
    critical_on_call_email = models.EmailField(
        blank=True, default="", db_default="", help_text="The on-call contact's email address"
    )

    class Meta:
        db_table = "panels_lab"

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    TECHNICIAN = "technician", "Lab technician"
    CLINICIAN = "clinician", "Clinician"
    INTEGRATOR = "integrator", "Integrator"
    DIRECTOR = "director", "Lab director"


class StaffMember(TimestampedModel):
    """A user's membership of a lab and the role that decides what they may see and do."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff"
    )
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(max_length=16, choices=Role.choices)
    display_name = models.CharField(max_length=120, blank=True)
    provider_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="Identifier interfaces use for this clinician (HL7 OBR-16.1), e.g. an NPI",
    )

    class Meta:
        db_table = "panels_staffmember"
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "provider_id"],
                condition=~Q(provider_id=""),
                name="staff_provider_id_once_per_lab",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.role}, {self.lab})"


class TokenScope(models.TextChoices):
    """What an API token may be used for. A scope limits a token, never widens a role: a
    token with ``results:submit`` of a clinician still cannot submit (``access`` decides)."""

    RESULTS_READ = "results:read", "Read results (panels, reports, rule sets, the read audit)"
    RESULTS_SUBMIT = "results:submit", "Submit results (panels, amendments, review, HL7, imports)"
    RANGES_MANAGE = "ranges:manage", "Manage reference ranges (import and publish rule sets)"
    WEBHOOKS_RECEIVE = "webhooks:receive", "Receive webhooks (manage subscriptions)"


class TokenScopes(QuickLoadModel):
    """The scopes of one knox API token, keyed by the token's digest (knox's ``AuthToken`` is
    a library model). Read with the token in the authentication's one statement
    (``labpanel.accounts.backends.tokens_with_staff``); a token without a row has no scope."""

    token = models.OneToOneField(
        "knox.AuthToken",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="labpanel_scopes",
        db_column="digest",
    )
    # space-separated, as OAuth writes scopes (RFC 6749 §3.3), in TokenScope's order
    scopes = models.CharField(max_length=200)

    class Meta:
        verbose_name_plural = "token scopes"

    def __str__(self) -> str:
        return self.scopes
