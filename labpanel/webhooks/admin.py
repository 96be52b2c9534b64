"""Webhooks in the admin: subscriptions (never their secret) and deliveries with every attempt
and replay inline, read-only for everyone (changes go through the API, whose services record
them). A director sees their own lab's rows, a superuser every lab's (``LabRowsAdmin``,
``access.admin_rows_scope``); who sees these pages at all is ``access.webhooks_admin_allowed``.
Nothing here names a patient: a delivery carries the event's ids and kind."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from labpanel.accounts import access
from labpanel.accounts.admin import LabRowsAdmin
from labpanel.webhooks.models import Delivery, DeliveryAttempt, DeliveryReplay, Subscription


class _ReadOnly:
    """Shown to ``access.webhooks_admin_allowed``; never added, changed or deleted here."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.webhooks_admin_allowed(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.webhooks_admin_allowed(request.user)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Every field but the signing secret, which the server needs in clear and nobody reads again.
SUBSCRIPTION_FIELDS = (
    "lab",
    "url",
    "kinds",
    "is_active",
    "from_event_id",
    "created_by",
    "created_at",
)


@admin.register(Subscription)
class SubscriptionAdmin(_ReadOnly, LabRowsAdmin):
    list_display = ("id", "lab", "url", "kinds", "is_active", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("lab",)
    fields = SUBSCRIPTION_FIELDS
    readonly_fields = SUBSCRIPTION_FIELDS
    exclude = ("secret",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        return super().get_queryset(request).defer("secret")


class AttemptInline(_ReadOnly, admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    extra = 0
    fields = ("attempted_at", "status_code", "error", "duration_ms", "succeeded")
    readonly_fields = fields


class ReplayInline(_ReadOnly, admin.TabularInline[DeliveryReplay, Delivery]):
    model = DeliveryReplay
    extra = 0
    fields = ("replayed_at", "replayed_by")
    readonly_fields = fields


DELIVERY_FIELDS = (
    "subscription",
    "event_uuid",
    "event_kind",
    "state",
    "failures",
    "next_attempt_at",
    "created_at",
    "delivered_at",
    "dead_at",
    "cancelled_at",
)


@admin.register(Delivery)
class DeliveryAdmin(_ReadOnly, LabRowsAdmin):
    list_display = (
        "id",
        "subscription_id",
        "event_kind",
        "state",
        "failures",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state",)
    list_select_related = ("event",)
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    inlines = (AttemptInline, ReplayInline)
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).select_related("event", "subscription")

    @admin.display(description="event id (the Webhook-Id sent)")
    def event_uuid(self, delivery: Delivery) -> str:
        return str(delivery.event.uuid)

    @admin.display(description="event kind")
    def event_kind(self, delivery: Delivery) -> str:
        return str(delivery.event.kind)
