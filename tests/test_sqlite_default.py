"""The embedded SQLite default is configured for several processes on one file (issue 9).

Runs in a subprocess with the production settings and no DATABASE_URL, as `make run` does:
the file is in WAL mode, every atomic block holds the write lock from its start (so a writer
waits at BEGIN instead of failing half-way with "database is locked"), and connections wait
for a busy lock. The load itself is exercised by tests/e2e/test_embedded_load.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]

PROBE = """
import json, sqlite3
import django
django.setup()
from django.conf import settings
from django.db import connection, transaction

with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
    journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
    synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]
    busy = cursor.execute("PRAGMA busy_timeout").fetchone()[0]
other = sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=0, isolation_level=None)
with transaction.atomic():
    # Nothing written yet: another connection may still read, but not take the write lock.
    readable = other.execute("SELECT count(*) FROM probe").fetchone()[0] == 0
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        blocked = False
    except sqlite3.OperationalError as error:
        blocked = "locked" in str(error)
print(json.dumps({
    "vendor": connection.vendor,
    "journal": journal,
    "synchronous": synchronous,
    "busy_timeout_ms": busy,
    "readable_during_write": readable,
    "atomic_holds_write_lock": blocked,
}))
"""


def test_the_embedded_database_lets_processes_wait_for_the_write_lock(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="labpanel.settings",
        DJANGO_SECRET_KEY="probe-only",
        LABPANEL_VAR_DIR=str(tmp_path),
    )
    output = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(output.splitlines()[-1]) == {
        "vendor": "sqlite",
        "journal": "wal",
        "synchronous": 1,  # NORMAL
        "busy_timeout_ms": 20000,
        "readable_during_write": True,
        "atomic_holds_write_lock": True,
    }
