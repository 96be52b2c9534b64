"""The clinician's inbox (and the lab's worklist, where it exists) beside a bare Django view, with
10,000 released panels in the demo lab, on gunicorn (one sync worker) with the real settings.

Load (skipped with ``--reuse``): a fresh PostgreSQL database ``LABPANEL_BENCH_DATABASE`` (default
``labpanel_bench_pages``), the reference data and the demo lab (``seed_demo``), 10,000 panels
ordered by dr.house imported from one CSV through the import services (as the Celery tasks run
them), each verified and released by the director through ``panels.review.panel_verify`` and
``reports.release.panel_release`` (so every inbox entry is written by the code that writes it in
production), and a third of them opened by the clinician
(``reports.receipts.report_opened_record``).

Measure: gunicorn serves ``bench.bare_view_settings`` (the real settings and URLs plus
``/bench/bare/``, a view returning "ok", and ``/bench/bare-user/``, a view behind a login that
reads the user: the session and user look-ups any logged-in page pays); ``wrk`` (``apt-get
install wrk``; else a threaded Python client with one keep-alive session per thread) loads, from
its own process, each URL with the clinician's session: the two bare views, ``/inbox/``,
``/inbox/?page=40``, ``/inbox/?q=<mrn>``, then ``/worklist/`` as lab.tech (skipped if it answers
404), then the two bare views again; the whole sequence ``--repetitions`` times (default 3).
Each rate is printed as the median (min-max) over the repetitions, with its ratio to the mean of
the two rates of each yardstick measured in the same repetition (a shared machine slows a whole
repetition alike). Every loaded panel is released, so the worklist is empty here (labelled so);
its figure with 10,000 panels awaiting is ``bench/worklist_pages.py``'s.

The yardstick (decided in issue 12's work): the target, the pages at 0.25x the bare view, is
read against the bare view *behind the same login* (``/bench/bare-user/``), since the session
and user look-ups are the floor of any logged-in page; the ratio to the login-less bare view is
printed beside it.

Figures of 2026-12-06 (a machine shared with five other benches and test runs: load average 8
to 12 on 2 CPUs; ``--reuse --duration 5 --repetitions 3``; before = 6754e97 and after, back to
back, twice; ratio to the bare view behind the login, median (min-max)): /inbox/ 0.22 -> 0.30
and 0.30 -> 0.38; page 40 0.21 -> 0.32 and 0.24 -> 0.37; an MRN search 0.25 -> 0.39 and
0.30 -> 0.44; the slowest inbox URL 0.21 (0.19-0.28) -> 0.24 (0.23-0.30) and 0.24 (0.21-0.29)
-> 0.35 (0.33-0.38). To the login-less bare view: 0.07 -> 0.07 and 0.06 -> 0.10 (the session
and user look-ups alone are 0.2-0.3 of it here).

    .venv/bin/python bench/review_pages.py                 # load, then measure (~5 min)
    .venv/bin/python bench/review_pages.py --reuse         # measure the loaded database again
    .venv/bin/python bench/review_pages.py --panels 500 --duration 5
    LABPANEL_BENCH_DATABASE=labpanel_bench_pages_h .venv/bin/python bench/review_pages.py \
        --port 18601 --repetitions 3             # another database and port
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR / "bench")]

# The import bench's 13 analytes and file header
from import_csv import ANALYTES, HEADER  # noqa: E402

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = os.environ.get("LABPANEL_BENCH_DATABASE", "labpanel_bench_pages")
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
PASSWORD = "labpanel-demo"  # noqa: S105 - the demo login seed_demo sets
CLINICIAN, TECHNICIAN, DIRECTOR = "dr.house", "lab.tech", "lab.director"


def environment(media: str) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "bench.bare_view_settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": "memory://",
        "LABPANEL_MEDIA_ROOT": media,
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": str(BASE_DIR),
    }


def csv_content(panels: int) -> bytes:
    """``panels`` panels of 13 results for dr.house; a fifth of them with IL-6 and TNF-α within
    their intervals only (the rest flagged), one patient each."""
    lines = [HEADER]
    for index in range(panels):
        patient = (
            f"PG-{index:06d},PG-MRN-{index:06d},Bench{index % 500},Patient {index},1970-01-01,"
            f"{'female' if index % 2 else 'male'},plasma,"
            f"2025-{1 + index % 12:02d}-{1 + index % 28:02d}T08:{index % 60:02d}:00Z,{CLINICIAN}"
        )
        analytes = ANALYTES if index % 5 else (("IL6", "1.5", "pg/mL"), ("TNFA", "5.0", "pg/mL"))
        for code, value, unit in analytes:
            if index % 5 and value[0] not in "<>":
                value = f"{Decimal(value) + Decimal(index % 97) / 10}"
            lines.append(f"{patient},{code},{value},{unit}\n")
    return "".join(lines).encode()


def load(panels: int, media: str) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    os.environ.update(environment(media))
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from panels.intake.imports.commit import import_job_commit
    from panels.intake.imports.services import import_job_commit_request, import_job_create
    from panels.intake.imports.validate import import_job_validate
    from panels.models import ImportJob, Panel
    from panels.review import panel_verify
    from reports.models import InboxEntry
    from reports.receipts import report_opened_record
    from reports.release import panel_release

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    call_command("seed_reference_data", verbosity=0)
    call_command("seed_demo", "--force-demo", verbosity=0)  # on PostgreSQL: asked for
    technician = User.objects.get(username=TECHNICIAN)
    director = User.objects.get(username=DIRECTOR)
    clinician = User.objects.get(username=CLINICIAN)
    job = import_job_create(
        user=technician, upload=SimpleUploadedFile("bench.csv", csv_content(panels), "text/csv")
    )
    import_job_validate(job_id=job.pk)
    job.refresh_from_db()
    if job.status != "preview":
        raise SystemExit(f"validation failed: {job.status_message}")
    import_job_commit_request(job=job, user=technician)
    import_job_commit(job_id=job.pk)
    assert ImportJob.objects.get(pk=job.pk).status == "committed"
    imported = time.perf_counter()
    print(f"imported {panels:,} panels in {imported - started:.1f} s")

    panel_ids = list(Panel.objects.order_by("pk").values_list("pk", flat=True))
    for count, panel_id in enumerate(panel_ids, start=1):
        panel_verify(panel_id=panel_id, user=director)
        report = panel_release(panel_id=panel_id, user=director)
        if count % 3 == 0:
            report_opened_record(report=report, user=clinician)
        if count % 2000 == 0:
            print(f"  verified and released {count:,} ({time.perf_counter() - imported:.0f} s)")
    released = time.perf_counter()
    print(
        f"verified and released {len(panel_ids):,} panels (a third opened) in "
        f"{released - imported:.1f} s"
    )
    assert InboxEntry.objects.filter(stage="final", reader=clinician).count() == len(panel_ids)
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def server_start(port: int, media: str) -> subprocess.Popen[bytes]:
    gunicorn = str(BASE_DIR / ".venv" / "bin" / "gunicorn")
    process = subprocess.Popen(
        [
            gunicorn,
            "labpanel.wsgi:application",
            "--workers",
            "1",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--chdir",
            str(BASE_DIR),
        ],
        env={**os.environ, **environment(media)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            status, _ = get(port, "/healthz", "")
            if status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def get(port: int, url: str, cookie: str) -> tuple[int, str]:
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", url, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def login(port: int, username: str) -> str:
    """The ``Cookie`` header of a session of ``username``, logged in through ``/login/``."""
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    page = response.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if csrf_cookie is None or token is None:
        raise SystemExit("no CSRF token on /login/")
    body = urllib.parse.urlencode(
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    )
    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(
        "POST",
        "/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie.group(1)}",
            "Referer": f"http://127.0.0.1:{port}/login/",
        },
    )
    response = connection.getresponse()
    response.read()
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie") or "")
    if response.status != 302 or session is None:
        raise SystemExit(f"login of {username} failed ({response.status})")
    return f"sessionid={session.group(1)}; csrftoken={csrf_cookie.group(1)}"


def rate_wrk(port: int, url: str, header: str, seconds: int) -> float:
    """Requests/s of ``wrk -t1 -c2`` sending ``header`` ("Cookie: ...", "Authorization: ...")."""
    command = ["wrk", "-t1", "-c2", f"-d{seconds}s", "-H", header]
    output = subprocess.run(
        [*command, f"http://127.0.0.1:{port}{url}"], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw errors on {url}:\n{output}")
    found = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    assert found, output
    return float(found.group(1))


def rate_python(port: int, url: str, header: str, seconds: int) -> float:
    """Requests/s from two threads, each a keep-alive connection (reopened when gunicorn's sync
    worker closes it), sending ``header``."""
    name, _, value = header.partition(": ")
    counts = [0, 0]
    stop = time.monotonic() + seconds

    def run(slot: int) -> None:
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            connection.request("GET", url, headers={name: value})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}")
            counts[slot] += 1
            if response.will_close:
                connection.close()
                connection = HTTPConnection("127.0.0.1", port, timeout=30)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def _spread(values: list[float]) -> str:
    """``median (min-max)`` of ``values``."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def measure(port: int, media: str, seconds: int, repetitions: int) -> None:
    with psycopg.connect(DSN) as connection:
        counted = connection.execute("SELECT count(*) FROM reports_inboxentry").fetchone()
        entries = counted[0] if counted else 0
        assert entries, "load the database first (run without --reuse)"
        row = connection.execute(
            "SELECT patient_mrn FROM reports_inboxentry ORDER BY id OFFSET %s LIMIT 1",
            [min(4321, entries // 2)],
        ).fetchone()
    assert row is not None
    mrn = row[0]
    print(f"{entries:,} inbox entries; searching for MRN {mrn}")
    rate = rate_wrk if shutil.which("wrk") else rate_python
    print(f"load from: {'wrk -t1 -c2' if rate is rate_wrk else 'Python, 2 threads'}")
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    server = server_start(port, media)
    try:
        clinician, technician = login(port, CLINICIAN), login(port, TECHNICIAN)
        targets = [
            ("bare view", "/bench/bare/", clinician),
            ("bare view reading the user", "/bench/bare-user/", clinician),
            ("/inbox/", "/inbox/", clinician),
            ("/inbox/?page=40", "/inbox/?page=40", clinician),
            (f"/inbox/?q={mrn}", f"/inbox/?q={mrn}", clinician),
            ("/worklist/ (lab.tech)", "/worklist/", technician),
            ("bare view reading the user, again", "/bench/bare-user/", clinician),
            ("bare view, again", "/bench/bare/", clinician),
        ]
        measured = []
        for label, url, cookie in targets:
            status, page = get(port, url, cookie)
            if status == 404 and url == "/worklist/":
                print(f"{label:<32} skipped: 404 (not built on this branch)")
                continue
            assert status == 200, f"{url} answered {status}"
            if url.startswith("/inbox/"):
                rows = page.count('<th scope="row">')
                expected = {"/inbox/": 25, "/inbox/?page=40": entries - 975}.get(url, 1)
                assert rows == max(0, min(25, expected)), f"{url}: {rows} rows"
            if url == "/worklist/" and "<tr id=" not in page:
                # every loaded panel is released: the worklist is empty here (its figure with
                # 10,000 panels awaiting is bench/worklist_pages.py's)
                label = "/worklist/ (lab.tech, empty)"
            measured.append((label, url, cookie))
        # rates[label][repetition]; every repetition measures its own yardsticks
        rates: dict[str, list[float]] = {label: [] for label, _, _ in measured}
        for repetition in range(repetitions):
            for label, url, cookie in measured:
                if repetition == 0:
                    rate(port, url, f"Cookie: {cookie}", 2)  # warm up
                rates[label].append(rate(port, url, f"Cookie: {cookie}", seconds))
        bares = [
            (first + again) / 2
            for first, again in zip(
                rates.pop("bare view"), rates.pop("bare view, again"), strict=True
            )
        ]
        users = [
            (first + again) / 2
            for first, again in zip(
                rates.pop("bare view reading the user"),
                rates.pop("bare view reading the user, again"),
                strict=True,
            )
        ]
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print(
            f"\n{repetitions} repetitions, {seconds} s per URL each; median (min-max); ratios "
            "per repetition, to the yardsticks measured in it"
        )
        print(f"{'URL':<36}{'requests/s':>22}{'x bare':>20}{'x bare+user':>20}")
        ones = [1.0] * repetitions
        print(f"{'bare view (mean of before/after)':<36}{_rates(bares):>22}{_spread(ones):>20}")
        label = "bare view reading the user (mean)"
        ratio_bare = [u / b for u, b in zip(users, bares, strict=True)]
        print(f"{label:<36}{_rates(users):>22}{_spread(ratio_bare):>20}{_spread(ones):>20}")
        for label, values in rates.items():
            to_bare = [v / b for v, b in zip(values, bares, strict=True)]
            to_user = [v / u for v, u in zip(values, users, strict=True)]
            print(f"{label:<36}{_rates(values):>22}{_spread(to_bare):>20}{_spread(to_user):>20}")
        for name in ("/inbox/", "/worklist/"):
            found = [
                values
                for label, values in rates.items()
                if label.startswith(name) and not label.endswith("empty)")
            ]
            if not found:
                continue
            slowest_to_bare = [
                min(values[r] for values in found) / bares[r] for r in range(repetitions)
            ]
            slowest_to_user = [
                min(values[r] for values in found) / users[r] for r in range(repetitions)
            ]
            median = statistics.median(slowest_to_user)
            verdict = "holds" if median >= 0.25 else "MISSED"
            print(
                f"{name} slowest URL: {_spread(slowest_to_user)}x the bare view behind the login "
                f"(target 0.25x: {verdict}); {_spread(slowest_to_bare)}x the login-less bare view"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)


def _rates(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=10_000)
    parser.add_argument("--reuse", action="store_true", help="measure the loaded database")
    parser.add_argument("--duration", type=int, default=10, help="seconds per URL")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--repetitions", type=int, default=3, help="of the whole sequence")
    args = parser.parse_args()
    media = tempfile.mkdtemp(prefix="labpanel-bench-pages-")
    try:
        if not args.reuse:
            load(args.panels, media)
        measure(args.port, media, args.duration, args.repetitions)
    finally:
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
