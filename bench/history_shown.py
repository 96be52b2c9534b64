"""What showing a reader only part of a patient's history costs (issue 13): ``serial_shown``.

A synthetic patient with ``--panels`` earlier panels of 13 analytes each (a CAR-T course: an
infusion, the baseline before it). For each case, the time of one ``panels.history.serial_shown``
call: the whole history shown (the snapshot is returned as stored), and half of the earlier
panels left out (the trend is computed again over the rest by the engine). Pure Python: no
database, no broker. Figures are printed, never asserted.

    DJANGO_DEBUG=true .venv/bin/python bench/history_shown.py --panels 10
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
os.environ.setdefault("DJANGO_DEBUG", "true")

import django

django.setup()

from panels.history import HistoryShown, serial_shown  # noqa: E402
from panels.interpretation import trends_json  # noqa: E402
from reference_ranges.engine.kinetics import serial_history  # noqa: E402
from reference_ranges.engine.patterns import SerialPoint  # noqa: E402
from reference_ranges.engine.types import Comparator, Measurement  # noqa: E402

ANALYTES: tuple[str, ...] = ("IL6", "IL8", "IL10", "IL1B", "IL2", "IL4", "IL5", "IL12", "IL13")
ANALYTES += ("IL17", "TNFA", "IFNG", "IL2R")
INFUSION = datetime(2026, 11, 10, 12, tzinfo=UTC)


def _point(number: int) -> SerialPoint:
    return SerialPoint(
        panel_key=f"B-{number:04d}",
        collected_at=INFUSION + timedelta(days=number - 1, hours=-4),
        measurements=tuple(
            Measurement(
                analyte=code,
                value=Decimal(f"{index + 1}.{number % 10}"),
                comparator=Comparator.LT if index == 0 and number % 3 == 0 else Comparator.EQ,
                unit="pg/mL",
            )
            for index, code in enumerate(ANALYTES)
        ),
        specimen_type="plasma_heparin",
    )


def _snapshot(panels: int) -> dict[str, object]:
    points = [_point(number) for number in range(panels + 1)]
    history, current = points[:-1], points[-1]
    serial = serial_history(history, current, INFUSION)
    listed = [
        {
            "accession": point.panel_key,
            "collected_at": point.collected_at.isoformat(),
            "day": (point.collected_at.date() - INFUSION.date()).days,
            "specimen_type": point.specimen_type,
            "is_marked_baseline": False,
        }
        for point in serial.compared
    ]
    return {
        "anchor": {"kind": "car_t_infusion", "occurred_at": INFUSION.isoformat()},
        "specimen_type": "plasma_heparin",
        "baseline": serial.baseline.point.panel_key if serial.baseline.point else None,
        "baseline_basis": serial.baseline.basis.value if serial.baseline.basis else None,
        "no_baseline": None,
        "other_specimen_types": [],
        "panels": listed,
        "excluded": [],
        "analytes": trends_json(serial.trends),
    }


def _per_call(serial: dict[str, object], current: str, shown: HistoryShown, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        serial_shown(serial, current, shown)
    return (time.perf_counter() - started) / rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--panels", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=500)
    arguments = parser.parse_args()
    serial = _snapshot(arguments.panels)
    current = f"B-{arguments.panels:04d}"
    earlier = [f"B-{number:04d}" for number in range(arguments.panels)]
    whole = HistoryShown(visible=frozenset(earlier), omissions_told=True)
    half = HistoryShown(visible=frozenset(earlier[::2]), omissions_told=True)
    print(f"{arguments.panels} earlier panels x {len(ANALYTES)} analytes")
    for label, shown in (("all shown (as stored)", whole), ("half left out (recomputed)", half)):
        seconds = _per_call(serial, current, shown, arguments.rounds)
        print(f"  {label:<28} {seconds * 1e6:10.1f} µs per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
