"""The lab's worklist with 10,000 panels in the lab, beside a bare Django view in the same run.

Issue 12 ("Speed"): the worklist at 0.25x the bare view's request rate or better, its query count
constant in page size. On a fresh PostgreSQL database this imports ``--panels`` panels (13
results each, the import's real code path: ``bench/import_csv.py``'s file) into one lab, with a
critical high limit on IL-6 so that some of them are critical, then requests, in this process
through Django's test client (the whole middleware stack, a logged-in director's session):

* the bare view the target is measured against, ``/bare-user/``: mounted beside the project's
  URLs, it answers the logged-in user's name, so it costs what any page of a logged-in user
  costs at the least (the same middleware, the session read and the user read: 2 queries) and
  nothing more (no template, no query of its own);
* ``/bare/`` (``HttpResponse("ok")``: the middleware alone, nothing read), for reference only;
* ``/worklist/`` (critical first, oldest collection next: the first page of 25);
* ``/worklist/?flagged=on&q=Bench`` (flagged only, a search matching every patient: the worst
  filter) and ``/worklist/?page=200`` (a deep page);

each for ``--seconds`` seconds in all, in ``--rounds`` interleaved slices (on a shared machine
a busy moment then slows every URL alike), the whole ``--repetitions`` times (default 3), and
prints the rates and their ratios to the bare view's (``/bare-user/``) and to ``/bare/``, each
the median (min-max) over the repetitions, and each page's query count. Issue 12's target:
``/worklist/`` at 0.25x or better (the filtered and the deep page are measured alongside, not
part of the target). The database is ``LABPANEL_BENCH_DATABASE`` (default
``labpanel_bench_worklist``), dropped and created afresh (``--reuse``: measured as loaded).

Figures of 2026-12-06 (a shared machine: load average 11 to 12 on 2 CPUs; ``--reuse
--seconds 5 --repetitions 3``; before = 6754e97 and after, back to back): /worklist/ 0.21
(0.21-0.21) -> 0.24 (0.24-0.25) of ``/bare-user/``, 0.05 -> 0.06 of ``/bare/``; page 200 0.18
-> 0.19; flagged with a search matching every patient 0.08 -> 0.07; 4 queries each.

Figures of 2026-12-06 23:13 (a quiet machine, load 0.7; ``--reuse --seconds 5 --repetitions
3``; before and after the page statement written with its values, the refusals decided per
state, lab and submitter, one CSRF mask per page): /worklist/ 0.21 (0.19-0.21) -> 0.27
(0.26-0.28) of ``/bare-user/``, 155 -> 195 req/s; page 200 0.16 -> 0.18; 4 queries each.

    .venv/bin/python bench/worklist_pages.py                  # 10,000 panels
    .venv/bin/python bench/worklist_pages.py --panels 2000 --seconds 3
    .venv/bin/python bench/worklist_pages.py --reuse --repetitions 5   # the loaded database
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]

from import_csv import _csv  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("LABPANEL_BENCH_DATABASE", "labpanel_bench_worklist")
CRITICAL_IL6 = Decimal("155")  # the file's IL-6 runs 148.2 to 157.8 pg/mL


def _configure(*, fresh: bool) -> None:
    if fresh:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "labpanel.settings",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "CELERY_BROKER_URL": "memory://",
            "LABPANEL_MEDIA_ROOT": tempfile.mkdtemp(prefix="labpanel-bench-worklist-"),
            "LABPANEL_LOG_LEVEL": "WARNING",
            "DJANGO_SECRET_KEY": "bench-only",
            "DJANGO_DEBUG": "false",
            "DJANGO_ALLOWED_HOSTS": "testserver",
        }
    )
    import django

    django.setup()


def _bare_urls() -> str:
    """A URL conf: the project's, and ``/bare/`` answering "ok" (nothing read, no template)."""
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    from labpanel import urls

    def bare(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    def bare_user(request: HttpRequest) -> HttpResponse:
        return HttpResponse(request.user.get_username())

    module = types.ModuleType("bench_worklist_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("bare/", bare),
        path("bare-user/", bare_user),
        *urls.urlpatterns,
    ]
    sys.modules[module.__name__] = module
    return module.__name__


def _load(panels: int) -> tuple[object, object]:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.db import connection

    from labpanel.accounts.models import Role
    from panels.intake.imports.commit import import_job_commit
    from panels.intake.imports.services import import_job_commit_request, import_job_create
    from panels.intake.imports.validate import import_job_validate
    from panels.models import ImportJob, Panel
    from reference_ranges import adapters
    from reference_ranges.models import ReferenceRangeRule
    from tests.factories import make_lab, make_staff

    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", verbosity=0)
    ReferenceRangeRule.objects.filter(analyte__code="IL6", unit="pg/mL").update(
        critical_high=CRITICAL_IL6
    )
    adapters.clear_cache()
    lab = make_lab(name="Bench Lab")
    technician = make_staff(username="bench.tech", lab=lab, role=Role.TECHNICIAN)
    director = make_staff(username="bench.director", lab=lab, role=Role.DIRECTOR)
    make_staff(username="dr.house", lab=lab, role=Role.CLINICIAN)
    started = time.perf_counter()
    job = import_job_create(
        user=technician.user,
        upload=SimpleUploadedFile("bench.csv", _csv(panels), "text/csv"),
    )
    import_job_validate(job_id=job.pk)
    job.refresh_from_db()
    import_job_commit_request(job=job, user=technician.user)
    import_job_commit(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == "committed"
    with connection.cursor() as cursor:
        # what autovacuum does after a large import: statistics, and the visibility map that
        # lets the worklist read its index alone
        for table in ("panels_panel", "panels_result", "panels_patient"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    print(
        f"loaded {Panel.objects.count():,} panels in {time.perf_counter() - started:.1f} s "
        f"(critical IL-6 limit {CRITICAL_IL6} pg/mL)"
    )
    return technician, director


def _queries(client: object, url: str) -> int:
    """``url``'s query count (after one warm-up request, which must answer 200)."""
    from django.db import connection

    response = client.get(url)  # type: ignore[attr-defined]
    assert response.status_code == 200, (url, response.status_code)
    queries: list[str] = []

    def counted(execute: Any, sql: str, *rest: Any) -> Any:
        queries.append(sql)
        return execute(sql, *rest)

    with connection.execute_wrapper(counted):
        client.get(url)  # type: ignore[attr-defined]
    return len(queries)


def _rates(client: object, urls: list[str], seconds: float, rounds: int) -> dict[str, float]:
    """Requests per second on each of ``urls``, ``seconds`` each in all, measured in
    ``rounds`` interleaved slices (the machine is shared: a slower minute slows every URL alike
    rather than whichever was measured then)."""
    done = dict.fromkeys(urls, 0)
    spent = dict.fromkeys(urls, 0.0)
    for _ in range(rounds):
        for url in urls:
            started = time.perf_counter()
            while time.perf_counter() - started < seconds / rounds:
                client.get(url)  # type: ignore[attr-defined]
                done[url] += 1
            spent[url] += time.perf_counter() - started
    return {url: done[url] / spent[url] for url in urls}


def _spread(values: list[float], digits: int = 2) -> str:
    """``median (min-max)`` of ``values``."""
    return (
        f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}-"
        f"{max(values):,.{digits}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per URL, in all")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved slices")
    parser.add_argument("--repetitions", type=int, default=3, help="of the whole measure")
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database")
    args = parser.parse_args()

    _configure(fresh=not args.reuse)
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.test import Client

    if args.reuse:
        director_user = User.objects.get(username="bench.director")
    else:
        _, director = _load(args.panels)
        director_user = director.user  # type: ignore[attr-defined]
    settings.ROOT_URLCONF = _bare_urls()
    client = Client()
    client.force_login(director_user)
    html = client.get("/worklist/").content.decode()
    rows, critical = html.count("<tr id="), html.count('class="critical-row"')
    print(f"first page: {critical} critical row(s) of {rows}")

    urls = [
        "/bare-user/",
        "/bare/",
        "/worklist/",
        "/worklist/?flagged=on&q=Bench",
        "/worklist/?page=200",
    ]
    queries = {url: _queries(client, url) for url in urls}
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    runs = [_rates(client, urls, args.seconds, args.rounds) for _ in range(args.repetitions)]
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        f"{args.repetitions} repetitions; median (min-max); ratios per repetition to the "
        "yardsticks measured in it"
    )
    print(f"{'URL':<34} {'req/s':>22} {'x bare-user':>18} {'x bare':>18}  queries")
    for url in urls:
        name = "/bare-user/ (the yardstick)" if url == "/bare-user/" else url
        rates = [run[url] for run in runs]
        to_user = [run[url] / run["/bare-user/"] for run in runs]
        to_bare = [run[url] / run["/bare/"] for run in runs]
        print(
            f"{name:<34} {_spread(rates, 1):>22} {_spread(to_user):>18} {_spread(to_bare):>18}"
            f"  {queries[url]}"
        )


if __name__ == "__main__":
    main()
