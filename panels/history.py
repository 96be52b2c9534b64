"""What a reader is shown of a patient's history: the earlier panels beside a panel, and what is
computed from them, as ``labpanel.accounts.access`` allows ("A patient's history").

A panel stores its trend snapshot (``Panel.serial``, made by
``panels.interpretation.serial_json`` when it was interpreted) over every earlier panel of the
patient. Before it is shown, :func:`serial_shown` keeps only the earlier panels the reader may be
shown and computes the trend again over them with the engine
(``reference_ranges.engine.kinetics.serial_history``: the baseline rule, changes and fold changes
over the panels shown only, so that no number rests on a panel left out), and says how many were
left out where the reader is told. :func:`findings_shown` withholds the evidence of a finding
measured against a baseline panel the reader may not see (the fold rise). Nothing here decides who
sees what: the facts of the earlier panels are read here (:func:`history_facts`, one query for
many panels) and the decision is ``access.history_visible``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from labpanel.accounts import access
from labpanel.accounts.access import PanelFacts
from panels.interpretation import trends_json
from panels.models import Finding, FindingStatus, Panel
from reference_ranges.engine.decimals import COMPARATOR_SYMBOLS
from reference_ranges.engine.kinetics import serial_history
from reference_ranges.engine.patterns import SerialPoint
from reference_ranges.engine.types import Comparator, Measurement
from reference_ranges.patterns import pattern_rule_get

NOT_RELEASED = "not yet released"
"""Why an earlier panel is left out of a history a reader is told about: a clinician is shown
the lab's released panels (``access.history_visible``), so a panel left out is unreleased."""

_SYMBOLS = sorted(
    ((symbol, comparator) for comparator, symbol in COMPARATOR_SYMBOLS.items() if symbol),
    key=lambda item: -len(item[0]),
)


@dataclass(frozen=True)
class HistoryShown:
    """Which earlier panels (by accession) a reader is shown beside one panel, and whether the
    reader is told how many were left out. ``None`` in place of it: the whole history."""

    visible: frozenset[str]
    omissions_told: bool


def panel_facts(panel: Panel, earlier: Mapping[str, PanelFacts] | None = None) -> PanelFacts:
    """The facts of ``panel`` that ``access`` decides a history by; its care fact
    (``patient_orders``: its patient's, the same for each of the patient's panels) taken from
    ``earlier``, the facts :func:`history_facts` read for it (none: not read; without earlier
    panels there is no history to decide)."""
    orders = next(
        (
            facts.patient_orders
            for facts in (earlier or {}).values()
            if facts.lab_id == panel.lab_id
        ),
        frozenset(),
    )
    return PanelFacts(
        lab_id=panel.lab_id,
        submitted_by_id=panel.submitted_by_id,
        ordering_clinician_id=panel.ordering_clinician_id,
        review_state=panel.review_state,
        patient_orders=orders,
    )


def earlier_accessions(serial: Mapping[str, Any], current: str) -> list[str]:
    """The accessions of the earlier panels ``serial`` (a stored snapshot) shows beside the panel
    ``current``: those compared and those set apart for their specimen type."""
    listed = [*(serial.get("panels") or ()), *(serial.get("excluded") or ())]
    return list(dict.fromkeys(p["accession"] for p in listed if p["accession"] != current))


def history_facts(panels: Sequence[Panel]) -> dict[int, dict[str, PanelFacts]]:
    """For each of ``panels`` (by id) whose snapshot shows earlier panels, their facts by
    accession, each with its patient's orders in the lab (``PanelFacts.patient_orders``: who
    ordered each of the patient's panels there, and its review state, so that ``access`` decides
    whether the patient is in a clinician's care): one query for them all (every panel of their
    patients), none when no snapshot shows any."""
    wanted: dict[int, list[str]] = {}
    for panel in panels:
        accessions = earlier_accessions(panel.serial or {}, panel.accession)
        if accessions:
            wanted[panel.pk] = accessions
    if not wanted:
        return {}
    by_panel = {pk: panel for pk, panel in ((p.pk, p) for p in panels) if pk in wanted}
    rows = list(
        Panel.objects.filter(
            patient_id__in={panel.patient_id for panel in by_panel.values()}
        ).values_list(
            "patient_id",
            "accession",
            "lab_id",
            "submitted_by_id",
            "ordering_clinician_id",
            "review_state",
        )
    )
    orders: dict[tuple[int, int], set[tuple[int | None, str]]] = {}
    for patient_id, _, lab_id, _, ordering_clinician_id, review_state in rows:
        orders.setdefault((patient_id, lab_id), set()).add((ordering_clinician_id, review_state))
    found: dict[tuple[int, str], PanelFacts] = {
        (patient_id, accession): PanelFacts(
            lab_id=lab_id,
            submitted_by_id=submitted_by_id,
            ordering_clinician_id=ordering_clinician_id,
            review_state=review_state,
            patient_orders=frozenset(orders[(patient_id, lab_id)]),
        )
        for patient_id, accession, lab_id, submitted_by_id, ordering_clinician_id, review_state in (
            rows
        )
    }
    return {
        pk: {
            accession: found[(by_panel[pk].patient_id, accession)]
            for accession in accessions
            if (by_panel[pk].patient_id, accession) in found
        }
        for pk, accessions in wanted.items()
    }


def history_shown_to(
    user: Any, panel: Panel, earlier: Mapping[str, PanelFacts] | None
) -> HistoryShown | None:
    """What ``user`` is shown of ``panel``'s history (``earlier``: :func:`history_facts` of it);
    ``None`` for the whole of it. An earlier panel whose facts were not found is left out."""
    if access.history_whole(user, lab_id=panel.lab_id):
        return None
    return HistoryShown(
        visible=frozenset(
            access.history_visible(user, current=panel_facts(panel, earlier), earlier=earlier or {})
        ),
        omissions_told=access.history_omissions_told(user),
    )


def history_shown_to_audience(
    panel: Panel, earlier: Mapping[str, PanelFacts], *, reader: HistoryShown | None = None
) -> HistoryShown:
    """What a report of ``panel`` shows: what its ordering clinician may be shown
    (``access.history_visible_to_ordering_clinician``), less what ``reader`` (a page's viewer,
    ``None``: the PDF, or a reader shown everything) may not see; the audience is told what
    was left out unless the reader is not."""
    visible = access.history_visible_to_ordering_clinician(
        current=panel_facts(panel, earlier),
        earlier=earlier,
        sends_preliminaries=panel.lab.preliminary_reports_to_clinicians,
    )
    if reader is None:
        return HistoryShown(visible=frozenset(visible), omissions_told=True)
    return HistoryShown(
        visible=frozenset(visible) & reader.visible, omissions_told=reader.omissions_told
    )


# --- The snapshot, computed again over the panels shown --------------------------------------


def _measurement(trend: Mapping[str, Any], point: Mapping[str, Any]) -> Measurement:
    """The engine measurement a snapshot's point was computed from (its value as reported)."""
    text, comparator = point["value_text"], Comparator.EQ
    for symbol, censored in _SYMBOLS:
        if text.startswith(symbol):
            text, comparator = text[len(symbol) :], censored
            break
    return Measurement(
        analyte=trend["analyte"],
        value=Decimal(text),
        comparator=comparator,
        unit=trend["unit"],
        method=point.get("method", ""),
    )


def _points(serial: Mapping[str, Any], keep: set[str]) -> dict[str, SerialPoint]:
    """The panels ``keep`` of ``serial`` as engine points, their measurements from the trends."""
    measurements: dict[str, list[Measurement]] = {accession: [] for accession in keep}
    for trend in serial.get("analytes") or ():
        for point in [*trend["points"], *(trend.get("set_apart") or ())]:
            if point["accession"] in keep:
                measurements[point["accession"]].append(_measurement(trend, point))
    return {
        item["accession"]: SerialPoint(
            panel_key=item["accession"],
            collected_at=datetime.fromisoformat(item["collected_at"]),
            measurements=tuple(measurements[item["accession"]]),
            specimen_type=item["specimen_type"],
            is_marked_baseline=item["is_marked_baseline"],
        )
        for item in [*(serial.get("panels") or ()), *(serial.get("excluded") or ())]
        if item["accession"] in keep
    }


def _recomputed(serial: Mapping[str, Any], current: str, visible: set[str]) -> dict[str, Any]:
    """``serial`` as it would have been computed over the panels ``visible`` and ``current``."""
    if "panels" not in serial:
        return {}
    listed = {
        item["accession"]: item for item in [*serial["panels"], *(serial.get("excluded") or ())]
    }
    points = _points(serial, {*visible, current})
    anchor = serial.get("anchor")
    anchor_at = datetime.fromisoformat(anchor["occurred_at"]) if anchor else None
    history = [point for key, point in points.items() if key != current]
    again = serial_history(history, points[current], anchor_at)
    if len(again.compared) + len(again.excluded) < 2:
        return {}
    baseline = again.baseline
    trends = trends_json(again.trends)
    for trend in trends:
        for point in [*trend["points"], *trend["set_apart"]]:
            # the day as the snapshot numbered it (on the lab's calendar), not recomputed
            point["day"] = listed[point["accession"]]["day"]
    return {
        "anchor": anchor,
        "specimen_type": serial["specimen_type"],
        "baseline": baseline.point.panel_key if baseline.point else None,
        "baseline_basis": baseline.basis.value if baseline.basis else None,
        "no_baseline": baseline.missing.value if baseline.missing else None,
        "other_specimen_types": list(baseline.other_specimen_types),
        "panels": [listed[point.panel_key] for point in again.compared],
        "excluded": [listed[point.panel_key] for point in again.excluded],
        "analytes": trends,
    }


def serial_shown(
    serial: Mapping[str, Any], current: str, shown: HistoryShown | None
) -> dict[str, Any]:
    """The snapshot ``serial`` of the panel ``current`` as a reader is ``shown`` it: unchanged
    when every earlier panel is shown; otherwise computed again over the panels shown, with
    ``not_shown`` (``{"count": n, "reason": "not yet released"}``) where the reader is told."""
    if shown is None or not serial:
        return dict(serial)
    earlier = earlier_accessions(serial, current)
    visible = {accession for accession in earlier if accession in shown.visible}
    if len(visible) == len(earlier):
        return dict(serial)
    answer = _recomputed(serial, current, visible)
    if shown.omissions_told:
        answer["not_shown"] = {"count": len(earlier) - len(visible), "reason": NOT_RELEASED}
    return answer


def findings_shown(
    findings: Sequence[Finding], serial: Mapping[str, Any], current: str, shown: HistoryShown | None
) -> list[Finding]:
    """``findings`` as a reader is ``shown`` them: a finding measured against the baseline panel
    (the fold rise) keeps neither its statement's values nor its evidence when that panel is
    not shown; it reads as indeterminate for this reader, saying why (unsaved copies)."""
    baseline = serial.get("baseline") if serial else None
    if shown is None or baseline is None or baseline == current or baseline in shown.visible:
        return list(findings)
    answer = []
    for finding in findings:
        rule = pattern_rule_get(finding.rule_id)
        if (
            rule is None
            or rule.kind != "fold_rise"
            or finding.status == FindingStatus.NOT_EVALUATED
        ):
            answer.append(finding)
            continue
        withheld = copy.copy(finding)
        withheld.status = FindingStatus.INDETERMINATE
        words = copy.copy(finding.text)
        words.statement = (
            f"{words.name}: not shown here — it compares this panel with an earlier panel "
            "(its baseline) that is not shown to this reader"
        )
        withheld.text = words
        withheld.evidence = []
        withheld.score = None
        answer.append(withheld)
    return answer
