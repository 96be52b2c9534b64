"""Serial trends: day numbering around an anchor, change from previous, fold from baseline."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reference_ranges.engine.kinetics import (
    AnalyteTrend,
    AnalyteTrendPoint,
    Baseline,
    BaselineBasis,
    ChangeRule,
    NoBaseline,
    baseline_choose,
    format_day,
    serial_history,
    serial_trends,
)
from reference_ranges.engine.patterns import (
    PatternContext,
    SerialPoint,
    evaluate_patterns,
    load_pattern_rules,
)
from reference_ranges.engine.types import Comparator, Measurement

INFUSION = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(database=None, deadline=None, max_examples=200)
SEED = Path(__file__).resolve().parents[2] / "reference_ranges" / "seed" / "pattern_rules.yaml"
RULES = {
    rule.id: rule for rule in load_pattern_rules(yaml.safe_load(SEED.read_text(encoding="utf-8")))
}


def m(analyte: str, text: str, unit: str = "pg/mL") -> Measurement:
    for comparator in (Comparator.LE, Comparator.GE, Comparator.LT, Comparator.GT):
        if text.startswith(comparator.value):
            return Measurement(analyte, Decimal(text[len(comparator.value) :]), comparator, unit)
    return Measurement(analyte, Decimal(text), Comparator.EQ, unit)


def panel(
    key: str,
    offset: timedelta,
    *measurements: Measurement,
    specimen: str = "plasma",
    marked: bool = False,
) -> SerialPoint:
    return SerialPoint(
        panel_key=key,
        collected_at=INFUSION + offset,
        measurements=measurements,
        specimen_type=specimen,
        is_marked_baseline=marked,
    )


def only(trends: list[AnalyteTrend], analyte: str, unit: str = "pg/mL") -> AnalyteTrend:
    [trend] = [t for t in trends if (t.analyte, t.unit) == (analyte, unit)]
    return trend


@pytest.mark.parametrize(
    ("offset", "day"),
    [
        (timedelta(days=-3), -3),
        (timedelta(days=-2, hours=-1), -2),
        (timedelta(days=-1), -1),
        (timedelta(hours=-15), -1),  # 23:00 the evening before
        (timedelta(hours=-1), 0),  # the same calendar date, before the infusion
        (timedelta(0), 0),
        (timedelta(hours=9, minutes=59), 0),  # 23:59 on the infusion date
        (timedelta(hours=10), 1),  # midnight: the next date
        (timedelta(days=1), 1),
        (timedelta(days=7, hours=2), 7),
        (timedelta(days=28), 28),
    ],
)
def test_day_counts_calendar_dates_from_the_anchor_date(offset: timedelta, day: int) -> None:
    [trend] = serial_trends([panel("p", offset, m("IL6", "5"))], anchor=INFUSION)

    assert trend.points[0].day == day


def test_days_are_none_without_an_anchor() -> None:
    [trend] = serial_trends([panel("p", timedelta(days=3), m("IL6", "5"))], anchor=None)

    assert trend.points[0].day is None


@pytest.mark.parametrize(
    ("day", "text"), [(0, "day 0"), (7, "day +7"), (1, "day +1"), (-2, "day -2"), (-14, "day -14")]
)
def test_format_day(day: int, text: str) -> None:
    assert format_day(day) == text


SERIES = [
    panel("screening", timedelta(days=-6), m("IL6", "4"), m("IFNG", "2")),
    panel("pre", timedelta(hours=-3), m("IL6", "5"), m("IFNG", "<1")),
    panel("d1", timedelta(days=1, hours=2), m("IL6", "50"), m("IFNG", "30")),
    panel("d3", timedelta(days=3), m("IL6", ">5000"), m("IFNG", "300")),
    panel("d7", timedelta(days=7), m("IL6", "20"), m("IFNG", "10")),
]


def test_car_t_series_with_infusion_as_day_0() -> None:
    trend = only(serial_trends(SERIES, anchor=INFUSION, baseline_key="pre"), "IL6")

    assert trend.points == (
        AnalyteTrendPoint(
            "screening",
            INFUSION - timedelta(days=6),
            -6,
            "4",
            Decimal(4),
            None,
            Decimal("0.8"),
            None,
        ),
        AnalyteTrendPoint(
            "pre", INFUSION - timedelta(hours=3), 0, "5", Decimal(5), Decimal(1), Decimal(1), None
        ),
        AnalyteTrendPoint(
            "d1",
            INFUSION + timedelta(days=1, hours=2),
            1,
            "50",
            Decimal(50),
            Decimal(45),
            Decimal(10),
            None,
        ),
        AnalyteTrendPoint("d3", INFUSION + timedelta(days=3), 3, ">5000", None, None, None, None),
        AnalyteTrendPoint(
            "d7", INFUSION + timedelta(days=7), 7, "20", Decimal(20), None, Decimal(4), None
        ),
    )


def test_censored_baseline_gives_no_fold_for_any_point() -> None:
    trend = only(serial_trends(SERIES, anchor=INFUSION, baseline_key="pre"), "IFNG")

    assert [p.value_text for p in trend.points] == ["2", "<1", "30", "300", "10"]
    assert [p.fold_from_baseline for p in trend.points] == [None] * 5
    assert [p.change_from_previous for p in trend.points] == [
        None,
        None,
        None,
        Decimal(270),
        Decimal(-290),
    ]


@pytest.mark.parametrize(
    ("anchor", "expected_key", "basis", "missing"),
    [
        # without an anchor event the first panel on file is no baseline (issue 11, item 7)
        (None, None, None, NoBaseline.NO_ANCHOR),
        (INFUSION, "pre", BaselineBasis.BEFORE_ANCHOR, None),  # last before the infusion
        (INFUSION - timedelta(days=10), None, None, NoBaseline.NONE_BEFORE_ANCHOR),
        (INFUSION - timedelta(hours=3), "screening", BaselineBasis.BEFORE_ANCHOR, None),  # tie
    ],
)
def test_baseline_is_pre_infusion_only(
    anchor: datetime | None,
    expected_key: str | None,
    basis: BaselineBasis | None,
    missing: NoBaseline | None,
) -> None:
    baseline = baseline_choose(SERIES[:2], SERIES[2], anchor)

    assert (baseline.point.panel_key if baseline.point else None) == expected_key
    assert (baseline.basis, baseline.missing) == (basis, missing)


def test_a_marked_panel_is_the_baseline_even_after_the_infusion() -> None:
    marked = panel("d1", timedelta(days=1), m("IL6", "50"), marked=True)
    current = panel("d3", timedelta(days=3), m("IL6", "100"))

    baseline = baseline_choose([*SERIES[:2], marked], current, INFUSION)

    assert (baseline.point, baseline.basis) == (marked, BaselineBasis.MARKED)


def test_a_marked_panel_has_no_baseline_itself() -> None:
    current = panel("pre", timedelta(hours=-3), m("IL6", "5"), marked=True)

    baseline = baseline_choose(SERIES[:1], current, None)

    assert (baseline.point, baseline.missing) == (None, NoBaseline.CURRENT_IS_MARKED)


def test_a_baseline_of_another_specimen_type_is_never_used() -> None:
    serum_pre = panel("pre", timedelta(days=-1), m("IL6", "5"), specimen="serum")
    serum_marked = panel("mk", timedelta(days=-2), m("IL6", "4"), specimen="serum", marked=True)
    plasma = panel("d4", timedelta(days=4), m("IL6", "400"))

    baseline = baseline_choose([serum_marked, serum_pre], plasma, INFUSION)

    assert baseline == Baseline(
        point=None, missing=NoBaseline.OTHER_SPECIMEN, other_specimen_types=("serum",)
    )


def test_serial_history_compares_one_specimen_type_and_sets_the_others_apart() -> None:
    history = [
        panel("s-pre", timedelta(days=-1), m("IL6", "5"), specimen="serum"),
        panel("p-d1", timedelta(days=1), m("IL6", "50")),
        panel("s-d2", timedelta(days=2), m("IL6", "70"), specimen="serum"),
    ]
    current = panel("p-d4", timedelta(days=4), m("IL6", "400"))

    serial = serial_history(history, current, INFUSION)

    assert [p.panel_key for p in serial.compared] == ["p-d1", "p-d4"]
    assert [p.panel_key for p in serial.excluded] == ["s-pre", "s-d2"]
    assert serial.baseline.missing == NoBaseline.OTHER_SPECIMEN
    [trend] = serial.trends
    assert (trend.specimen_type, [p.value_text for p in trend.points]) == ("plasma", ["50", "400"])
    assert [p.fold_from_baseline for p in trend.points] == [None, None]
    assert trend.points[1].change_from_previous == Decimal(350)  # from the plasma panel


def test_panels_collected_at_one_time_are_ordered_by_key() -> None:
    late, early = panel("B", timedelta(days=1)), panel("A", timedelta(days=1))
    current = panel("C", timedelta(days=2))

    serial = serial_history([late, early], current, INFUSION)

    assert [p.panel_key for p in serial.compared] == ["A", "B", "C"]


def test_fold_rise_pattern_and_trend_measure_from_one_baseline() -> None:
    rule = replace(RULES["DAVILA_2014_FOLD_RISE"], enabled=True)
    cytokines = [c.input for c in rule.criteria]
    screening = panel("screening", timedelta(days=-6), *(m(c, "10") for c in cytokines))
    pre = panel("pre", timedelta(hours=-3), *(m(c, "2") for c in cytokines))
    current = panel("d3", timedelta(days=3), *(m(c, "200") for c in cytokines))

    serial = serial_history([screening, pre], current, INFUSION)
    context = PatternContext(current.measurements, {}, (screening, pre), serial.baseline.point, 45)
    [finding] = evaluate_patterns([rule], context)

    assert serial.baseline.point == pre
    assert {t.points[-1].fold_from_baseline for t in serial.trends} == {Decimal(100)}
    assert {e.value_text for e in finding.evidence} == {"200 pg/mL vs baseline 2 pg/mL = 100×"}


def test_fold_is_rounded_to_six_significant_digits() -> None:
    points = [
        panel("a", timedelta(0), m("IL6", "3")),
        panel("b", timedelta(days=1), m("IL6", "10")),
        panel("c", timedelta(days=2), m("IL6", "123456789")),
    ]

    trend = only(serial_trends(points, anchor=None, baseline_key="a"), "IL6")

    assert [p.fold_from_baseline for p in trend.points] == [
        Decimal(1),
        Decimal("3.33333"),
        Decimal("4.11523E+7"),
    ]
    assert trend.points[2].change_from_previous == Decimal(123456779)


def test_units_are_never_mixed_each_unit_has_its_own_trend() -> None:
    points = [
        panel("a", timedelta(0), m("SIL2R", "800", "U/mL")),
        panel("b", timedelta(days=1), m("SIL2R", "2000", "pg/mL")),
        panel("c", timedelta(days=2), m("SIL2R", "1600", "U/mL")),
    ]

    trends = serial_trends(points, anchor=None, baseline_key="a")

    assert [(t.analyte, t.unit, [p.panel_key for p in t.points]) for t in trends] == [
        ("SIL2R", "U/mL", ["a", "c"]),
        ("SIL2R", "pg/mL", ["b"]),
    ]
    u_per_ml = only(trends, "SIL2R", "U/mL")
    assert u_per_ml.points[1].change_from_previous is None  # previous panel is pg/mL
    assert u_per_ml.points[1].fold_from_baseline == Decimal(2)
    assert only(trends, "SIL2R", "pg/mL").points[0].fold_from_baseline is None


def test_zero_baseline_gives_no_fold() -> None:
    points = [panel("a", timedelta(0), m("IL6", "0")), panel("b", timedelta(1), m("IL6", "5"))]

    trend = only(serial_trends(points, anchor=None, baseline_key="a"), "IL6")

    assert [p.fold_from_baseline for p in trend.points] == [None, None]
    assert trend.points[1].change_from_previous == Decimal(5)


def test_points_are_ordered_by_collection_time() -> None:
    trend = only(serial_trends(list(reversed(SERIES)), anchor=INFUSION), "IL6")

    assert [p.panel_key for p in trend.points] == ["screening", "pre", "d1", "d3", "d7"]


IL6_DOUBLING = ChangeRule("IL6", Decimal(2), Decimal(2), "local delta rule", verified=False)


@pytest.mark.parametrize(
    ("previous", "current", "code"),
    [
        ("10", "20", "U"),
        ("10", "19.99", None),
        ("10", "5", "D"),
        ("10", "5.01", None),
        ("10", "10", None),
        ("0", "1", "U"),
        ("1", "0", "D"),
        ("0", "0", None),
        (">10", "100", None),
        ("10", "<1", None),
    ],
)
def test_change_codes_only_where_a_rule_defines_them(
    previous: str, current: str, code: str | None
) -> None:
    points = [
        panel("a", timedelta(0), m("IL6", previous), m("IL10", previous)),
        panel("b", timedelta(days=1), m("IL6", current), m("IL10", current)),
    ]

    trends = serial_trends(points, anchor=None, change_rules=[IL6_DOUBLING])

    assert only(trends, "IL6").points[1].change_code == code
    assert only(trends, "IL10").points[1].change_code is None
    assert only(trends, "IL6").points[0].change_code is None


def test_rise_only_rule_never_flags_a_fall() -> None:
    rule = ChangeRule("IL6", Decimal(3), None, "local", verified=True)
    points = [panel("a", timedelta(0), m("IL6", "30")), panel("b", timedelta(1), m("IL6", "1"))]

    assert (
        only(serial_trends(points, None, change_rules=[rule]), "IL6").points[1].change_code is None
    )


@pytest.mark.parametrize("fold", [Decimal(1), Decimal("0.5"), Decimal(0)])
def test_change_rule_folds_must_exceed_one(fold: Decimal) -> None:
    with pytest.raises(ValueError, match="greater than 1"):
        ChangeRule("IL6", fold, None, "local", verified=True)


def test_invalid_series_are_refused() -> None:
    a = panel("a", timedelta(0), m("IL6", "1"))
    with pytest.raises(ValueError, match="baseline panel x is not in the series"):
        serial_trends([a], anchor=None, baseline_key="x")
    with pytest.raises(ValueError, match="same key"):
        serial_trends([a, panel("a", timedelta(1), m("IL6", "2"))], anchor=None)
    with pytest.raises(ValueError, match="more than once"):
        serial_trends([panel("b", timedelta(0), m("IL6", "1"), m("IL6", "2"))], anchor=None)
    with pytest.raises(ValueError, match="two change rules"):
        serial_trends([a], anchor=None, change_rules=[IL6_DOUBLING, IL6_DOUBLING])


def test_empty_series() -> None:
    assert serial_trends([], anchor=INFUSION) == []


# --- Properties ------------------------------------------------------------------------------

results = st.builds(
    Measurement,
    analyte=st.just("IL6"),
    value=st.decimals(min_value=0, max_value=10_000, places=2),
    comparator=st.sampled_from(list(Comparator)),
    unit=st.just("pg/mL"),
)


@PROPERTY_SETTINGS
@given(series=st.lists(results, min_size=1, max_size=6), anchor_hours=st.integers(-200, 200))
def test_fold_and_change_are_none_whenever_a_value_involved_is_censored(
    series: list[Measurement], anchor_hours: int
) -> None:
    points = [
        panel(f"p{i}", timedelta(days=i), measurement) for i, measurement in enumerate(series)
    ]
    anchor = INFUSION + timedelta(hours=anchor_hours)

    [trend] = serial_history(points[:-1], points[-1], anchor).trends or serial_trends(
        points, anchor=anchor
    )

    before = [point for point in points[:-1] if point.collected_at < anchor]
    baseline = before[-1].measurements[0] if before else None
    for index, point in enumerate(trend.points):
        measurement = series[index]
        if measurement.comparator.is_censored:
            assert point.value is None
            assert point.fold_from_baseline is None
            assert point.change_from_previous is None
        if baseline is None or baseline.comparator.is_censored:
            assert point.fold_from_baseline is None
        if index and series[index - 1].comparator.is_censored:
            assert point.change_from_previous is None
        assert point.day == (point.collected_at.date() - anchor.date()).days
