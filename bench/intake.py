"""Intake at the speed of a transaction (issue 14): panels/s of the in-process ``panel_submit``
service, of the in-process ``hl7_receive`` and of HL7 over MLLP on the real stack, each against
its limit measured in the same run, side by side: a bare ORM insert of the same rows, one
transaction per panel.

On a fresh PostgreSQL database (``labpanel_bench_intake``: migrated, reference data seeded, one
lab with a technician, an integrator and the ordering clinician) each repetition runs, in turn:

* ``panel_submit``: N panels of 13 results (IL-6, IL-10, TNFA ... GM-CSF, as
  ``bench/mllp_client.py`` writes them: NM values and censored ones), one call each, as a request
  would call it (the submission built beforehand, the membership read afresh). Patients are
  ``BENCH-MRN-<n % 997>``: new at first, known later.
* the limit: for each panel the submit loop just stored, its patient row, its panel row and
  its 13 result rows, read back and inserted again by the ORM (``Patient.objects.create``,
  ``Panel.objects.create``, ``Result.objects.bulk_create``: three INSERTs) in one transaction
  per panel, under a new accession and MRN. No interpretation, findings, report, inbox entry,
  event or task: the rows alone.
* ``hl7_receive``: N ORU^R01 messages (``bench/mllp_client.py``'s, one panel each), one call
  each, as the MLLP listener calls it.
* MLLP: the same kind of messages through ``manage.py mllp_listener`` (its own process, started
  once, this database, Redis as the broker on a throwaway queue), sent over one connection,
  each after the previous ACK (all AA).

Every stored panel enqueues its report on commit (Redis db 7, a throwaway queue, deleted at the
end); no worker renders them. Prints each figure, the limit, and ratio = figure / limit per
repetition, then the median (min–max) over the repetitions, and the load average before and
after (the machine may be shared).

    .venv/bin/python bench/intake.py                  # 3 repetitions of 200 panels per path
    .venv/bin/python bench/intake.py -n 100 -r 5
    .venv/bin/python bench/intake.py --port 18210     # the listener's port (default 18200)
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench_intake"
BROKER = "redis://127.0.0.1:6379/7"
QUEUE = f"labpanel-bench-intake-{uuid.uuid4().hex[:8]}"
ENV = {
    "DJANGO_SETTINGS_MODULE": "labpanel.settings",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "CELERY_BROKER_URL": BROKER,
    "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
    "DJANGO_SECRET_KEY": "bench-only",
    "DJANGO_DEBUG": "false",
}


def _fresh_database() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")


def _setup() -> tuple[Any, Any, Any]:
    """Migrate and seed; the lab, its technician and its integrator."""
    from django.core.management import call_command

    from labpanel.accounts.models import Role
    from tests.factories import make_lab, make_staff

    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", verbosity=0)
    lab = make_lab(name="Bench Lab")
    technician = make_staff(username="tech.bench", lab=lab, role=Role.TECHNICIAN)
    integrator = make_staff(username="interface.engine", lab=lab, role=Role.INTEGRATOR)
    make_staff(username="dr.bench", lab=lab, role=Role.CLINICIAN)
    return lab, technician.user, integrator.user


def _submissions(lab: Any, run: str, count: int, rng: random.Random) -> list[Any]:
    """``count`` submissions as the JSON API builds them, with mllp_client's values."""
    from mllp_client import ANALYTES, _value

    from panels.intake.inputs import PanelSubmitInput
    from reference_ranges.selectors import analyte_catalogue_get

    catalogue = analyte_catalogue_get()
    built = []
    for number in range(count):
        results = []
        for code, _, median in ANALYTES:
            _, value = _value(rng, median)
            results.append({"analyte": code, "value": value.replace("^", ""), "unit": "pg/mL"})
        payload = {
            "accession": f"SUB-{run}-{number:07d}",
            "patient": {
                "mrn": f"BENCH-MRN-{number % 997:04d}",
                "family_name": "Bench",
                "given_name": f"Patient{number % 997}",
                "birth_date": "1980-01-01",
                "sex": "female" if number % 997 % 2 else "male",
            },
            "specimen": {"type": "serum", "collected_at": "2026-11-20T08:30:00Z"},
            "ordering_clinician": "dr.bench",
            "results": results,
        }
        serializer = PanelSubmitInput(
            data=copy.deepcopy(payload), context={"lab": lab, "catalogue": catalogue}
        )
        if not serializer.is_valid():
            raise SystemExit(f"bench submission refused: {serializer.errors}")
        built.append(serializer.to_submission())
    return built


def _timed(count: int, step: Callable[[int], None]) -> float:
    started = time.perf_counter()
    for number in range(count):
        step(number)
    return count / (time.perf_counter() - started)


def _submit_rate(user: Any, submissions: list[Any]) -> tuple[float, list[int]]:
    from labpanel.accounts import access
    from panels.intake.submission import panel_submit

    stored: list[int] = []

    def step(number: int) -> None:
        access.staff_forget(user)  # as a new request meets it
        panel, created = panel_submit(submitted_by=user, submission=submissions[number])
        if not created:
            raise SystemExit(f"panel {panel.accession} was not new")
        stored.append(panel.pk)

    return _timed(len(submissions), step), stored


def _limit_rate(panel_ids: list[int], run: str) -> float:
    """The same rows as the submit loop stored, inserted again by the bare ORM: patient, panel,
    results, one transaction per panel."""
    from django.db import transaction

    from panels.models import Panel, Patient, Result

    panels: dict[int, dict[str, Any]] = {
        row["id"]: dict(row) for row in Panel.objects.filter(pk__in=panel_ids).values()
    }
    patients: dict[int, dict[str, Any]] = {
        row["id"]: dict(row)
        for row in Patient.objects.filter(
            pk__in={row["patient_id"] for row in panels.values()}
        ).values()
    }
    results: dict[int, list[dict[str, Any]]] = {}
    for row in Result.objects.filter(panel_id__in=panel_ids).order_by("position").values():
        results.setdefault(row["panel_id"], []).append(dict(row))
    drop = ("id", "created_at", "updated_at")
    rows = []
    for number, panel_id in enumerate(panel_ids):
        panel = {k: v for k, v in panels[panel_id].items() if k not in drop}
        patient = {k: v for k, v in patients[panel["patient_id"]].items() if k not in drop}
        patient["mrn"] = f"LIM-{run}-{number:07d}"
        panel["accession"] = f"LIM-{run}-{number:07d}"
        rows.append(
            (
                patient,
                panel,
                [
                    {k: v for k, v in r.items() if k not in ("id", "panel_id")}
                    for r in results[panel_id]
                ],
            )
        )

    def step(number: int) -> None:
        patient, panel, panel_results = rows[number]
        with transaction.atomic():
            stored_patient = Patient.objects.create(**patient)
            stored_panel = Panel.objects.create(**{**panel, "patient_id": stored_patient.pk})
            Result.objects.bulk_create(Result(panel=stored_panel, **r) for r in panel_results)

    return _timed(len(rows), step)


def _hl7_rate(user: Any, run: str, count: int, rng: random.Random) -> float:
    from mllp_client import build_message

    from labpanel.accounts import access
    from panels.intake.hl7.services import hl7_receive
    from panels.models import Transport

    messages = [build_message(number, run, rng) for number in range(count)]

    def step(number: int) -> None:
        access.staff_forget(user)  # as the listener does before each message
        outcome = hl7_receive(raw=messages[number], user=user, transport=Transport.MLLP)
        if outcome.ack_code != "AA":
            raise SystemExit(f"hl7_receive answered {outcome.ack_code}: {outcome.ack!r}")

    return _timed(count, step)


def _mllp_rate(port: int, run: str, count: int, rng: random.Random) -> float:
    from mllp_client import build_message

    from panels.intake.hl7.ack import ack_code_of
    from panels.intake.hl7.client import MllpClient

    messages = [build_message(number, run, rng) for number in range(count)]
    with MllpClient("127.0.0.1", port, timeout=60) as client:
        started = time.perf_counter()
        for message in messages:
            ack = client.send(message)
            if ack_code_of(ack) != "AA":
                raise SystemExit(f"the listener answered {ack!r}")
        return count / (time.perf_counter() - started)


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=200, help="panels per path per rep")
    parser.add_argument("-r", "--repetitions", type=int, default=3)
    parser.add_argument("--port", type=int, default=18200)
    args = parser.parse_args()
    os.environ.update(ENV)
    load_before = os.getloadavg()
    _fresh_database()
    import django

    django.setup()
    from django.db import connection

    lab, technician, integrator = _setup()
    connection.close()
    listener = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "mllp_listener",
            "--port",
            str(args.port),
            "--user",
            "interface.engine",
        ],
        cwd=BASE_DIR,
        env={**os.environ, **ENV},
    )
    from tests.e2e.launcher import port_wait

    ratios: dict[str, list[float]] = {"panel_submit": [], "hl7_receive": [], "MLLP": []}
    rng = random.Random(2026)
    try:
        port_wait(args.port, listener, timeout=60)
        # Warm both processes (imports, reference data in memory) before measuring.
        _submit_rate(technician, _submissions(lab, "warm", 5, rng))
        _hl7_rate(integrator, "warm0", 5, rng)
        _mllp_rate(args.port, "warm1", 5, rng)
        for repetition in range(1, args.repetitions + 1):
            run = f"{repetition}{uuid.uuid4().hex[:6]}"
            submissions = _submissions(lab, run, args.count, rng)
            submit, stored = _submit_rate(technician, submissions)
            limit = _limit_rate(stored, run)
            hl7 = _hl7_rate(integrator, f"H{run}", args.count, rng)
            mllp = _mllp_rate(args.port, f"M{run}", args.count, rng)
            figures = {"panel_submit": submit, "hl7_receive": hl7, "MLLP": mllp}
            print(f"repetition {repetition}: limit (bare ORM insert) {limit:,.0f} panels/s")
            for name, figure in figures.items():
                ratios[name].append(figure / limit)
                print(f"  {name:<13} {figure:7,.1f} panels/s  ratio {figure / limit:.2f}")
    finally:
        listener.terminate()
        listener.wait(timeout=30)
        import redis

        redis.Redis.from_url(BROKER).delete(QUEUE)
    load_after = os.getloadavg()
    print(f"{args.count} panels (13 results each) per path, {args.repetitions} repetitions")
    for name, values in ratios.items():
        print(f"  {name:<13} ratio to the bare insert: median {_summary(values)}")
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
