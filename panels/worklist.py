"""The lab's worklist: the panels awaiting a person (received: to verify; verified: to release).

Two queries per page whatever its size: the page's panels with the number of them all (a window
count, read from the ``panel_worklist`` index alone), then the page's patients and current
results counted by judgement (one aggregate over the page's 25). Critical ones (a current result
flagged ``HH``/``LL``) come first, then the oldest collection. The flagged filter is one
uncorrelated set (the panels with a current flagged result), not a probe per panel. Who sees which
panels is ``labpanel.accounts.access.worklist_scope``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Q,
    QuerySet,
    Window,
)

from labpanel.accounts import access
from panels.models import Panel, Patient, Result, ReviewState
from panels.review_rules import CRITICAL_CODES

AWAITING = (ReviewState.RECEIVED, ReviewState.VERIFIED)
# Judgements that are not a flag: normal, indeterminate, and no interval judged ("").
NOT_FLAGGED = ("", "N", "IND")
COUNTS = ("results_total", "results_flagged", "results_critical", "results_not_interpreted")
PAGE_PANELS = 25


@dataclass(frozen=True)
class WorklistFilter:
    """What the worklist is narrowed to: one review state (``""``: both), flagged panels only,
    a patient's names or MRN (words), a collection date (UTC)."""

    state: str = ""
    flagged_only: bool = False
    search: str = ""
    collected_on: date | None = None


def worklist_panels(*, user: Any, narrowed: WorklistFilter | None = None) -> QuerySet[Panel]:
    """The panels on ``user``'s worklist, with ``is_critical`` (a current result flagged
    critical): critical first, then oldest collection, then accession. A page of it gets its
    patients and result counts from :func:`worklist_counts`."""
    narrowed = narrowed or WorklistFilter()
    states = [narrowed.state] if narrowed.state in AWAITING else list(AWAITING)
    flagged = ~Q(interpretation__in=NOT_FLAGGED)
    critical = Q(interpretation__in=CRITICAL_CODES)
    panels = Panel.objects.filter(access.worklist_scope(user), review_state__in=states).only(
        "pk",
        "accession",
        "lab_id",
        "patient_id",
        "submitted_by_id",
        "collected_at",
        "review_state",
        "specimen_type",
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
        panels = panels.filter(
            pk__in=Result.objects.filter(flagged, superseded_by__isnull=True).values("panel_id")
        )
    # Uncorrelated, so PostgreSQL reads the critical results once into a hash and probes it per
    # panel (a correlated EXISTS would read each panel's results).
    critical_panels = Result.objects.filter(critical, superseded_by__isnull=True).values("panel_id")
    return panels.annotate(
        is_critical=ExpressionWrapper(Q(pk__in=critical_panels), output_field=BooleanField())
    ).order_by("-is_critical", "collected_at", "accession")


def worklist_counts(panels: Sequence[Panel]) -> Sequence[Panel]:
    """Set each panel's ``patient`` (MRN and names only) and ``results_total``,
    ``results_flagged``, ``results_critical`` and ``results_not_interpreted`` (current results)
    on ``panels``, a page of the worklist: one query for the page (counted in the ORDER BY ...
    OFFSET query, PostgreSQL would count the results of every panel before the page too)."""
    current = Q(results__superseded_by__isnull=True)
    rows: dict[int, dict[str, Any]] = {
        row["pk"]: dict(row)
        for row in Panel.objects.filter(pk__in=[panel.pk for panel in panels])
        .order_by()
        .values("pk", "patient_id", "patient__mrn", "patient__family_name", "patient__given_name")
        .annotate(
            results_total=Count("results", filter=current),
            results_flagged=Count(
                "results", filter=current & ~Q(results__interpretation__in=NOT_FLAGGED)
            ),
            results_critical=Count(
                "results", filter=current & Q(results__interpretation__in=CRITICAL_CODES)
            ),
            results_not_interpreted=Count(
                "results", filter=current & Q(results__interpretation="")
            ),
        )
    }
    for panel in panels:
        row = rows.get(panel.pk, {})
        for name in COUNTS:
            setattr(panel, name, row.get(name, 0))
        if row:
            panel.patient = Patient(
                pk=row["patient_id"],
                mrn=row["patient__mrn"],
                family_name=row["patient__family_name"],
                given_name=row["patient__given_name"],
            )
    return panels


@dataclass
class WorklistPage:
    """One page of the worklist (as much of Django's ``Page`` as the template reads): its
    ``panels`` with their counts, its ``number``, and ``count`` panels in all."""

    panels: list[Panel]
    number: int
    count: int
    per_page: int = PAGE_PANELS
    paginator: WorklistPage = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.paginator = self  # the template asks ``page.paginator.count``, as of Django's Page

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.count // self.per_page))

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.number < self.num_pages

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def page_number(text: str | None) -> int:
    """The page asked for: a positive integer, else the first."""
    try:
        return max(int(text or 1), 1)
    except ValueError:
        return 1


def worklist_page_get(
    *, user: Any, narrowed: WorklistFilter | None = None, number: int = 1
) -> WorklistPage:
    """Page ``number`` (from 1; past the last: the last) of ``user``'s worklist, its panels
    with their patients and counts: two queries (three past the last page)."""
    every = worklist_panels(user=user, narrowed=narrowed)
    panels = every.annotate(panels_in_all=Window(Count("pk")))
    offset = (number - 1) * PAGE_PANELS
    found = list(panels[offset : offset + PAGE_PANELS])
    if found:
        count = found[0].panels_in_all
    else:
        count = every.count() if number > 1 else 0
        last = max(1, -(-count // PAGE_PANELS))
        if number > last:
            number = last
            found = list(panels[(last - 1) * PAGE_PANELS : last * PAGE_PANELS])
    return WorklistPage(panels=list(worklist_counts(found)), number=number, count=count)
