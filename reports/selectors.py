"""Permission-aware reads of reports: a report is visible when its panel is and, for a
clinician, once released (or as a preliminary where the lab sends them:
``labpanel.accounts.access.reports_scope``)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from labpanel.accounts import access
from panels.models import Panel
from panels.selectors import panel_details
from reports.models import Report


def with_reports(
    panels: QuerySet[Panel], *, user: User | AnonymousUser | None = None
) -> QuerySet[Panel]:
    """``panels`` with their reports prefetched, newest first: those ``user`` may see (a
    clinician: released ones, or preliminary ones where the lab sends them), or all of them
    (``None``: the worker, acting for the lab)."""
    reports = Report.objects.order_by("-pk")
    if user is not None:
        reports = reports.filter(access.reports_scope(user))
    return panels.prefetch_related(Prefetch("reports", queryset=reports))


def panel_get_for_rendering(*, pk: int) -> Panel:
    """The panel with everything a report shows; for the worker, which acts for the lab. (Not
    its other reports: the report being drawn carries what it says about the one it amends.)"""
    return panel_details(Panel.objects.all(), review_history=False).get(pk=pk)


def report_get(*, pk: int, user: User | AnonymousUser) -> Report | None:
    return Report.objects.select_related("panel").filter(access.reports_scope(user), pk=pk).first()
