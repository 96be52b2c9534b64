"""On the embedded SQLite default too, a ready report's row is never updated or deleted
(reports migration 0012's triggers; PostgreSQL's: tests/reports/test_dispatch_and_retry.py).

Runs in a subprocess with the production settings and no DATABASE_URL, as `make run` does:
the reports migrations are applied to a new file, one ready report row is written with
foreign keys off (its panel and lab do not matter here), and an UPDATE and a DELETE of it are
refused while a pending report's row still changes."""

from __future__ import annotations

from pathlib import Path

from tests.embedded import embedded_probe

PROBE = """
import json, sqlite3
import django
django.setup()
from django.core.management import call_command
from django.db import connection

call_command("migrate", "reports", verbosity=0)
row = (
    "INSERT INTO reports_report (id, created_at, updated_at, uuid, status, attempts,"
    " error_message, pdf, checksum, ruleset_version, panel_id, lab_id, amendment_reason,"
    " corrections, stage, failure_kind, auto_retries) VALUES (%s, '2026-12-08', '2026-12-08',"
    " %s, %s, 1, '', 'reports/a.pdf', 'abc', '2026.1', %s, 1, '', '[]', 'preliminary', '', 0)"
)
refused = {}
with connection.cursor() as cursor:
    cursor.execute("PRAGMA foreign_keys = OFF")
    cursor.execute(row, [1, "a" * 32, "ready", 1])
    cursor.execute(row, [2, "b" * 32, "pending", 2])
    for name, sql in (
        ("update", "UPDATE reports_report SET checksum = 'other' WHERE id = 1"),
        ("delete", "DELETE FROM reports_report WHERE id = 1"),
        ("pending", "UPDATE reports_report SET attempts = 2 WHERE id = 2"),
    ):
        try:
            cursor.execute(sql)
            refused[name] = None
        except Exception as error:
            refused[name] = str(error)
    cursor.execute("SELECT checksum FROM reports_report WHERE id = 1")
    checksum = cursor.fetchone()[0]
print(json.dumps({"vendor": connection.vendor, "refused": refused, "checksum": checksum}))
"""


def test_the_embedded_database_refuses_changing_a_ready_report(tmp_path: Path) -> None:
    found = embedded_probe(PROBE, tmp_path)

    assert found["vendor"] == "sqlite"
    assert found["refused"] == {
        "update": "a ready report (issued) is never updated",
        "delete": "a ready report (issued) is never deleted",
        "pending": None,
    }
    assert found["checksum"] == "abc"
