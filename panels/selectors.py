"""Permission-aware reads of panels.

Who sees what: technicians and directors see their lab's panels; a clinician sees only the
panels they ordered; an integrator sees the panels submitted with its own credentials. Anyone
else sees nothing. Views answer 404 for anything outside these sets, so existence never leaks.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from panels.models import Finding, Panel, Result, Role, StaffMember
from reports.models import Report


def staff_member_get(*, user: User | AnonymousUser) -> StaffMember | None:
    if not user.is_authenticated:
        return None
    return StaffMember.objects.select_related("lab").filter(user_id=user.pk).first()


def panels_visible_to(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    staff = staff_member_get(user=user)
    if staff is None:
        return Panel.objects.none()
    panels = Panel.objects.filter(lab_id=staff.lab_id)
    if staff.role in (Role.TECHNICIAN, Role.DIRECTOR):
        return panels
    if staff.role == Role.CLINICIAN:
        return panels.filter(ordering_clinician_id=staff.user_id)
    if staff.role == Role.INTEGRATOR:
        return panels.filter(submitted_by_id=staff.user_id)
    return Panel.objects.none()


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
