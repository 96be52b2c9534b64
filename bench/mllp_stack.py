"""MLLP on the real stack: `manage.py mllp_listener` on a fresh PostgreSQL database, Redis as the
broker (a throwaway queue), then `bench/mllp_client.py` sends N ORU messages over one
connection and reports messages/s and ACK latency. Each ACK is an AA sent after the commit.

    .venv/bin/python bench/mllp_stack.py            # 1000 messages
    .venv/bin/python bench/mllp_stack.py -n 200
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.launcher import free_port, port_wait

BASE_DIR = Path(__file__).resolve().parents[1]
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "labpanel_bench_mllp"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--count", type=int, default=1000)
    args = parser.parse_args()
    with psycopg.connect(ADMIN_DSN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    queue = f"labpanel-bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "labpanel.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_DEBUG": "false",
    }
    python = sys.executable
    setup = (
        "from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "call_command('seed_reference_data', verbosity=0);"
        "from labpanel.accounts.models import Role;"
        "from tests.factories import make_lab, make_staff;"
        "lab = make_lab(name='Bench Lab');"
        "make_staff(username='interface.engine', lab=lab, role=Role.INTEGRATOR);"
        "make_staff(username='dr.bench', lab=lab, role=Role.CLINICIAN)"
    )
    subprocess.run(
        [python, "-c", f"import django; django.setup(); {setup}"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    port = free_port()
    listener = subprocess.Popen(
        [python, "manage.py", "mllp_listener", "--port", str(port), "--user", "interface.engine"],
        cwd=BASE_DIR,
        env=env,
    )
    try:
        port_wait(port, listener, timeout=60)
        return subprocess.run(
            [python, "bench/mllp_client.py", "--port", str(port), "-n", str(args.count)],
            cwd=BASE_DIR,
            check=False,
        ).returncode
    finally:
        listener.terminate()
        listener.wait(timeout=20)
        redis.Redis.from_url("redis://127.0.0.1:6379/0").delete(queue)


if __name__ == "__main__":
    raise SystemExit(main())
