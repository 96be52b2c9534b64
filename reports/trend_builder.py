"""The report's serial section: earlier panels of the patient beside this one, and charts.

Built from the trend snapshot stored on the panel (``panels.interpretation.serial_json``).
Columns are in collection order (collection time, then accession) and the current panel is
found by its accession, never by its position. Fold changes are shown only from the baseline
the engine chose (``reference_ranges.engine.kinetics.baseline_choose``); otherwise the page
says why there is none. Earlier panels of another specimen type are named, never compared; so
is an earlier result by another stated method (its cell reads "other method", and a sentence
names it: ``reference_ranges.engine.series`` holds the rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

from panels.models import Panel, Result
from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS
from reference_ranges.engine.kinetics import BaselineBasis, NoBaseline
from reference_ranges.models import SpecimenType
from reports.formatting import when_text as _when
from reports.rendering.document import ChartPoint, TrendChart, TrendColumn, TrendRow, TrendTable

EVENT_TEXT = {"car_t_infusion": "CAR-T infusion", "bispecific_start": "bispecific antibody start"}
ELEVATED = frozenset({"H", "HH", ">"})
"""Interpretation codes of a result above its interval (or above the measuring range)."""
NO_VALUE = "—"
OTHER_METHOD = "other method"
"""A serial table cell whose result was measured by another method: set apart, not shown."""
_FOLD_SHOWN = Context(prec=3)  # the fold printed: 3 significant digits (stored to 6)
_CENSORING = tuple(symbol for symbol in COMPARATOR_SYMBOLS.values() if symbol)


@dataclass(frozen=True, slots=True)
class _Column:
    accession: str
    collected_at: datetime
    day: int | None
    is_marked_baseline: bool


def _specimen_text(code: str) -> str:
    return str(SpecimenType(code).label).lower() if code in SpecimenType.values else code


def _day_text(day: int) -> str:
    return f"Day {day:+d}" if day else "Day 0"


def _columns(serial: Mapping[str, Any]) -> list[_Column]:
    """The compared panels in collection order, whatever order the snapshot lists them in."""
    found: dict[str, _Column] = {}
    listed = serial.get("panels") or [
        point for trend in serial["analytes"] for point in trend["points"]
    ]
    for item in listed:
        found.setdefault(
            item["accession"],
            _Column(
                accession=item["accession"],
                collected_at=datetime.fromisoformat(item["collected_at"]),
                day=item["day"],
                is_marked_baseline=bool(item.get("is_marked_baseline")),
            ),
        )
    return sorted(found.values(), key=lambda column: (column.collected_at, column.accession))


def _fold_shown(fold: Decimal) -> str:
    return f"×{format(_FOLD_SHOWN.plus(fold), 'f')}"


def _fold_text(
    points: Mapping[str, Mapping[str, Any]],
    accession: str,
    baseline: str,
    set_apart: Mapping[str, Mapping[str, Any]],
) -> str:
    """The current value's fold from baseline, or in a few words why there is none."""
    current, base = points.get(accession), points.get(baseline)
    if current is None:
        return NO_VALUE
    if current["fold_from_baseline"] is not None:
        return _fold_shown(Decimal(current["fold_from_baseline"]))
    if base is None and baseline in set_apart:
        return f"none: baseline by another method ({set_apart[baseline]['method']})"
    if base is None:
        return "none: not measured at baseline"
    if any(text.startswith(_CENSORING) for text in (current["value_text"], base["value_text"])):
        return "none: censored value"
    return "none: baseline is zero"


def _fold_note(serial: Mapping[str, Any], anchor_text: str, specimen: str) -> str:
    """Why no fold change is shown ("" when there is a baseline)."""
    if "panels" not in serial:
        return (
            "No fold change: this trend was recorded before fold changes were restricted to a "
            "pre-infusion or marked baseline panel."
        )
    missing = serial["no_baseline"]
    if missing is None:
        return ""
    event = anchor_text or "anchor event"
    reasons = {
        NoBaseline.CURRENT_IS_MARKED: (
            "No fold change: this panel is marked as the baseline; later panels are compared "
            "with it."
        ),
        NoBaseline.OTHER_SPECIMEN: (
            "No fold change: the earlier panels that could serve as baseline (pre-infusion or "
            "marked) are "
            f"{' and '.join(_specimen_text(code) for code in serial['other_specimen_types'])}, "
            f"this one is {specimen}."
        ),
        NoBaseline.NONE_BEFORE_ANCHOR: (
            "No fold change: no pre-infusion or marked baseline panel (every earlier panel "
            f"was collected after the {event})."
        ),
        NoBaseline.NO_ANCHOR: (
            "No fold change: no pre-infusion or marked baseline panel (no CAR-T infusion or "
            "bispecific antibody start is recorded, and no panel is marked as baseline)."
        ),
    }
    return reasons[NoBaseline(missing)]


def _excluded_note(serial: Mapping[str, Any], specimen: str) -> str:
    excluded = serial.get("excluded") or []
    if not excluded:
        return ""
    by_type: dict[str, list[str]] = {}
    for item in sorted(excluded, key=lambda item: (item["collected_at"], item["accession"])):
        when = _day_text(item["day"]) if item["day"] is not None else item["collected_at"][:10]
        by_type.setdefault(item["specimen_type"], []).append(f"{item['accession']} ({when})")
    parts = [
        f"{', '.join(names)} {'is' if len(names) == 1 else 'are'} {_specimen_text(code)}"
        for code, names in by_type.items()
    ]
    return (
        f"Not compared: earlier panel{'s' if len(excluded) > 1 else ''} {'; '.join(parts)}, "
        f"this one is {specimen}. Results on different specimen types are never compared, "
        "so they are not shown."
    )


def _method_sentence(trend: Mapping[str, Any], name: str, accession: str) -> str:
    """Why ``trend``'s set-apart results (another stated method) are not compared ("" if none)."""
    apart = sorted(trend.get("set_apart") or [], key=lambda p: (p["collected_at"], p["accession"]))
    if not apart:
        return ""
    names = " and ".join(f"{point['accession']} (method: {point['method']})" for point in apart)
    verb = "is" if len(apart) == 1 else "are"
    current = next((p for p in trend["points"] if p["accession"] == accession), None)
    if trend.get("method"):
        why = f"this report's {name} is by {trend['method']}"
    elif current is not None:
        why = f"this report's {name} states no method, and the earlier ones state more than one"
    else:
        why = (
            f"this report has no {name} in {trend['unit']}, and the earlier results state more "
            "than one method"
        )
    return f"{name} of {names} {verb} not compared: {why}."


def _method_note(sentences: Sequence[str]) -> str:
    if not sentences:
        return ""
    return " ".join([*sentences, "Results by different stated methods are never compared."])


def _baseline_note(serial: Mapping[str, Any], columns: Sequence[_Column], event: str) -> str:
    key = serial.get("baseline")
    if not key or "panels" not in serial:
        return ""
    column = next((column for column in columns if column.accession == key), None)
    when = f", collected {_when(column.collected_at)}" if column else ""
    how = (
        "marked as baseline by the laboratory"
        if serial.get("baseline_basis") == BaselineBasis.MARKED
        else f"last panel before the {event}"
    )
    return f"Baseline: accession {key}{when} ({how})"


def _value(text: str) -> tuple[Decimal, bool]:
    """The number a reported value stands at, and whether it is censored ("<2.0" -> 2.0)."""
    for symbol in _CENSORING:
        if text.startswith(symbol):
            return Decimal(text[len(symbol) :]), True
    return Decimal(text), False


def _chart(
    trend: Mapping[str, Any],
    *,
    name: str,
    result: Result,
    accession: str,
    origin: date,
    event: str,
    anchor_on: date | None,
) -> TrendChart | None:
    points: list[ChartPoint] = []
    undrawn: list[str] = []
    for point in sorted(trend["points"], key=lambda p: (p["collected_at"], p["accession"])):
        value, is_censored = _value(point["value_text"])
        if not value.is_finite():
            undrawn.append(point["value_text"])
            continue
        collected = datetime.fromisoformat(point["collected_at"]).date()
        points.append(
            ChartPoint(
                x=point["day"] if point["day"] is not None else (collected - origin).days,
                value=value,
                is_censored=is_censored,
                label=point["value_text"],
                is_current=point["accession"] == accession,
            )
        )
    if len(points) < 2:
        return None
    unit = trend["unit"]
    drawn_on = [_specimen_text(trend.get("specimen_type", ""))]
    if trend.get("method"):
        stated = all(point.get("method") for point in trend["points"])
        drawn_on.append(f"method: {trend['method']}{'' if stated else ' where stated'}")
    if anchor_on is not None:
        x_label = f"Days from {event} (day 0 = {anchor_on.isoformat()})"
        ticks = tuple((p.x, f"{p.x:+d}" if p.x else "0") for p in points)
    else:
        x_label = f"Date of collection (from {origin.isoformat()})"
        ticks = tuple(
            (p.x, date.fromordinal(origin.toordinal() + p.x).strftime("%m-%d")) for p in points
        )
    rule = result.rule
    band_low = band_high = None
    band_label = note = ""
    if rule is None:
        note = "No reference interval applied to this report's result: no band is drawn."
    elif rule.unit != unit:
        note = (
            f"Reference interval ({result.reference_text}) not drawn: it is defined in "
            f"{rule.unit}, the series is in {unit}."
        )
    else:
        band_low, band_high = rule.low, rule.high
        band_label = f"the reference interval applied to this report, {result.reference_text}"
    if undrawn:
        note = f"{note} Not drawn (not a finite number): {', '.join(undrawn)}.".strip()
    return TrendChart(
        title=f"{name}, {unit} ({', '.join(drawn_on)})",
        y_label=f"{name} ({unit})",
        x_label=x_label,
        x_ticks=tuple(dict(ticks).items()),
        points=tuple(points),
        band_low=band_low,
        band_high=band_high,
        band_label=band_label,
        note=note,
    )


def _omitted_note(serial: Mapping[str, Any]) -> str:
    """How many earlier panels of the patient this reader is not shown, and why (no values)."""
    omitted = serial.get("not_shown")
    if not omitted:
        return ""
    count = omitted["count"]
    panels = (
        "1 earlier panel of this patient is"
        if count == 1
        else (f"{count} earlier panels of this patient are")
    )
    return (
        f"{panels} not shown: {omitted['reason']}. Their results are left out, and nothing "
        "shown here (changes, baseline, fold changes) is computed from them."
    )


def trend_table(panel: Panel, serial: Mapping[str, Any] | None = None) -> TrendTable | None:
    """The serial section of ``panel``'s report, from its trend snapshot as the reader is shown
    it (``serial``: ``panels.history.serial_shown``; default the stored one, whole). None when
    the patient has no earlier panel to show or to say is left out."""
    if serial is None:
        serial = panel.serial
    omitted_note = _omitted_note(serial or {})
    if not serial or not (serial.get("analytes") or serial.get("excluded")):
        if omitted_note:
            return TrendTable(columns=(), rows=(), note="", omitted_note=omitted_note)
        return None
    results = {result.analyte.code: result for result in panel.results.all()}
    specimen = _specimen_text(panel.specimen_type)
    anchor = serial.get("anchor")
    event = EVENT_TEXT.get(anchor["kind"], anchor["kind"]) if anchor else ""
    anchor_at = datetime.fromisoformat(anchor["occurred_at"]) if anchor else None
    baseline = serial.get("baseline") if "panels" in serial else None
    columns = _columns(serial) if serial.get("analytes") else []
    rows, charts, method_sentences = [], [], []
    for trend in serial["analytes"]:
        result = results.get(trend["analyte"])
        name = result.analyte.short_name if result else trend["analyte"]
        by_key = {point["accession"]: point for point in trend["points"]}
        set_apart = {point["accession"]: point for point in trend.get("set_apart") or []}
        sentence = _method_sentence(trend, name, panel.accession)
        if sentence:
            method_sentences.append(sentence)
        if not by_key:
            continue
        if baseline is None:
            fold = "baseline" if panel.is_baseline and panel.accession in by_key else NO_VALUE
        else:
            fold = _fold_text(by_key, panel.accession, baseline, set_apart)
        rows.append(
            TrendRow(
                analyte_name=name,
                unit=trend["unit"],
                cells=tuple(
                    by_key[column.accession]["value_text"]
                    if column.accession in by_key
                    else OTHER_METHOD
                    if column.accession in set_apart
                    else NO_VALUE
                    for column in columns
                ),
                fold_text=fold,
            )
        )
        if (
            result is not None
            and result.interpretation in ELEVATED
            and result.unit == trend["unit"]
        ):
            chart = _chart(
                trend,
                name=name,
                result=result,
                accession=panel.accession,
                origin=columns[0].collected_at.date(),
                event=event,
                anchor_on=_anchor_date(columns),
            )
            if chart is not None:
                charts.append(chart)
    note_parts = []
    if anchor_at is not None:
        note_parts.append(f"Day 0 = {event} {_when(anchor_at)}")
    baseline_note = _baseline_note(serial, columns, event)
    if baseline_note:
        note_parts.append(baseline_note)
        note_parts.append(
            "fold change is computed only between uncensored values in the same unit on the "
            "same specimen type by the same method, or where a method is not stated (shown to "
            "3 significant digits; stored exactly)"
        )
    return TrendTable(
        columns=tuple(
            TrendColumn(
                title=_day_text(column.day)
                if column.day is not None
                else column.collected_at.date().isoformat(),
                accession=column.accession,
                is_current=column.accession == panel.accession,
                is_baseline=column.accession == baseline,
            )
            for column in columns
        ),
        rows=tuple(rows),
        note="; ".join(note_parts),
        fold_note=_fold_note(serial, event, specimen),
        excluded_note=_excluded_note(serial, specimen),
        charts=tuple(charts),
        method_note=_method_note(method_sentences),
        omitted_note=omitted_note,
    )


def _anchor_date(columns: Sequence[_Column]) -> date | None:
    """Day 0 on the lab's calendar, as the engine numbered the days (None without an anchor)."""
    first = columns[0]
    return None if first.day is None else first.collected_at.date() - timedelta(days=first.day)
