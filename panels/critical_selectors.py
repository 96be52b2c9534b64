"""Reading critical alerts for the pages: one alert with everything its page shows, and the
alerts awaiting acknowledgement that head a user's inbox. Both scoped by
``access.critical_alerts_scope`` (the ordering clinician; the lab's technicians and
directors), in a fixed number of queries whatever the count."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from labpanel.accounts import access
from panels.models import Result
from panels.models_critical import CriticalAlert, CriticalAlertState, CriticalNotification

INBOX_ALERTS = 50


def _results() -> Prefetch[Any]:
    return Prefetch(
        "results",
        queryset=Result.objects.select_related("analyte", "rule").order_by("position"),
    )


def critical_alert_get(*, pk: int, user: Any) -> CriticalAlert | None:
    """Alert ``pk`` with its panel, patient, results and notifications, when ``user`` may see
    it; else ``None`` (the page answers 404)."""
    return (
        CriticalAlert.objects.filter(access.critical_alerts_scope(user), pk=pk)
        .select_related(
            "panel__patient", "panel__ordering_clinician", "panel__lab", "acknowledged_by"
        )
        .prefetch_related(
            _results(),
            Prefetch(
                "notifications",
                queryset=CriticalNotification.objects.select_related(
                    "recipient", "recorded_by"
                ).order_by("attempted_at", "pk"),
            ),
        )
        .first()
    )


def critical_alerts_awaiting(*, user: Any, limit: int = INBOX_ALERTS) -> list[CriticalAlert]:
    """The alerts ``user`` sees that nobody acknowledged yet (open, or escalation exhausted),
    oldest first: two queries."""
    return list(
        CriticalAlert.objects.filter(
            access.critical_alerts_scope(user),
            state__in=(CriticalAlertState.OPEN, CriticalAlertState.EXHAUSTED),
        )
        .select_related("panel__patient")
        .prefetch_related(_results())
        .order_by("opened_at", "pk")[:limit]
    )
