"""Permission-aware reads of panels.

A panel's reports belong to ``reports`` (a layer above): the reads that answer with them add
them (``panels.intake.selectors`` for the panels API, ``reports.selectors`` for rendering).
Who sees what is decided by :func:`labpanel.accounts.access.panels_scope` (see its policy).
Views answer 404 for anything outside the user's scope, so existence never leaks.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from labpanel.accounts import access
from panels.models import Finding, Panel, Result, ReviewTransition


def panels_visible_to(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    return Panel.objects.filter(access.panels_scope(user))


def panel_details(panels: QuerySet[Panel]) -> QuerySet[Panel]:
    """``panels`` with their lab, patient, clinician, submitter, rule set, results, findings and
    review history, each step with its actor and the actor's staff row (the name a page or a
    report prints)."""
    # The two users (and their staff rows) come in their own small query: joined to the rest,
    # the nine-table join cost PostgreSQL ~10 ms of planning per read (bench/report_render.py).
    users = User.objects.select_related("staff")
    return panels.select_related("lab", "patient", "ruleset").prefetch_related(
        Prefetch("ordering_clinician", queryset=users),
        Prefetch("submitted_by", queryset=users),
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
        Prefetch(
            "findings",
            queryset=Finding.objects.current().select_related("text").order_by("position"),
        ),
        Prefetch(
            "review_transitions",
            queryset=ReviewTransition.objects.select_related("actor", "actor__staff").order_by(
                "occurred_at", "pk"
            ),
        ),
    )
