"""The read audit's cost: ``GET /api/v1/panels/<id>/`` with a token (which writes one
``audit_readentry`` row) beside the same read without the entry (``/bench/unaudited/panels/<id>/``,
``bench/read_audit_urls.py``: the same view class minus its ``read_record`` call), on gunicorn
(one sync worker) with the real settings, in the same run.

Load: a fresh PostgreSQL database ``labpanel_bench_read_audit``, the reference data and the demo
lab (``seed_demo``), ``--panels`` panels of 13 results for one patient (the read panel shows the
others as its serial results), through the API's submission path in-process, and
``--entries`` rows already in the audit table (so the insert pays for a table and GIN index of
a realistic size).

Measure: ``wrk -t1 -c2`` (else two Python threads with keep-alive connections) loads each URL
for ``--duration`` seconds, audited and unaudited alternating, ``--rounds`` rounds (the order
flips each round); each round gives the ratio audited / unaudited, and the median ratio is the
result. Target: at least 0.9x.

    .venv/bin/python bench/read_audit.py
    .venv/bin/python bench/read_audit.py --rounds 5 --duration 5 --entries 10000
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
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(BASE_DIR / "bench"), str(BASE_DIR)]

from demo_database import demo_database_create  # noqa: E402
from demo_database import environment as demo_environment  # noqa: E402
from import_csv import ANALYTES  # noqa: E402
from review_pages import get, rate_python, rate_wrk  # noqa: E402

DATABASE = "labpanel_bench_read_audit"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"


def environment(media: str) -> dict[str, str]:
    return demo_environment(settings="bench.read_audit_settings", database=DATABASE, media=media)


def load(panels: int, entries: int, media: str) -> tuple[int, str]:
    """Load the database; the id of the panel read and a token of lab.tech."""
    token = demo_database_create(
        settings="bench.read_audit_settings", database=DATABASE, media=media
    )
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    panel_id = 0
    for index in range(panels):
        response = client.post(
            "/api/v1/panels/",
            {
                "accession": f"RA-{index:05d}",
                "patient": {
                    "mrn": "RA-MRN-1",
                    "family_name": "Bench",
                    "given_name": "Reader",
                    "birth_date": "1970-01-01",
                    "sex": "female",
                },
                "specimen": {
                    "type": "plasma",
                    "collected_at": f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}T08:30:00Z",
                },
                "ordering_clinician": "dr.house",
                "results": [
                    {"analyte": code, "value": value, "unit": unit}
                    for code, value, unit in ANALYTES
                ],
            },
            content_type="application/json",
        )
        if response.status_code != 201:
            raise SystemExit(f"panel {index} answered {response.status_code}: {response.content!r}")
        panel_id = response.json()["id"]
    with psycopg.connect(DSN, autocommit=True) as connection:
        connection.execute(
            """
            INSERT INTO audit_readentry (occurred_at, lab_id, user_id, token_id, channel, view,
                path, ip, user_agent, patient_ids, panel_ids, report_ids, import_job_id)
            SELECT now() - make_interval(secs => n), 1, 1 + n %% 7, '', 'session',
                'api:panel-detail', '/api/v1/panels/' || n || '/', '10.0.0.1', 'bench',
                jsonb_build_array(n %% 5000), jsonb_build_array(n), '[]'::jsonb, NULL
            FROM generate_series(1, %s) AS n
            """,
            [entries],
        )
        connection.execute("VACUUM ANALYZE")
    return panel_id, token


def server_start(port: int, media: str) -> subprocess.Popen[bytes]:
    gunicorn = str(BASE_DIR / ".venv" / "bin" / "gunicorn")
    command = [gunicorn, "labpanel.wsgi:application", "--workers", "1", "--worker-class", "sync"]
    process = subprocess.Popen(
        [*command, "--bind", f"127.0.0.1:{port}", "--chdir", str(BASE_DIR)],
        env={**os.environ, **environment(media)},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz", "")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 30 s")


def entries_count() -> int:
    with psycopg.connect(DSN) as connection:
        row = connection.execute("SELECT count(*) FROM audit_readentry").fetchone()
    return int(row[0]) if row else 0


def measure(port: int, media: str, panel_id: int, token: str, args: argparse.Namespace) -> None:
    audited, unaudited = f"/api/v1/panels/{panel_id}/", f"/bench/unaudited/panels/{panel_id}/"
    server = server_start(port, media)
    use_wrk = shutil.which("wrk") is not None
    print(f"load from: {'wrk -t1 -c2' if use_wrk else 'Python, 2 threads'}")

    def rate(url: str, seconds: int) -> float:
        header = f"Authorization: Token {token}"
        if use_wrk:
            return rate_wrk(port, url, header, seconds)
        return rate_python(port, url, header, seconds)

    try:
        for url in (audited, unaudited):
            before = entries_count()
            status, body = get_with_token(port, url, token)
            assert status == 200, f"{url} answered {status}"
            assert f'"id":{panel_id}' in body.replace(" ", "")
            written = entries_count() - before
            assert written == (1 if url == audited else 0), f"{url} wrote {written} entries"
        for url in (audited, unaudited):
            rate(url, 2)  # warm up
        ratios: list[float] = []
        print(f"\n{'round':<7}{'audited/s':>11}{'unaudited/s':>13}{'ratio':>8}")
        for number in range(1, args.rounds + 1):
            order = (audited, unaudited) if number % 2 else (unaudited, audited)
            rates = {url: rate(url, args.duration) for url in order}
            ratio = rates[audited] / rates[unaudited]
            ratios.append(ratio)
            print(f"{number:<7}{rates[audited]:>11,.0f}{rates[unaudited]:>13,.0f}{ratio:>8.3f}")
        median = statistics.median(ratios)
        verdict = "holds" if median >= 0.9 else "MISSED"
        print(
            f"\nmedian ratio audited/unaudited: {median:.3f} (target 0.9x: {verdict}); "
            f"range {min(ratios):.3f}-{max(ratios):.3f}; "
            f"audit table now {entries_count():,} rows"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def get_with_token(port: int, url: str, token: str) -> tuple[int, str]:
    from http.client import HTTPConnection

    connection = HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", url, headers={"Authorization": f"Token {token}"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panels", type=int, default=6, help="panels of the one patient")
    parser.add_argument("--entries", type=int, default=200_000, help="audit rows loaded first")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--duration", type=int, default=8, help="seconds per URL and round")
    parser.add_argument("--port", type=int, default=8098)
    args = parser.parse_args()
    media = tempfile.mkdtemp(prefix="labpanel-bench-read-audit-")
    try:
        panel_id, token = load(args.panels, args.entries, media)
        measure(args.port, media, panel_id, token, args)
    finally:
        shutil.rmtree(media, ignore_errors=True)


if __name__ == "__main__":
    main()
