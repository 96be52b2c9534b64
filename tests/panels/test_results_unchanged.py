"""A stored result is a record (panels migration 0024): the database refuses any change of it
and any delete, whoever asks, but writing once who replaced it and when (an amendment). The
amendment path itself still works, and what it writes is that and nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from panels.models import Panel, Result
from reports.services import report_render
from tests.embedded import embedded_probe

pytestmark = pytest.mark.django_db


def _refused(sql: str, params: list[Any]) -> None:
    with (
        pytest.raises(IntegrityError, match="is a record"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's trigger")
def test_postgresql_keeps_every_result_as_stored(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    panel = Panel.objects.get(pk=response.json()["id"])
    report_render(report_id=panel.reports.get().pk)
    il6 = Result.objects.get(panel=panel, analyte__code="IL6")

    _refused("UPDATE panels_result SET value = 99, raw_value = '99' WHERE id = %s", [il6.pk])
    _refused("UPDATE panels_result SET interpretation = 'N' WHERE id = %s", [il6.pk])
    _refused("DELETE FROM panels_result WHERE id = %s", [il6.pk])

    # an amendment replaces it: its superseding is written, once, and nothing else
    amended = technician_client.post(
        f"/api/v1/panels/{panel.pk}/amendments/",
        {
            "reason": "Transcription error",
            "results": [{"analyte": "IL-6", "value": "1.9", "unit": "pg/mL"}],
        },
        format="json",
    )
    assert amended.status_code == 201, amended.json()
    replaced = Result.objects.get(pk=il6.pk)
    assert replaced.superseded_by_id is not None
    assert (replaced.raw_value, replaced.value) == (il6.raw_value, il6.value)
    _refused("UPDATE panels_result SET superseded_by_id = NULL WHERE id = %s", [il6.pk])


PROBE = """
import json
import django
django.setup()
from django.core.management import call_command
from django.db import connection
from panels.models import Result

call_command("migrate", "panels", verbosity=0)
values = {}
for field in Result._meta.concrete_fields:
    if field.null:
        values[field.column] = None
    elif field.is_relation:
        values[field.column] = 1
    elif field.get_internal_type() in ("DecimalField", "PositiveSmallIntegerField", "BigAutoField"):
        values[field.column] = 1
    elif field.get_internal_type() == "DateTimeField":
        values[field.column] = "2026-12-08 00:00:00"
    elif field.get_internal_type() == "BooleanField":
        values[field.column] = 0
    elif field.get_internal_type() == "JSONField":
        values[field.column] = "[]"
    else:
        values[field.column] = ""
columns = ", ".join(f'"{name}"' for name in values)
marks = ", ".join("%s" for _ in values)
outcome = {}
with connection.cursor() as cursor:
    cursor.execute("PRAGMA foreign_keys = OFF")
    cursor.execute(f"INSERT INTO panels_result ({columns}) VALUES ({marks})", list(values.values()))
    for name, sql in (
        ("value", "UPDATE panels_result SET value = 99 WHERE id = 1"),
        ("same", "UPDATE panels_result SET value = value WHERE id = 1"),
        ("superseding", "UPDATE panels_result SET superseded_by_id = 7,"
            " superseded_at = '2026-12-08 01:00:00' WHERE id = 1"),
        ("again", "UPDATE panels_result SET superseded_by_id = 8 WHERE id = 1"),
        ("delete", "DELETE FROM panels_result WHERE id = 1"),
    ):
        try:
            cursor.execute(sql)
            outcome[name] = None
        except Exception as error:
            outcome[name] = str(error)
print(json.dumps({"vendor": connection.vendor, "outcome": outcome}))
"""


def test_the_embedded_database_keeps_every_result_as_stored(tmp_path: Path) -> None:
    found = embedded_probe(PROBE, tmp_path)

    assert found == {
        "vendor": "sqlite",
        "outcome": {
            "value": "a result is a record: only its superseding is written, once",
            "same": None,  # nothing changed
            "superseding": None,
            "again": "a result is a record: only its superseding is written, once",
            "delete": "a result is a record: never deleted",
        },
    }
