"""The counts of each panel's current results by judgement, stored on the panel
(``Panel.results_total``, ``results_flagged``, ``results_critical``,
``results_not_interpreted``, ``is_critical``): the lab's worklist orders its pages (critical
first) and filters flagged panels from one index over them, instead of reading every awaiting
panel's results per request.

:func:`panel_result_counts_store` is their only writer: one set-based UPDATE counting the
panels' current results in the database, called in the transaction of every change to a panel's
current results (a submission, an import, an amendment); migration 0016 backfilled them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from panels.models import Panel, Result

# Judgements that are not a flag: normal, indeterminate, and no interval judged ("").
NOT_FLAGGED = ("", "N", "IND")
CRITICAL = ("HH", "LL")  # panels.review_rules.CRITICAL_CODES (tests pin that they agree)

COUNTS_SQL = """
UPDATE {panel} AS panel
SET results_total = counted.total,
    results_flagged = counted.flagged,
    results_critical = counted.critical,
    results_not_interpreted = counted.not_interpreted,
    is_critical = counted.critical > 0
FROM (
    SELECT panel_id,
           count(*) AS total,
           count(*) FILTER (WHERE interpretation NOT IN ('', 'N', 'IND')) AS flagged,
           count(*) FILTER (WHERE interpretation IN ('HH', 'LL')) AS critical,
           count(*) FILTER (WHERE interpretation = '') AS not_interpreted
    FROM {result}
    WHERE superseded_by_id IS NULL {which}
    GROUP BY panel_id
) AS counted
WHERE panel.id = counted.panel_id
"""


def counts_sql(*, every: bool = False) -> str:
    """The UPDATE: for the panels whose ids are its one parameter (a list), or ``every``
    panel (the migration's backfill)."""
    return COUNTS_SQL.format(
        panel=Panel._meta.db_table,
        result=Result._meta.db_table,
        which="" if every else "AND panel_id = ANY(%s)",
    )


def panel_result_counts_store(*, panel_ids: Sequence[int]) -> None:
    """Count the current results of ``panel_ids`` by judgement onto the panels, in the
    caller's transaction (one statement, whatever their number)."""
    if not panel_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(counts_sql(), [list(panel_ids)])
