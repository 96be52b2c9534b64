"""Permission-aware reads of panels for the panels API: its answers embed the panel's reports
(newest first), so the reads add them to ``panels.selectors.panel_details``."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from panels.models import Panel
from panels.selectors import panel_details, panels_visible_to
from reports.selectors import with_reports


def panel_list(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    return with_reports(panel_details(panels_visible_to(user=user)), user=user).order_by(
        "-created_at", "-pk"
    )


def panel_get(*, pk: int, user: User | AnonymousUser) -> Panel | None:
    return (
        with_reports(panel_details(panels_visible_to(user=user)), user=user).filter(pk=pk).first()
    )
