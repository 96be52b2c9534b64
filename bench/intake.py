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
    .venv/bin/python bench/intake.py --database labpanel_bench_intake_2 \
        --broker redis://127.0.0.1:6379/12           # another (throwaway) database and broker

Beside each rate: the CPU time per panel of the process that stores it (this one; for MLLP, the
listener's, read from /proc) and, in process, the SQL statements per panel (counted with
``connection.execute_wrapper``; BEGIN/COMMIT are not statements Django executes). The database
named by ``--database`` is dropped and created again: it must start with ``labpanel_bench_``.
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
DATABASE_PREFIX = "labpanel_bench_"
BROKER = "redis://127.0.0.1:6379/7"
QUEUE = f"labpanel-bench-intake-{uuid.uuid4().hex[:8]}"


def _env(database: str, broker: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "labpanel.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_DEFAULT_QUEUE": QUEUE,
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_DEBUG": "false",
    }


def _fresh_database(database: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{database}"')


class Measure:
    """A loop's rate (panels/s), this process's CPU time per panel (ms) and the statements
    it executed per panel."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.statements = 0
        self.rate = self.cpu_ms = self.per_panel = 0.0

    def __call__(self, execute: Callable[..., Any], *args: Any) -> Any:
        self.statements += 1
        return execute(*args)

    def run(self, step: Callable[[int], None]) -> Measure:
        from django.db import connection

        with connection.execute_wrapper(self):
            cpu = time.process_time()
            started = time.perf_counter()
            for number in range(self.count):
                step(number)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu
        self.rate = self.count / wall
        self.cpu_ms = cpu * 1000 / self.count
        self.per_panel = self.statements / self.count
        return self


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


def _process_cpu(pid: int) -> float:
    """The CPU time (user + system, seconds) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _submit_rate(user: Any, submissions: list[Any]) -> tuple[Measure, list[int]]:
    from labpanel.accounts import access
    from panels.intake.submission import panel_submit

    stored: list[int] = []

    def step(number: int) -> None:
        access.staff_forget(user)  # as a new request meets it
        panel, created = panel_submit(submitted_by=user, submission=submissions[number])
        if not created:
            raise SystemExit(f"panel {panel.accession} was not new")
        stored.append(panel.pk)

    return Measure(len(submissions)).run(step), stored


def _limit_rate(panel_ids: list[int], run: str) -> Measure:
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

    return Measure(len(rows)).run(step)


def _hl7_rate(user: Any, run: str, count: int, rng: random.Random) -> Measure:
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

    return Measure(count).run(step)


def _mllp_rate(port: int, run: str, count: int, rng: random.Random, pid: int) -> Measure:
    from mllp_client import build_message

    from panels.intake.hl7.ack import ack_code_of
    from panels.intake.hl7.client import MllpClient

    messages = [build_message(number, run, rng) for number in range(count)]
    measure = Measure(count)
    with MllpClient("127.0.0.1", port, timeout=60) as client:
        cpu = _process_cpu(pid)
        started = time.perf_counter()
        for message in messages:
            ack = client.send(message)
            if ack_code_of(ack) != "AA":
                raise SystemExit(f"the listener answered {ack!r}")
        measure.rate = count / (time.perf_counter() - started)
        measure.cpu_ms = (_process_cpu(pid) - cpu) * 1000 / count
        measure.per_panel = float("nan")  # in the listener's process: not counted here
    return measure


def _summary(values: list[float]) -> str:
    if all(value != value for value in values):  # NaN: not measured (MLLP's statements)
        return "n/a"
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--count", type=int, default=200, help="panels per path per rep")
    parser.add_argument("-r", "--repetitions", type=int, default=3)
    parser.add_argument("--port", type=int, default=18200)
    parser.add_argument(
        "--database",
        default=DATABASE,
        help=f"the database to drop, create and use (default {DATABASE}; it must start with "
        f"{DATABASE_PREFIX})",
    )
    parser.add_argument("--broker", default=BROKER, help=f"Redis as the broker (default {BROKER})")
    args = parser.parse_args()
    if not args.database.startswith(DATABASE_PREFIX) or not args.database.isidentifier():
        parser.error(f"--database must be a plain name starting with {DATABASE_PREFIX}")
    env = _env(args.database, args.broker)
    os.environ.update(env)
    load_before = os.getloadavg()
    _fresh_database(args.database)
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
        env={**os.environ, **env},
    )
    from tests.e2e.launcher import port_wait

    names = ("panel_submit", "hl7_receive", "MLLP", "limit")
    ratios: dict[str, list[float]] = {name: [] for name in names[:3]}
    rates: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    statements: dict[str, list[float]] = {name: [] for name in names}
    rng = random.Random(2026)
    try:
        port_wait(args.port, listener, timeout=60)
        # Warm both processes (imports, reference data in memory) before measuring.
        _submit_rate(technician, _submissions(lab, "warm", 5, rng))
        _hl7_rate(integrator, "warm0", 5, rng)
        _mllp_rate(args.port, "warm1", 5, rng, listener.pid)
        for repetition in range(1, args.repetitions + 1):
            run = f"{repetition}{uuid.uuid4().hex[:6]}"
            submissions = _submissions(lab, run, args.count, rng)
            submit, stored = _submit_rate(technician, submissions)
            limit = _limit_rate(stored, run)
            hl7 = _hl7_rate(integrator, f"H{run}", args.count, rng)
            mllp = _mllp_rate(args.port, f"M{run}", args.count, rng, listener.pid)
            figures = {"panel_submit": submit, "hl7_receive": hl7, "MLLP": mllp, "limit": limit}
            print(f"repetition {repetition}: limit (bare ORM insert) {limit.rate:,.0f} panels/s")
            for name, figure in figures.items():
                rates[name].append(figure.rate)
                cpu[name].append(figure.cpu_ms)
                statements[name].append(figure.per_panel)
                ratio = figure.rate / limit.rate
                if name in ratios:
                    ratios[name].append(ratio)
                print(
                    f"  {name:<13} {figure.rate:7,.1f} panels/s  ratio {ratio:.2f}  "
                    f"CPU {figure.cpu_ms:6.2f} ms/panel  {figure.per_panel:5.1f} statements/panel"
                )
    finally:
        listener.terminate()
        listener.wait(timeout=30)
        import redis

        redis.Redis.from_url(args.broker).delete(QUEUE)
    load_after = os.getloadavg()
    print(f"{args.count} panels (13 results each) per path, {args.repetitions} repetitions")
    for name in names:
        shown = f"ratio to the bare insert {_summary(ratios[name])}, " if name in ratios else ""
        print(
            f"  {name:<13} panels/s {_summary(rates[name])}, {shown}"
            f"CPU ms/panel {_summary(cpu[name])}, statements/panel {_summary(statements[name])}"
        )
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
