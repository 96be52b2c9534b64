"""The worker's report rate against a bare reportlab render of the same documents, same run.

Issue 11 ("speed stays"): what the report shows must not cost the worker its throughput. On a
fresh PostgreSQL database (``BENCH_DATABASE``, default ``labpanel_bench_render``; broker
``BENCH_BROKER_URL``, default Redis db 9) this runs ``--rounds`` rounds, each alternating the
two phases, so that the machine's load (other processes) weighs on both sides of a ratio alike
and a burst of it spoils one round, which the median leaves out:

1. post a batch, the eight cases of ``bench/report_cases.py`` (``--copies`` of each), through
   the JSON API while no worker runs;
2. start one Celery worker process (``--concurrency 1``, as ``make worker`` but with one
   process) on a private Redis queue, measure its rate from the batch's own ``rendered_at``
   times (first to last, so start-up is not counted), and stop it;
3. build the same reports' documents (not timed) and render them with the bare layout
   (``reports.rendering.render_pdf``) in this process: the limit the worker is held to.

It prints each round's rates and ratio, and the median ratio (the figure held to ≥ 0.8×).

    .venv/bin/python bench/report_render.py                 # 5 rounds of 8 cases × 5 copies
    .venv/bin/python bench/report_render.py --copies 8 --rounds 3 --png var/cases

The measured batches are the reports made on submission (PRELIMINARY: nobody has verified
them). Afterwards the director verifies and releases the last round's cases (FINAL) and the
amended case is corrected after release (CORRECTED), rendered by a worker but not measured.
``--png DIR`` writes each case's latest report as ``DIR/<case>.pdf`` and
``DIR/<case>-<page>.png`` (pdftoppm) to look at.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]

from report_cases import CASES, case_payloads, measuring_ranges_record  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("BENCH_DATABASE", "labpanel_bench_render")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/9")


def _configure() -> dict[str, str]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    var_dir = tempfile.mkdtemp(prefix="labpanel-bench-render-")
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": f"labpanel-bench-render-{uuid.uuid4().hex[:8]}",
        "LABPANEL_VAR_DIR": var_dir,
        "LABPANEL_LOG_LEVEL": "WARNING",
        "DJANGO_SECRET_KEY": "bench-render-" + uuid.uuid4().hex,
        "DJANGO_ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")
    import django

    django.setup()
    from django.core.management import call_command

    for command in ("migrate", "seed_reference_data"):
        call_command(command, verbosity=0)
    call_command("seed_demo", "--force-demo", verbosity=0)  # on PostgreSQL: asked for
    _measuring_ranges()
    return env


def _measuring_ranges() -> None:
    from labpanel.accounts.models import StaffMember

    measuring_ranges_record(StaffMember.objects.get(user__username="lab.tech").lab)


def _post_cases(copies: int) -> dict[str, list[int]]:
    """Post every case ``copies`` times; the panel ids of each case's reported panel."""
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.tech"))
    reported: dict[str, list[int]] = {case.slug: [] for case in CASES}
    for _ in range(copies):
        for case in CASES:
            for payload in case_payloads(case, clinician="dr.house"):
                response = client.post("/api/v1/panels/", payload, format="json")
                if response.status_code != 201:
                    raise SystemExit(f"{case.slug}: {response.status_code} {response.content!r}")
            reported[case.slug].append(response.json()["id"])
    return reported


def _release(reported: dict[str, list[int]]) -> None:
    """The lab director verifies and releases each case's panel: its FINAL report follows."""
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.director"))
    for panel_ids in reported.values():
        for panel_id in panel_ids:
            for step in ("verify", "release"):
                response = client.post(f"/api/v1/panels/{panel_id}/{step}/", {}, format="json")
                if response.status_code not in (200, 202):
                    raise SystemExit(
                        f"{step} {panel_id}: {response.status_code} {response.content!r}"
                    )


def _amend(reported: dict[str, list[int]]) -> None:
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(User.objects.get(username="lab.tech"))
    for case in CASES:
        if case.amendment is None:
            continue
        for panel_id in reported[case.slug]:
            url = f"/api/v1/panels/{panel_id}/amendments/"
            response = client.post(url, case.amendment, format="json")
            if response.status_code not in (200, 201):
                raise SystemExit(f"amend {case.slug}: {response.status_code} {response.content!r}")


def _wait_rendered(expected: int, timeout: float) -> None:
    from reports.models import Report, ReportStatus

    deadline = time.monotonic() + timeout
    while Report.objects.filter(status=ReportStatus.READY).count() < expected:
        failed = Report.objects.filter(status=ReportStatus.FAILED).first()
        if failed is not None:
            raise SystemExit(f"report {failed.pk} failed: {failed.error_message}")
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not render every report in time")
        time.sleep(0.2)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "labpanel", "worker", "--concurrency=1"]
    command += ["-Q", env["CELERY_TASK_DEFAULT_QUEUE"], "--loglevel=WARNING"]
    return subprocess.Popen(command, cwd=BASE_DIR, env={**os.environ, **env})


def _worker_rate(report_ids: list[int]) -> float:
    from reports.models import Report

    rendered = Report.objects.filter(pk__in=report_ids).values_list("rendered_at", flat=True)
    times = sorted(moment for moment in rendered if moment is not None)
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


def _bare(report_ids: list[int]) -> tuple[float, dict[str, float]]:
    """Reports per second of the bare layout over the same documents, and ms per case."""
    from reports.document_builder import report_document_build
    from reports.models import Report
    from reports.rendering import render_pdf

    reports = list(Report.objects.filter(pk__in=report_ids).select_related("panel").order_by("pk"))
    documents = [
        report_document_build(report=r, reported_at=r.rendered_at or r.created_at) for r in reports
    ]
    render_pdf(documents[0])  # fonts loaded once, as in a warm worker
    started = time.perf_counter()
    per_case: dict[str, list[float]] = {}
    for report, document in zip(reports, documents, strict=True):
        one = time.perf_counter()
        render_pdf(document)
        slug = report.panel.accession.rsplit("-", 2)[0].lower()
        per_case.setdefault(slug, []).append((time.perf_counter() - one) * 1000)
    rate = len(documents) / (time.perf_counter() - started)
    return rate, {slug: statistics.median(ms) for slug, ms in per_case.items()}


def _write_pngs(reported: dict[str, list[int]], folder: Path) -> None:
    from reports.models import Report

    folder.mkdir(parents=True, exist_ok=True)
    for slug, panel_ids in reported.items():
        report = Report.objects.filter(panel_id=panel_ids[0]).order_by("-pk").first()
        assert report is not None
        assert report.pdf
        target = folder / f"{slug}.pdf"
        with report.pdf.open("rb") as source:
            target.write_bytes(source.read())
        if shutil.which("pdftoppm"):
            subprocess.run(
                ["pdftoppm", "-r", "80", "-png", str(target), str(folder / slug)], check=True
            )
    print(f"PDFs and PNGs in {folder}")


def _worker_phase(env: dict[str, str], expected: int, timeout: float) -> None:
    """One worker process renders what waits in the queue (``expected`` reports ready), then
    stops."""
    worker = _worker(env)
    try:
        _wait_rendered(expected, timeout=timeout)
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--png", type=Path, default=None)
    arguments = parser.parse_args()

    env = _configure()
    from reports.models import Report

    batch_size = len(CASES) * arguments.copies
    print(
        f"{arguments.rounds} rounds of {batch_size} reports ({len(CASES)} cases × "
        f"{arguments.copies}); worker: 1 process, end to end; bare: render_pdf, same documents"
    )
    ratios: list[float] = []
    reported: dict[str, list[int]] = {}
    for round_number in range(1, arguments.rounds + 1):
        before = set(Report.objects.values_list("pk", flat=True))
        reported = _post_cases(arguments.copies)
        batch = sorted(set(Report.objects.values_list("pk", flat=True)) - before)
        _worker_phase(env, Report.objects.count(), timeout=60 + 5 * len(batch))
        worker_rate = _worker_rate(batch)
        bare_rate, per_case = _bare(batch)
        ratios.append(worker_rate / bare_rate)
        print(
            f"round {round_number}: worker {worker_rate:5.1f} reports/s, bare "
            f"{bare_rate:5.1f} reports/s, ratio {ratios[-1]:.2f}×"
        )
    print(
        f"median ratio: {statistics.median(ratios):.2f}× (each round: "
        + ", ".join(f"{ratio:.2f}" for ratio in ratios)
        + ")"
    )
    print(
        "bare render, median ms per case (last round): "
        + ", ".join(f"{k} {v:.0f}" for k, v in per_case.items())
    )
    _release(reported)
    _worker_phase(env, Report.objects.count(), timeout=120)
    _amend(reported)
    _worker_phase(env, Report.objects.count(), timeout=120)
    if arguments.png is not None:
        _write_pngs(reported, arguments.png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
