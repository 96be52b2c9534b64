"""The embedded SQLite default is configured for several processes on one file (issue 9).

Runs in a subprocess with the production settings and no DATABASE_URL, as `make run` does:
the file is in WAL mode, every atomic block holds the write lock from its start (so a writer
waits at BEGIN instead of failing half-way with "database is locked"), and connections wait
for a busy lock. The load itself is exercised by tests/e2e/test_embedded_load.py.
"""

from __future__ import annotations

from pathlib import Path

from tests.embedded import embedded_probe

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
    assert embedded_probe(PROBE, tmp_path) == {
        "vendor": "sqlite",
        "journal": "wal",
        "synchronous": 1,  # NORMAL
        "busy_timeout_ms": 20000,
        "readable_during_write": True,
        "atomic_holds_write_lock": True,
    }
