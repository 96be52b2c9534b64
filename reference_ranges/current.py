"""The reference data as it is now, kept in memory per process: the analyte catalogue, each lab's
active rule set and its rules, measuring ranges, specimen settings and pattern-rule switches.

Every intake of a panel needs them and they change rarely, so a process reads them once and
keeps them until they change. Change is told by one row, ``ReferenceDataStamp``, whose token
database triggers replace on any write to the tables read here (migration 0006), in the writing
transaction and whoever writes. :func:`reference_data_current` reads that token (one primary-key
query) and hands back the copy loaded under it, or a new empty copy that loads each part at its
first use. A token is never reused (random, set again even after a rollback), so a copy loaded
under a token holds what the database held under it.

A copy is meant for one unit of work (a submission, an HL7 message): take it once, use it
throughout. Its parts are read-only; never modify what it hands out.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from labpanel.accounts.models import Lab
from reference_ranges.engine.patterns import PatternRule
from reference_ranges.models import ReferenceDataStamp, ReferenceRangeRule, ReferenceRangeSet
from reference_ranges.patterns import pattern_rules_enabled
from reference_ranges.selectors import (
    AnalyteCatalogue,
    MeasuringRangeFacts,
    analyte_catalogue_get,
    measuring_ranges_active,
    plasma_anticoagulant_get,
    ruleset_get_active,
)

# Measuring ranges are kept per (lab, day of collection): bound the days kept per lab.
_DAYS_KEPT = 400


class _MeasuringRangesByDay(dict[date, Any]):
    """One lab's measuring ranges in force, by day (``panels.interpretation.panel_interpret``
    fills it at each new day: the mapping its ``measuring_ranges_by_day`` takes)."""

    def __setitem__(self, day: date, ranges: Any) -> None:
        if len(self) >= _DAYS_KEPT:
            self.clear()
        super().__setitem__(day, ranges)


class ReferenceData:
    """The reference data under one stamp token; each part is read at its first use."""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self._catalogue: AnalyteCatalogue | None = None
        self._rulesets: dict[tuple[int | None, str], ReferenceRangeSet | None] = {}
        self._rules: dict[int, dict[str, ReferenceRangeRule]] = {}
        self._patterns: dict[int | None, tuple[PatternRule, ...]] = {}
        self._measuring_ranges: dict[int, _MeasuringRangesByDay] = {}
        # lab id -> its plasma anticoagulant (panel_interpret's ``anticoagulants`` mapping)
        self.anticoagulants: dict[int, str | None] = {}

    def catalogue(self) -> AnalyteCatalogue:
        """``selectors.analyte_catalogue_get``."""
        if self._catalogue is None:
            self._catalogue = analyte_catalogue_get()
        return self._catalogue

    def ruleset_active(self, *, lab: Lab, panel_type: str = "cytokine") -> ReferenceRangeSet | None:
        """``selectors.ruleset_get_active`` for ``lab``."""
        key = (lab.pk, panel_type)
        if key not in self._rulesets:
            self._rulesets[key] = ruleset_get_active(panel_type=panel_type, lab=lab)
        return self._rulesets[key]

    def rules(self, *, ruleset: ReferenceRangeSet, keys: set[str]) -> dict[str, ReferenceRangeRule]:
        """The rules of ``ruleset`` among ``keys``, by key."""
        rules = self._rules.get(ruleset.pk)
        if rules is None:
            rules = self._rules[ruleset.pk] = {
                rule.key: rule for rule in ReferenceRangeRule.objects.filter(ruleset=ruleset)
            }
        return {key: rules[key] for key in keys if key in rules}

    def pattern_rules(self, *, lab_id: int | None) -> tuple[PatternRule, ...]:
        """``patterns.pattern_rules_enabled`` for ``lab_id``."""
        if lab_id not in self._patterns:
            self._patterns[lab_id] = pattern_rules_enabled(lab_id=lab_id)
        return self._patterns[lab_id]

    def measuring_ranges_by_day(self, *, lab_id: int) -> dict[date, Any]:
        """The lab's measuring ranges in force by day, filled as days are asked for (the
        ``measuring_ranges_by_day`` mapping ``panel_interpret`` takes)."""
        return self._measuring_ranges.setdefault(lab_id, _MeasuringRangesByDay())

    def measuring_ranges(self, *, lab_id: int, on: date) -> dict[str, MeasuringRangeFacts]:
        """``selectors.measuring_ranges_active``."""
        by_day = self.measuring_ranges_by_day(lab_id=lab_id)
        if on not in by_day:
            by_day[on] = measuring_ranges_active(lab_id=lab_id, on=on)
        return by_day[on]  # type: ignore[no-any-return]

    def plasma_anticoagulant(self, *, lab_id: int) -> str | None:
        """``selectors.plasma_anticoagulant_get``."""
        if lab_id not in self.anticoagulants:
            self.anticoagulants[lab_id] = plasma_anticoagulant_get(lab_id=lab_id)
        return self.anticoagulants[lab_id]


_lock = threading.Lock()
_current: ReferenceData | None = None


def reference_data_current() -> ReferenceData:
    """The reference data as the database holds it now: one query (the stamp's token).

    Without a stamp row (a test database flushed and not yet written to), a fresh copy that
    nobody else shares.
    """
    global _current
    token = ReferenceDataStamp.objects.filter(pk=1).values_list("token", flat=True).first()
    if token is None:
        return ReferenceData(None)
    with _lock:
        if _current is None or _current.token != token:
            _current = ReferenceData(token)
        return _current
