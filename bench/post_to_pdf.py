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
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psycopg

BASE_DIR = Path(__file__).resolve().parents[1]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench"
POLL_SECONDS = 0.005


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    return {
        "accession": f"BENCH-{uuid.uuid4().hex[:10]}",
        "patient": {
            "mrn": f"BENCH-MRN-{index}",
            "family_name": "Bench",
            "given_name": f"Patient {index}",
            "birth_date": "1970-01-01",
            "sex": "female",
        },
        "specimen": {"type": "plasma", "collected_at": "2026-11-20T08:30:00Z"},
        "ordering_clinician": "dr.house",
        "results": [
            {"analyte": code, "value": value, "unit": "pg/mL"}
            for code, value in (
                ("SIL2R", "900"),
                ("IL12P70", "3.1"),
                ("IFNG", "25.0"),
                ("IL4", "<1.0"),
                ("IL5", "1.9"),
                ("IL10", "12.7"),
                ("IL13", "2.2"),
                ("IL1B", "7.4"),
                ("IL6", "148.2"),
                ("IL8", "30.5"),
                ("TNFA", "16.1"),
                ("IL2", "2.0"),
                ("IL17A", ">500"),
            )
        ],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    arguments = parser.parse_args()

    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    port = _free_port()
    var_dir = tempfile.mkdtemp(prefix="labpanel-bench-")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "CELERY_", "LABPANEL_"))
    }
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
        CELERY_TASK_DEFAULT_QUEUE=f"labpanel-bench-{uuid.uuid4().hex[:8]}",
        LABPANEL_VAR_DIR=var_dir,
        LABPANEL_LOG_LEVEL="WARNING",
        PORT=str(port),
    )
    log_path = Path(var_dir) / "launcher.log"
    with log_path.open("w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "labpanel.launcher"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Labpanel is running at" not in log_path.read_text():
            if launcher.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text())
                return 1
            time.sleep(0.2)
        token = subprocess.run(
            [sys.executable, "manage.py", "issue_api_token", "lab.tech", "--role", "technician"],
            cwd=BASE_DIR,
            env={**env, "DJANGO_SECRET_KEY_FILE": f"{var_dir}/secret_key"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
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
    finally:
        os.killpg(launcher.pid, signal.SIGTERM)
        launcher.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
