"""Time from POST /api/v1/panels/ to a ready PDF, on the real stack, N panels in a row.

Starts the service the way `make run` does (launcher: gunicorn + one Celery worker process) on
a fresh PostgreSQL database and the local Redis, with a queue of its own, then posts N panels
one after another and polls each report until it is ready. Prints min / median / p90 / max.

    .venv/bin/python bench/post_to_pdf.py            # 20 panels
    .venv/bin/python bench/post_to_pdf.py --count 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg
from bench_panel import bench_panel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.launcher import (
    free_port,
    launcher_running,
    new_user_environment,
    technician_token,
)

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench"
POLL_SECONDS = 0.005


def _call(method: str, url: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Token {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
        return (
            json.loads(payload)
            if response.headers["Content-Type"] == "application/json"
            else payload
        )


def _panel(index: int) -> dict[str, Any]:
    return bench_panel(
        accession=f"BENCH-{uuid.uuid4().hex[:10]}",
        mrn=f"BENCH-MRN-{index}",
        given_name=f"Patient {index}",
        sex="female",
        clinician="dr.house",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    arguments = parser.parse_args()

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    port = free_port()
    var_dir = tempfile.mkdtemp(prefix="labpanel-bench-")
    env = new_user_environment(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CELERY_TASK_DEFAULT_QUEUE=f"labpanel-bench-{uuid.uuid4().hex[:8]}",
        LABPANEL_VAR_DIR=var_dir,
        LABPANEL_LOG_LEVEL="WARNING",
        LABPANEL_DEMO="true",  # the demo accounts on PostgreSQL: asked for
        PORT=str(port),
    )
    with launcher_running(Path(var_dir) / "launcher.log", env):
        token = technician_token({**env, "DJANGO_SECRET_KEY_FILE": f"{var_dir}/secret_key"})
        base = f"http://127.0.0.1:{port}"
        _call("POST", f"{base}/api/v1/panels/", token, _panel(-1))  # warm-up, not counted
        timings = []
        for index in range(arguments.count):
            started = time.perf_counter()
            panel = _call("POST", f"{base}/api/v1/panels/", token, _panel(index))
            posted = time.perf_counter()
            while True:
                report = _call("GET", panel["report"]["url"], token)
                if report["status"] in ("ready", "failed"):
                    break
                time.sleep(POLL_SECONDS)
            assert report["status"] == "ready", report
            pdf = _call("GET", report["pdf_url"], token)
            assert pdf.startswith(b"%PDF-")
            timings.append((posted - started, time.perf_counter() - started))
        post_ms = sorted(t[0] * 1000 for t in timings)
        total_ms = sorted(t[1] * 1000 for t in timings)
        p90 = total_ms[max(0, round(0.9 * len(total_ms)) - 1)]
        print(f"panels: {len(timings)} (13 results each), PostgreSQL + Redis + 1 worker process")
        print(f"POST alone       median {statistics.median(post_ms):7.1f} ms")
        print(
            f"POST -> PDF      min {total_ms[0]:7.1f}  median {statistics.median(total_ms):7.1f}"
            f"  p90 {p90:7.1f}  max {total_ms[-1]:7.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
