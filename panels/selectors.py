"""Permission-aware reads of panels.

Who sees what is decided by :func:`labpanel.accounts.access.panels_scope` (see its policy).
Views answer 404 for anything outside the user's scope, so existence never leaks.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from labpanel.accounts import access
from panels.models import Finding, Panel, Result
from reports.models import Report


def panels_visible_to(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    return Panel.objects.filter(access.panels_scope(user))


def _with_details(panels: QuerySet[Panel]) -> QuerySet[Panel]:
    return panels.select_related(
        "lab", "patient", "ordering_clinician", "ruleset", "ordering_clinician__staff"
    ).prefetch_related(
        Prefetch(
            "results",
            queryset=Result.objects.current()
            .select_related("analyte", "rule")
            .order_by("position"),
        ),
        Prefetch(
            "results",
            queryset=Result.objects.filter(superseded_by__isnull=False)
            .select_related("analyte", "superseded_by")
            .order_by("position"),
            to_attr="superseded",
        ),
        Prefetch("reports", queryset=Report.objects.order_by("-pk")),
        Prefetch("findings", queryset=Finding.objects.current().order_by("position")),
    )


def panel_list(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    return _with_details(panels_visible_to(user=user)).order_by("-created_at", "-pk")


def panel_get(*, pk: int, user: User | AnonymousUser) -> Panel | None:
    return _with_details(panels_visible_to(user=user)).filter(pk=pk).first()


def panel_get_for_rendering(*, pk: int) -> Panel:
    """The panel with everything a report shows; for the worker, which acts for the lab."""
    return _with_details(Panel.objects.all()).get(pk=pk)
