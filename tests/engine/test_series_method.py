"""The method joins the series (issue 11, item 7): results by two stated, different methods are
never compared (no trend point beside each other, no change, no fold, no fold-rise), while a
method not stated compares with any, so a lab that never states methods keeps its trends."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from reference_ranges.engine.kinetics import AnalyteTrend, serial_history
from reference_ranges.engine.patterns import (
    FindingStatus,
    PatternContext,
    SerialPoint,
    evaluate_patterns,
    load_pattern_rules,
)
from reference_ranges.engine.series import SeriesKey, series_admits, series_method
from reference_ranges.engine.types import Comparator, Measurement

INFUSION = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
ELISA = "ELISA"
XMAP = "Luminex xMAP bead immunoassay"
SEED = Path(__file__).resolve().parents[2] / "reference_ranges" / "seed" / "pattern_rules.yaml"
FOLD_RISE = replace(
    next(
        rule
        for rule in load_pattern_rules(yaml.safe_load(SEED.read_text(encoding="utf-8")))
        if rule.id == "DAVILA_2014_FOLD_RISE"
    ),
    enabled=True,
)


def il6(value: str, method: str = "") -> Measurement:
    return Measurement("IL6", Decimal(value), Comparator.EQ, "pg/mL", method=method)


def panel(key: str, days: float, *measurements: Measurement) -> SerialPoint:
    return SerialPoint(
        panel_key=key,
        collected_at=INFUSION + timedelta(days=days),
        measurements=measurements,
        specimen_type="plasma_heparin",
    )


def key(method: str) -> SeriesKey:
    return SeriesKey("IL6", "pg/mL", "plasma_heparin", method)


@pytest.mark.parametrize(
    ("_case", "current", "others", "method"),
    [
        ("current states it", key(XMAP), [key(ELISA), key("")], XMAP),
        ("current blank, one stated earlier", key(""), [key(ELISA), key(ELISA)], ELISA),
        ("no current, one stated earlier", None, [key(""), key(ELISA)], ELISA),
        ("none stated", key(""), [key(""), key("")], ""),
        ("current blank, two stated earlier", key(""), [key(ELISA), key(XMAP)], None),
        ("no current, two stated earlier", None, [key(ELISA), key(XMAP)], None),
    ],
)
def test_the_series_method(
    _case: str, current: SeriesKey | None, others: list[SeriesKey], method: str | None
) -> None:
    assert series_method(current, others) == method


@pytest.mark.parametrize(
    ("_case", "method", "result", "admitted"),
    [
        ("same stated method", XMAP, XMAP, True),
        ("another stated method", XMAP, ELISA, False),
        ("result states none", XMAP, "", True),
        ("series states none", "", ELISA, True),
        ("both state none", "", "", True),
        ("ambiguous series, result states one", None, ELISA, False),
        ("ambiguous series, result states none", None, "", True),
        ("another spelling is another method", ELISA, "elisa", False),
    ],
)
def test_which_results_join_a_series(
    _case: str, method: str | None, result: str, admitted: bool
) -> None:
    assert series_admits(method, key(result)) is admitted


def trend_of(history: list[SerialPoint], current: SerialPoint) -> AnalyteTrend:
    [trend] = serial_history(history, current, INFUSION).trends
    return trend


def test_an_earlier_result_by_another_method_is_set_apart_never_compared() -> None:
    # given: the pre-infusion baseline by ELISA, day +1 and this panel by xMAP
    history = [panel("pre", -1, il6("2", ELISA)), panel("d1", 1, il6("50", XMAP))]
    current = panel("d4", 4, il6("400", XMAP))

    # when
    trend = trend_of(history, current)

    # then: the ELISA result is named apart; no fold (the baseline is by ELISA)
    assert trend.method == XMAP
    assert [(p.panel_key, p.method) for p in trend.points] == [("d1", XMAP), ("d4", XMAP)]
    assert [(p.panel_key, p.value_text, p.method) for p in trend.set_apart] == [("pre", "2", ELISA)]
    assert [p.fold_from_baseline for p in trend.points] == [None, None]
    assert trend.points[1].change_from_previous == Decimal(350)
    assert trend.set_apart[0].change_from_previous is None


def test_a_change_is_never_computed_from_a_previous_panel_by_another_method() -> None:
    history = [panel("d1", 1, il6("50", ELISA))]
    current = panel("d4", 4, il6("400", XMAP))

    trend = trend_of(history, current)

    assert [p.panel_key for p in trend.points] == ["d4"]
    assert trend.points[0].change_from_previous is None


@pytest.mark.parametrize(
    ("_case", "baseline_method", "current_method"),
    [
        ("neither states a method", "", ""),
        ("only the baseline states it", ELISA, ""),
        ("only this panel states it", "", XMAP),
        ("both state the same", XMAP, XMAP),
    ],
)
def test_blank_or_equal_methods_still_compare(
    _case: str, baseline_method: str, current_method: str
) -> None:
    trend = trend_of(
        [panel("pre", -1, il6("2", baseline_method))], panel("d4", 4, il6("400", current_method))
    )

    assert [p.panel_key for p in trend.points] == ["pre", "d4"]
    assert trend.set_apart == ()
    assert trend.points[1].fold_from_baseline == Decimal(200)


def test_a_blank_current_result_never_joins_two_stated_methods() -> None:
    # given: earlier results by two stated methods, and one that states none
    history = [
        panel("pre", -1, il6("2", ELISA)),
        panel("d1", 1, il6("50")),
        panel("d2", 2, il6("80", XMAP)),
    ]
    current = panel("d4", 4, il6("400"))

    trend = trend_of(history, current)

    # then: picking one of the two would be a guess; only the unstated ones compare
    assert trend.method == ""
    assert [p.panel_key for p in trend.points] == ["d1", "d4"]
    assert [p.panel_key for p in trend.set_apart] == ["pre", "d2"]
    assert trend.points[1].change_from_previous is None  # d2 is set apart, not "previous"


def fold_rise(history: list[SerialPoint], current: SerialPoint) -> tuple[FindingStatus, str, str]:
    serial = serial_history(history, current, INFUSION)
    context = PatternContext(current.measurements, {}, tuple(history), serial.baseline.point, 45)
    [finding] = evaluate_patterns([FOLD_RISE], context)
    [evidence] = [e for e in finding.evidence if e.input == "IL6"]
    return finding.status, evidence.value_text or "", evidence.note


def test_fold_rise_never_crosses_methods() -> None:
    status, text, note = fold_rise(
        [panel("pre", -1, il6("2", ELISA))], panel("d4", 4, il6("1000", XMAP))
    )

    assert status is FindingStatus.INDETERMINATE
    assert text == "1000 pg/mL"
    assert note == (
        f"baseline (pre) measured by {ELISA}, this result by {XMAP}: a fold change is never "
        "computed across methods"
    )


def test_fold_rise_with_a_method_not_stated_compares() -> None:
    status, text, _ = fold_rise([panel("pre", -1, il6("2", ELISA))], panel("d4", 4, il6("1000")))

    assert status is FindingStatus.MET  # 500× baseline: the one-cytokine threshold
    assert text == "1000 pg/mL vs baseline 2 pg/mL = 500×"


def test_fold_rise_follows_the_trend_when_earlier_results_state_two_methods() -> None:
    # given: this panel states none, the baseline is ELISA and a later panel xMAP
    history = [panel("pre", -1, il6("2", ELISA)), panel("d2", 2, il6("80", XMAP))]
    current = panel("d4", 4, il6("1000"))

    status, _, note = fold_rise(history, current)

    assert status is FindingStatus.INDETERMINATE
    assert note == (
        f"baseline (pre) measured by {ELISA}, this result states no method and the earlier "
        "results state more than one: a fold change is never computed across methods"
    )
    assert [p.panel_key for p in trend_of(history, current).set_apart] == ["pre", "d2"]
