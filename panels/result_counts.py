"""The counts of each panel's current results by judgement, stored on the panel
(``Panel.results_total``, ``results_flagged``, ``results_critical``,
``results_not_interpreted``, ``results_indeterminate``, ``is_critical``): the lab's worklist
orders its pages (critical first) and filters flagged panels from one index over them, instead
of reading every awaiting panel's results per request.

:func:`panel_result_counts_store` writes them on stored panels: one UPDATE counting the panels'
current results in the database (correlated counts, so that SQLite, the embedded mode, runs it
too), called in the transaction of every change to a panel's current results (an import, an
amendment); migration 0016 backfilled them. A new panel is inserted with them instead
(:func:`panel_result_counts_apply`: the same counts of the results about to be inserted, all
current; ``tests/panels/test_intake_statements.py`` checks that both agree).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from panels.models import Panel, Result

# Judgements that are not a flag: normal, indeterminate, and no interval judged ("").
NOT_FLAGGED = ("", "N", "IND")
CRITICAL = ("HH", "LL")  # panels.review_rules.CRITICAL_CODES (tests pin that they agree)


def _counted(judged: Q | None = None) -> Coalesce:
    """The outer panel's current results (those ``judged``), counted."""
    results = Result.objects.filter(panel_id=OuterRef("pk"), superseded_by__isnull=True)
    if judged is not None:
        results = results.filter(judged)
    counted = results.order_by().values("panel_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def panel_result_counts_apply(*, panel: Panel, results: Sequence[Result]) -> None:
    """Put on ``panel`` (not saved: it is inserted with them) the counts of ``results``, its
    results about to be inserted (all of them current), as :func:`panel_result_counts_store`
    counts them in the database."""
    judgements = [result.interpretation for result in results]
    panel.results_total = len(judgements)
    panel.results_flagged = sum(1 for code in judgements if code not in NOT_FLAGGED)
    panel.results_critical = sum(1 for code in judgements if code in CRITICAL)
    panel.results_not_interpreted = sum(1 for code in judgements if code == "")
    panel.results_indeterminate = sum(1 for code in judgements if code == "IND")
    panel.is_critical = panel.results_critical > 0


def panel_result_counts_store(*, panel_ids: Sequence[int]) -> None:
    """Count the current results of ``panel_ids`` by judgement onto the panels, in the
    caller's transaction (one statement, whatever their number; PostgreSQL and SQLite)."""
    if not panel_ids:
        return
    Panel.objects.filter(pk__in=list(panel_ids)).update(
        results_total=_counted(),
        results_flagged=_counted(~Q(interpretation__in=NOT_FLAGGED)),
        results_critical=_counted(Q(interpretation__in=CRITICAL)),
        results_not_interpreted=_counted(Q(interpretation="")),
        results_indeterminate=_counted(Q(interpretation="IND")),
        is_critical=Exists(
            Result.objects.filter(
                panel_id=OuterRef("pk"), superseded_by__isnull=True, interpretation__in=CRITICAL
            )
        ),
    )
