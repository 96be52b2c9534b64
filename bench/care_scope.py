"""What a clinician's care costs in the panels they may open (issue 13): ``access.panels_scope``.

A clinician opens the released panels of the patients in their care (a patient of whom they
ordered a panel they may open), a subquery over ``Lab.panels`` inside the scope. On a fresh
PostgreSQL database this writes ``--panels`` panels (rows only, no results: the scope reads the
panel table alone) in one lab, each of a patient and by a clinician drawn at random (seeded)
among ``--patients`` and ``--clinicians``, four in five released, and then times, for one
clinician, the queries a panel list runs on the scope (the count and the first page of 25,
newest first) and a read of one panel by id; and the first page of an empty list, for a
clinician whose ``--unreleased`` panels are none of them released yet (PostgreSQL then walks the
lab's panels newest first, finding none in their care: the worst case); each with the care
subquery (the scope as it is) and with the former scope (only the panels they ordered), in
interleaved rounds. Figures are printed, never asserted. The database is
``LABPANEL_BENCH_DATABASE`` (default ``labpanel_bench_care``), dropped and created afresh.

    .venv/bin/python bench/care_scope.py                      # 50,000 panels
    .venv/bin/python bench/care_scope.py --panels 5000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("LABPANEL_BENCH_DATABASE", "labpanel_bench_care")


def _configure() -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "labpanel.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "CELERY_BROKER_URL": "memory://",
            "LABPANEL_MEDIA_ROOT": tempfile.mkdtemp(prefix="labpanel-bench-care-"),
            "LABPANEL_LOG_LEVEL": "WARNING",
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_DEBUG": "false",
        }
    )
    import django

    django.setup()


def _load(panels: int, patients: int, clinicians: int) -> Any:
    """The lab, its people and rows; returns the first clinician's user."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from labpanel.accounts.models import Lab, Role, StaffMember
    from panels.models import Panel, Patient
    from reference_ranges.models import ReferenceRangeSet

    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", verbosity=0)
    lab = Lab.objects.create(name="Bench lab")
    users = get_user_model().objects
    technician = users.create(username="bench.tech")
    StaffMember.objects.create(user=technician, lab=lab, role=Role.TECHNICIAN)
    doctors = []
    for number in range(clinicians):
        user = users.create(username=f"bench.dr{number}")
        StaffMember.objects.create(user=user, lab=lab, role=Role.CLINICIAN)
        doctors.append(user)
    ruleset = ReferenceRangeSet.objects.order_by("pk").first()
    assert ruleset is not None
    people = Patient.objects.bulk_create(
        Patient(lab=lab, mrn=f"B-{n}", family_name="Bench", sex="female") for n in range(patients)
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    draw = random.Random(13)
    batch: list[Panel] = []
    for n in range(panels):
        batch.append(
            Panel(
                lab=lab,
                accession=f"BA-{n}",
                patient=people[draw.randrange(patients)],
                specimen_type="serum",
                collected_at=start + timedelta(minutes=n),
                ordering_clinician=doctors[draw.randrange(clinicians)],
                submitted_by=technician,
                ruleset=ruleset,
                content_sha256=f"{n:064d}",
                review_state="received" if n % 5 == 1 else "released",
            )
        )
        if len(batch) == 5000:
            Panel.objects.bulk_create(batch)
            batch = []
    Panel.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return doctors[0]


def _former_scope(user: Any) -> Any:
    """The clinician's scope before issue 13's care: only the panels they ordered."""
    from django.db.models import Q

    from labpanel.accounts.access import PANEL_RELEASED, staff_for

    staff = staff_for(user)
    assert staff is not None
    released = Q(review_state=PANEL_RELEASED) | Q(lab__preliminary_reports_to_clinicians=True)
    return Q(lab_id=staff.lab_id, ordering_clinician_id=staff.user_id) & released


def _newcomer(clinician: Any, unreleased: int) -> Any:
    """A clinician of ``clinician``'s lab who ordered ``unreleased`` panels, none released."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labpanel.accounts.models import Role, StaffMember
    from panels.models import Panel

    user = get_user_model().objects.create(username="bench.newcomer")
    StaffMember.objects.create(
        user=user, lab_id=StaffMember.objects.get(user=clinician).lab_id, role=Role.CLINICIAN
    )
    copies = []
    for n, panel in enumerate(Panel.objects.order_by("pk")[:unreleased]):
        panel.pk = None
        panel.accession = f"BN-{n}"
        panel.ordering_clinician = user
        panel.review_state = "received"
        copies.append(panel)
    Panel.objects.bulk_create(copies)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user


def _first_page(scope: Any) -> list[Any]:
    from panels.models import Panel

    return list(Panel.objects.filter(scope).order_by("-created_at")[:25])


def _time(action: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        action()
    return (time.perf_counter() - started) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=50_000)
    parser.add_argument("--patients", type=int, default=5_000)
    parser.add_argument("--clinicians", type=int, default=50)
    parser.add_argument("--unreleased", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20, help="queries per round and case")
    args = parser.parse_args()

    _configure()
    from labpanel.accounts import access
    from panels.models import Panel

    clinician = _load(args.panels, args.patients, args.clinicians)
    newcomer = _newcomer(clinician, args.unreleased)
    scopes = {
        "care (now)": access.panels_scope(clinician),
        "ordered only": _former_scope(clinician),
    }
    some = Panel.objects.filter(scopes["ordered only"]).values_list("pk", flat=True).first()
    assert some is not None, "the clinician ordered no released panel: draw more panels"
    cases: dict[str, Callable[[], object]] = {}
    for name, scope in scopes.items():
        panels = Panel.objects.filter(scope)
        cases[f"{name}: count"] = panels.count
        cases[f"{name}: first page"] = partial(_first_page, scope)
        cases[f"{name}: one by id"] = panels.filter(pk=some).first
    for name, scope in (
        ("care (now)", access.panels_scope(newcomer)),
        ("ordered only", _former_scope(newcomer)),
    ):
        cases[f"{name}: empty first page"] = partial(_first_page, scope)
    sizes = {name: Panel.objects.filter(scope).count() for name, scope in scopes.items()}
    print(
        f"{args.panels} panels, {args.patients} patients, {args.clinicians} clinicians; "
        f"the clinician opens {sizes['care (now)']} (care) vs {sizes['ordered only']} (ordered)"
    )
    totals = dict.fromkeys(cases, 0.0)
    for _ in range(args.rounds):
        for name, action in cases.items():
            totals[name] += _time(action, args.repeat)
    for name in cases:
        print(f"{name:<28} {totals[name] / args.rounds:8.2f} ms")


if __name__ == "__main__":
    main()
