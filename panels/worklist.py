"""The lab's worklist: the panels awaiting a person (received: to verify; verified: to release).

One query per page whatever its size: the patient joined, and per panel annotations counting
its current results by judgement. Critical ones (a current result flagged ``HH``/``LL``) come
first, then the oldest collection. Who sees which panels is
``labpanel.accounts.access.worklist_scope``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet

from labpanel.accounts import access
from panels.models import Panel, ReviewState
from panels.review_rules import CRITICAL_CODES

AWAITING = (ReviewState.RECEIVED, ReviewState.VERIFIED)
# Judgements that are not a flag: normal, indeterminate, and no interval judged ("").
NOT_FLAGGED = ("", "N", "IND")


@dataclass(frozen=True)
class WorklistFilter:
    """What the worklist is narrowed to: one review state (``""``: both), flagged panels only,
    a patient's names or MRN (words), a collection date (UTC)."""

    state: str = ""
    flagged_only: bool = False
    search: str = ""
    collected_on: date | None = None


def worklist_panels(*, user: Any, narrowed: WorklistFilter | None = None) -> QuerySet[Panel]:
    """The panels on ``user``'s worklist, with ``patient`` joined and ``results_total``,
    ``results_flagged``, ``results_critical``, ``results_not_interpreted`` counted over the
    current results; ``is_critical`` first, then oldest collection, then accession."""
    narrowed = narrowed or WorklistFilter()
    states = [narrowed.state] if narrowed.state in AWAITING else list(AWAITING)
    current = Q(results__superseded_by__isnull=True)
    code = "results__interpretation"
    flagged = current & ~Q(**{f"{code}__in": NOT_FLAGGED})
    critical_result = current & Q(**{f"{code}__in": CRITICAL_CODES})
    panels = (
        Panel.objects.filter(access.worklist_scope(user), review_state__in=states)
        .select_related("patient")
        .only(
            "pk",
            "accession",
            "lab_id",
            "submitted_by_id",
            "collected_at",
            "review_state",
            "specimen_type",
            "patient__mrn",
            "patient__family_name",
            "patient__given_name",
        )
        .annotate(
            results_total=Count("results", filter=current),
            results_flagged=Count("results", filter=flagged),
            results_critical=Count("results", filter=critical_result),
            results_not_interpreted=Count("results", filter=current & Q(**{code: ""})),
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
        panels = panels.filter(results_flagged__gt=0)
    critical = ExpressionWrapper(Q(results_critical__gt=0), output_field=BooleanField())
    return panels.annotate(is_critical=critical).order_by(
        "-is_critical", "collected_at", "accession"
    )
