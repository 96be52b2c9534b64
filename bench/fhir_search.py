"""The FHIR DiagnosticReport search (issue 15: 50 reports with ``_include`` of their results)
beside the panel read, in the same process, in the same run.

Load: a fresh PostgreSQL database (``--database``, default ``labpanel_bench_fhir``), the
reference data and the demo lab (``seed_demo``), then ``--panels`` panels of 13 results
(``bench/bench_panel.py``'s values: low, normal, high and censored), ``--per-patient`` per
patient, submitted through the API in-process by lab.tech.

Measure, in this process (Django's test client, no HTTP, so both sides pay the same request
machinery), interleaved (each repeat asks each URL once in turn), each round: ``GET
/api/v1/panels/{id}/`` (the newest panel, lab.tech's token) and ``GET
/fhir/DiagnosticReport?_count=50&_include=DiagnosticReport:result`` (50 reports and their 650
Observations, one Bundle), and, beside them, ``GET /fhir/Observation?_count=100`` (a page of
results, no target of its own). The database is
ANALYZEd after loading, as autovacuum would have done. The first search builds its reports'
resources from the records and stores them (``reports.fhir.stored``): it is printed on its own
(its time and statements); the rounds measure the searches after it, which read them. Printed:
the milliseconds of each (median of ``--repeats``), the queries of each, the bytes, and the
ratio read time / search time (the search's rate as a fraction of the read's); beside it, the
same search with ``_total=none`` (nothing counted: its ratio printed, no target of its own).
Target: >= 0.4x
(the issue's figure is beside the panel read, which its own bench measures beside a bare view:
``bench/panel_read.py``). Light: about a minute on two cores.

With ``--existing USER``, nothing is loaded: the searches run on ``--database`` as it is, as
``USER`` (a technician or director of its lab), reading the newest panel of that lab, after a
``VACUUM ANALYZE``. For a lab of 10,000 panels, the import bench's database (its after-commit
step writes the panels' stored documents):

    .venv/bin/python bench/fhir_search.py
    .venv/bin/python bench/fhir_search.py --panels 120 --rounds 5 --repeats 30
    .venv/bin/python bench/import_csv.py && .venv/bin/python bench/fhir_search.py \
        --existing bench.tech --database labpanel_bench_import
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR / "bench"), str(BASE_DIR)]

from demo_database import demo_database_create, environment, panels_post  # noqa: E402

TARGET = 0.4
SEARCH = "/fhir/DiagnosticReport?_count=50&_include=DiagnosticReport:result"
OBSERVATIONS = "/fhir/Observation?_count=100"  # printed beside, no target of its own
UNCOUNTED = SEARCH + "&_total=none"  # printed beside: the same page, no Bundle.total counted


def load(database: str, panels: int, per_patient: int, media: str) -> tuple[int, str]:
    token = demo_database_create(settings="labpanel.settings", database=database, media=media)
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    panel_id = panels_post(client, panels=panels, per_patient=per_patient, prefix="FH")
    from django.db import connection

    # the planner's statistics, as autovacuum would have gathered them on a lab's database: on
    # tables just loaded PostgreSQL estimates one row each and joins results to panels in a
    # nested loop (the Observation page: 16.7 ms in PostgreSQL before ANALYZE, 1.3 after)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return panel_id, token


def existing(database: str, username: str, media: str) -> tuple[int, str]:
    """``database`` as it is: ``username``'s token, and the newest panel of their lab."""
    os.environ.update(environment(settings="labpanel.settings", database=database, media=media))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection

    from labpanel.accounts.services import api_token_issue
    from panels.models import Panel

    user = User.objects.get(username=username)
    panel = Panel.objects.filter(lab__staff__user=user).order_by("-pk").first()
    if panel is None:
        raise SystemExit(f"{username} sees no panel in {database}")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"{database}: {Panel.objects.filter(lab_id=panel.lab_id).count():,} panels in the lab")
    return panel.pk, api_token_issue(user=user, expires_in=None)


def measure(panel_id: int, token: str, rounds: int, repeats: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    urls = {
        "panel read": f"/api/v1/panels/{panel_id}/",
        "FHIR search": SEARCH,
        "FHIR search, _total=none": UNCOUNTED,
        "Observation search": OBSERVATIONS,
    }
    for name, url in urls.items():
        began = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        took = (time.perf_counter() - began) * 1000
        assert response.status_code == 200, response.content
        print(f"{name}: {len(queries)} queries, {len(response.content):,} bytes, {took:.1f} ms")
        if name == "FHIR search":
            # the first search built its reports' resources and stored them
            # (reports.fhir.stored); the next ones read them
            with CaptureQueriesContext(connection) as queries:
                again = client.get(url)
            assert again.content == response.content
            print(f"FHIR search, its resources stored: {len(queries)} queries, the same bytes")
    ratios = []
    uncounted = []
    for round_ in range(rounds):
        # interleaved: each repeat asks each URL once in turn, so that the machine's drift
        # within a round weighs on the read and the searches alike
        times: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(repeats):
            for name, url in urls.items():
                began = time.perf_counter()
                client.get(url)
                times[name].append(time.perf_counter() - began)
        medians = {name: statistics.median(taken) * 1000 for name, taken in times.items()}
        ratio = medians["panel read"] / medians["FHIR search"]
        ratios.append(ratio)
        uncounted.append(medians["panel read"] / medians["FHIR search, _total=none"])
        print(
            f"round {round_ + 1}: read {medians['panel read']:.2f} ms, "
            f"search {medians['FHIR search']:.2f} ms, ratio {ratio:.2f}x; "
            f"_total=none {medians['FHIR search, _total=none']:.2f} ms "
            f"({medians['panel read'] / medians['FHIR search, _total=none']:.2f}x); "
            f"100 Observations {medians['Observation search']:.2f} ms "
            f"({medians['panel read'] / medians['Observation search']:.2f}x)"
        )
    median = statistics.median(ratios)
    verdict = "meets" if median >= TARGET else "BELOW"
    print(
        f"ratio median {median:.2f}x ({min(ratios):.2f}-{max(ratios):.2f}); target >= {TARGET}x: "
        f"{verdict}"
    )
    print(
        f"with _total=none: median {statistics.median(uncounted):.2f}x "
        f"({min(uncounted):.2f}-{max(uncounted):.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database", default="labpanel_bench_fhir")
    parser.add_argument("--panels", type=int, default=60)
    parser.add_argument("--per-patient", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--existing", metavar="USER", help="search --database as it is, as USER")
    args = parser.parse_args()
    media = tempfile.mkdtemp(prefix="labpanel-bench-fhir-")
    try:
        if args.existing:
            panel_id, token = existing(args.database, args.existing, media)
        else:
            panel_id, token = load(args.database, args.panels, args.per_patient, media)
        measure(panel_id, token, args.rounds, args.repeats)
    finally:
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
