"""Reading critical alerts for the pages: one alert with everything its page shows, and the
alerts awaiting acknowledgement that head a user's inbox. Both scoped by
``access.critical_alerts_scope`` (the ordering clinician; the lab's technicians and
directors), in a fixed number of queries whatever the count."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from labpanel.accounts import access
from labpanel.compiled_queries import CompiledQueries
from panels.models import Result
from panels.models_critical import (
    CriticalAlert,
    CriticalAlertState,
    CriticalLevel,
    CriticalNotification,
)

INBOX_ALERTS = 50
# The awaiting alerts' query, compiled once per scope (labpanel.compiled_queries).
_COMPILED = CompiledQueries()


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


@dataclass(frozen=True, slots=True)
class AwaitingAlert:
    """An alert nobody acknowledged, as the inbox lists it: who, which panel, which critical
    values (``results``: analyte name, value as received, unit, "critical low/high")."""

    pk: int
    panel_id: int
    patient_id: int
    patient: str
    mrn: str
    accession: str
    exhausted: bool
    level_label: str
    results: list[tuple[str, str, str, str]]


def _awaiting(scope: Q, limit: int) -> QuerySet[CriticalAlert, tuple[Any, ...]]:
    """:func:`critical_alerts_awaiting`'s first query: the alerts with what the inbox shows."""
    return (
        CriticalAlert.objects.filter(
            scope,
            state__in=(CriticalAlertState.OPEN, CriticalAlertState.EXHAUSTED),
        )
        .order_by("opened_at", "pk")
        .values_list(
            "pk",
            "panel_id",
            "panel__patient_id",
            "state",
            "level",
            "panel__accession",
            "panel__patient__mrn",
            "panel__patient__family_name",
            "panel__patient__given_name",
        )[:limit]
    )


def critical_alerts_awaiting(*, user: Any, limit: int = INBOX_ALERTS) -> list[AwaitingAlert]:
    """The alerts ``user`` sees that nobody acknowledged yet (open, or escalation exhausted),
    oldest first: one query for the alerts (compiled once per scope), and one more for their
    results when there are any (a page every clinician opens pays only the first, with the
    columns it shows)."""
    scope = access.critical_alerts_scope(user)
    alerts = _COMPILED.rows(("awaiting", scope, limit), lambda: _awaiting(scope, limit))
    if not alerts:
        return []
    values: dict[int, list[tuple[str, str, str, str]]] = {pk: [] for pk, *_ in alerts}
    for alert_id, name, raw_value, unit, interpretation in (
        Result.objects.filter(critical_alerts__in=values)
        .order_by("position", "pk")
        .values_list("critical_alerts", "analyte__name", "raw_value", "unit", "interpretation")
    ):
        words = "critical low" if interpretation == "LL" else "critical high"
        values[alert_id].append((name, raw_value, unit, words))
    return [
        AwaitingAlert(
            pk=pk,
            panel_id=panel_id,
            patient_id=patient_id,
            patient=f"{family}, {given}" if given else family,
            mrn=mrn,
            accession=accession,
            exhausted=state == CriticalAlertState.EXHAUSTED,
            level_label=CriticalLevel(level).label if level else "",
            results=values[pk],
        )
        for pk, panel_id, patient_id, state, level, accession, mrn, family, given in alerts
    ]
