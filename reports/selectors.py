"""Permission-aware reads of reports: a report is visible when its panel is and, for a
clinician, once released (or as a preliminary where the lab sends them:
``labpanel.accounts.access.reports_scope``)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
)

from labpanel.accounts import access
from panels.models import Panel
from panels.selectors import panel_details
from reports.models import Report, ReportReceipt
from reports.results_builder import NOT_FLAGGED


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


def report_inbox(
    *, user: User, search: str = "", collected_on: date | None = None
) -> QuerySet[Report]:
    """A clinician's inbox: per panel the newest report ``user`` may see, with its patient and
    the counts of its current results by judgement (``results_total``, ``results_abnormal``,
    ``results_not_interpreted``, ``results_indeterminate``) and ``is_unread`` (never opened by
    ``user``); unread first, then flagged, then by collection time, newest first. ``search``
    matches the patient's names and MRN; ``collected_on`` the collection date (UTC)."""
    visible = access.reports_scope(user)
    newer = Report.objects.filter(visible, panel_id=OuterRef("panel_id"), pk__gt=OuterRef("pk"))
    opened = ReportReceipt.objects.filter(report_id=OuterRef("pk"), user_id=user.pk)
    current = Q(panel__results__superseded_by__isnull=True)
    codes = "panel__results__interpretation"
    reports = (
        Report.objects.filter(visible)
        .filter(~Exists(newer))
        .select_related("panel__patient")
        .annotate(
            is_unread=~Exists(opened),
            results_total=Count("panel__results", filter=current),
            results_abnormal=Count(
                "panel__results", filter=current & ~Q(**{f"{codes}__in": NOT_FLAGGED})
            ),
            results_not_interpreted=Count("panel__results", filter=current & Q(**{codes: ""})),
            results_indeterminate=Count("panel__results", filter=current & Q(**{codes: "IND"})),
        )
    )
    for word in search.split():
        reports = reports.filter(
            Q(panel__patient__family_name__icontains=word)
            | Q(panel__patient__given_name__icontains=word)
            | Q(panel__patient__mrn__iexact=word)
        )
    if collected_on is not None:
        reports = reports.filter(panel__collected_at__date=collected_on)
    flagged = ExpressionWrapper(Q(results_abnormal__gt=0), output_field=BooleanField())
    return reports.annotate(is_flagged=flagged).order_by(
        "-is_unread", "-is_flagged", "-panel__collected_at", "-pk"
    )
