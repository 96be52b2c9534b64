"""Permission-aware reads of reports: a report is visible exactly when its panel is."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from labpanel.accounts import access
from reports.models import Report


def report_get(*, pk: int, user: User | AnonymousUser) -> Report | None:
    return (
        Report.objects.select_related("panel")
        .filter(access.panels_scope(user, prefix="panel__"), pk=pk)
        .first()
    )
