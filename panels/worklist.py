"""The lab's worklist: the panels awaiting a person (received: to verify; verified: to release).

Three queries per page whatever its size: the panels (read from the ``panel_worklist`` index
alone), their patients, and their current results counted by judgement. Critical ones (a current
result flagged ``HH``/``LL``) come first, then the oldest collection. Who sees which panels is
``labpanel.accounts.access.worklist_scope``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

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
from panels.models import Panel, Patient, Result, ReviewState
from panels.review_rules import CRITICAL_CODES

AWAITING = (ReviewState.RECEIVED, ReviewState.VERIFIED)
# Judgements that are not a flag: normal, indeterminate, and no interval judged ("").
NOT_FLAGGED = ("", "N", "IND")
COUNTS = ("results_total", "results_flagged", "results_critical", "results_not_interpreted")


@dataclass(frozen=True)
class WorklistFilter:
    """What the worklist is narrowed to: one review state (``""``: both), flagged panels only,
    a patient's names or MRN (words), a collection date (UTC)."""

    state: str = ""
    flagged_only: bool = False
    search: str = ""
    collected_on: date | None = None


def _results(panel_filter: Q) -> QuerySet[Result]:
    """The current results of the outer panel matching ``panel_filter``."""
    return Result.objects.filter(
        panel_filter, panel_id=OuterRef("pk"), superseded_by__isnull=True
    ).order_by()


def worklist_panels(*, user: Any, narrowed: WorklistFilter | None = None) -> QuerySet[Panel]:
    """The panels on ``user``'s worklist, with ``patient`` prefetched and ``is_critical`` (a
    current result flagged critical): critical first, then oldest collection, then accession.
    A page of it gets its result counts from :func:`worklist_counts`."""
    narrowed = narrowed or WorklistFilter()
    states = [narrowed.state] if narrowed.state in AWAITING else list(AWAITING)
    flagged = ~Q(interpretation__in=NOT_FLAGGED)
    critical = Q(interpretation__in=CRITICAL_CODES)
    panels = (
        Panel.objects.filter(access.worklist_scope(user), review_state__in=states)
        .only(
            "pk",
            "accession",
            "lab_id",
            "patient_id",
            "submitted_by_id",
            "collected_at",
            "review_state",
            "specimen_type",
        )
        # The page's patients in a query of their own: joined, every awaiting panel's patient
        # would be read before the sort picks the page's 25.
        .prefetch_related(
            Prefetch("patient", queryset=Patient.objects.only("mrn", "family_name", "given_name"))
        )
    )
    for word in narrowed.search.split():
        panels = panels.filter(
            Q(patient__family_name__icontains=word)
            | Q(patient__given_name__icontains=word)
            | Q(patient__mrn__iexact=word)
            | Q(accession__iexact=word)
        )
    if narrowed.collected_on is not None:
        panels = panels.filter(collected_at__date=narrowed.collected_on)
    if narrowed.flagged_only:
        panels = panels.filter(Exists(_results(flagged)))
    # Uncorrelated, so PostgreSQL reads the critical results once into a hash and probes it per
    # panel (a correlated EXISTS would read each panel's results).
    critical_panels = Result.objects.filter(critical, superseded_by__isnull=True).values("panel_id")
    return panels.annotate(
        is_critical=ExpressionWrapper(Q(pk__in=critical_panels), output_field=BooleanField())
    ).order_by("-is_critical", "collected_at", "accession")


def worklist_counts(panels: Sequence[Panel]) -> Sequence[Panel]:
    """Set ``results_total``, ``results_flagged``, ``results_critical`` and
    ``results_not_interpreted`` (current results) on ``panels``, a page of the worklist: one
    query for the page (counted in the ORDER BY ... OFFSET query, PostgreSQL would count the
    results of every panel before the page too)."""
    counts: dict[int, dict[str, Any]] = {
        row["panel_id"]: dict(row)
        for row in Result.objects.filter(
            panel_id__in=[panel.pk for panel in panels], superseded_by__isnull=True
        )
        .order_by()
        .values("panel_id")
        .annotate(
            results_total=Count("pk"),
            results_flagged=Count("pk", filter=~Q(interpretation__in=NOT_FLAGGED)),
            results_critical=Count("pk", filter=Q(interpretation__in=CRITICAL_CODES)),
            results_not_interpreted=Count("pk", filter=Q(interpretation="")),
        )
    }
    for panel in panels:
        row = counts.get(panel.pk, {})
        for name in COUNTS:
            setattr(panel, name, row.get(name, 0))
    return panels
