"""Permission-aware reads of panels.

A panel's reports belong to ``reports`` (a layer above): the reads that answer with them add
them (``panels.intake.selectors`` for the panels API, ``reports.selectors`` for rendering).
Who sees what is decided by :func:`labpanel.accounts.access.panels_scope` (see its policy).
Views answer 404 for anything outside the user's scope, so existence never leaks.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Prefetch, QuerySet

from labpanel.accounts import access
from panels.models import Finding, Panel, Result, ReviewTransition


def panels_visible_to(*, user: User | AnonymousUser) -> QuerySet[Panel]:
    return Panel.objects.filter(access.panels_scope(user))


def panel_details(panels: QuerySet[Panel], *, catalogue_shared: bool = False) -> QuerySet[Panel]:
    """``panels`` with their lab, patient, clinician, submitter, rule set, results, findings and
    review history, each step with its actor and the actor's staff row (the name a page or a
    report prints).

    ``catalogue_shared``: for many panels at once (a batch of stored documents). The current
    results' analytes and rules are then read in two statements of their own, one instance per
    analyte or rule shared by every result naming it, instead of joined to each result row: a
    batch of 200 panels held 2,600 copies of 13 analytes and 18 rules, each with its JSON parsed
    (writing the documents of 4,000 imported panels: 13.2-13.4 -> 10.0-10.3 s). Two statements
    more, so a single panel keeps the join."""
    # The two users (and their staff rows) come in their own small query: joined to the rest,
    # the nine-table join cost PostgreSQL ~10 ms of planning per read (bench/report_render.py).
    users = User.objects.select_related("staff")
    current = Result.objects.current().order_by("position")
    results: list[str | Prefetch[Any]] = (
        [Prefetch("results", queryset=current), "results__analyte", "results__rule"]
        if catalogue_shared
        else [Prefetch("results", queryset=current.select_related("analyte", "rule"))]
    )
    return panels.select_related("lab", "patient", "ruleset").prefetch_related(
        Prefetch("ordering_clinician", queryset=users),
        Prefetch("submitted_by", queryset=users),
        *results,
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
