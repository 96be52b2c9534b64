"""Webhook subscriptions, their deliveries and every attempt of each.

A ``Delivery`` is one (subscription, event) pair, created by the fan-out in the transaction that
advances the ``FanoutCursor``; the database is its schedule (``next_attempt_at``), so a message
lost with the broker is made good by the next beat. Every HTTP attempt is a ``DeliveryAttempt``
row; every replay of a dead letter a ``DeliveryReplay`` row. Nothing here names a patient: an
event carries ids only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from labpanel.accounts.models import Lab
from labpanel.db import QuickLoadModel
from labpanel.events.models import Event, EventKind

# The kinds a subscription may ask for (issue 15): report released (the panel's release; the
# FINAL report it produces follows as ``report.ready``), report corrected, critical result,
# import committed.
SUBSCRIBABLE_KINDS = (
    EventKind.PANEL_RELEASED,
    EventKind.REPORT_CORRECTED,
    EventKind.PANEL_CRITICAL_RESULT,
    EventKind.IMPORT_COMMITTED,
)


class Subscription(QuickLoadModel):
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="webhook_subscriptions")
    url = models.URLField(max_length=500)
    kinds = models.JSONField(default=list)  # a subset of SUBSCRIBABLE_KINDS' values
    # The Standard Webhooks secret, ``whsec_`` + base64 of 32 random bytes: the server needs it
    # in clear to sign; it is shown once, at creation.
    secret = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    # Events with a larger id only: a new subscription is not sent the lab's history.
    from_event_id = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"webhook subscription #{self.pk} (lab {self.lab_id})"


class FanoutCursor(QuickLoadModel):
    """The one row (``pk=1``) saying how far the fan-out has read the event record.

    Every event whose writing transaction id is below ``xid_done`` has been fanned out. The
    next window is ``[xid_done, xid_high)``, ``xid_high`` the oldest transaction open when the
    window was taken: every event of it has committed (or never will), whatever its id, so none
    commits behind the cursor. ``last_event_id`` is the progress inside the window (batches)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    xid_done = models.BigIntegerField(default=0)
    xid_high = models.BigIntegerField(null=True, blank=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"webhook fan-out cursor (xid {self.xid_done})"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead (every attempt failed)"
    # Its subscription was stopped before it was delivered: never sent (again).
    CANCELLED = "cancelled", "Cancelled (the subscription was stopped)"


class Delivery(QuickLoadModel):
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    lab_id = models.BigIntegerField(db_index=True)  # the subscription's lab (scoping)
    state = models.CharField(
        max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    # Failed attempts since the delivery was created or last replayed: the backoff step.
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A message for it was handed to the broker at this time (None: none, or it failed).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # An attempt is under way until then (a worker that died mid-attempt frees it).
    leased_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    dead_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("id",)
        constraints = (
            models.UniqueConstraint(
                fields=("subscription", "event"), name="webhook_delivery_once_per_event"
            ),
        )
        indexes = (
            models.Index(
                fields=("next_attempt_at",),
                name="webhook_delivery_due",
                condition=models.Q(state="pending"),
            ),
            models.Index(fields=("lab_id", "state", "id"), name="webhook_delivery_lab_state"),
        )

    def __str__(self) -> str:
        return f"webhook delivery #{self.pk} ({self.state})"


class DeliveryAttempt(QuickLoadModel):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)  # the exception's class and message
    duration_ms = models.PositiveIntegerField()
    succeeded = models.BooleanField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"attempt #{self.pk} of delivery {self.delivery_id}"


class DeliveryReplay(QuickLoadModel):
    """A dead letter scheduled again through the API: who, when."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="replays")
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    replayed_at = models.DateTimeField()

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"replay #{self.pk} of delivery {self.delivery_id}"
