"""Permission-aware reads of reports: a report is visible exactly when its panel is."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from labpanel.accounts import access
from panels.models import Panel
from panels.selectors import panel_details
from reports.models import Report


def with_reports(panels: QuerySet[Panel]) -> QuerySet[Panel]:
    """``panels`` with their reports prefetched, newest first."""
    return panels.prefetch_related(Prefetch("reports", queryset=Report.objects.order_by("-pk")))


def panel_get_for_rendering(*, pk: int) -> Panel:
    """The panel with everything a report shows; for the worker, which acts for the lab. (Not
    its other reports: the report being drawn carries what it says about the one it amends.)"""
    return panel_details(Panel.objects.all()).get(pk=pk)


def report_get(*, pk: int, user: User | AnonymousUser) -> Report | None:
    return (
        Report.objects.select_related("panel")
        .filter(access.panels_scope(user, prefix="panel__"), pk=pk)
        .first()
    )
