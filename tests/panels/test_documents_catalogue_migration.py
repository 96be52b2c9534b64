"""Migrating to documents that name the analyte catalogue (panels 0021) trusts only what it can:
a document written after the catalogue's last change is given that time and stays served; one
written before is left unknown, not served until ``panel_documents_write --missing``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from panels import documents
from panels.models import Panel, PanelDocument
from reference_ranges.models import Analyte
from tests.fhir.conftest import submit

BEFORE = [("panels", "0020_panel_documents_json_text")]


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    yield executor
    # whatever happened, the database is left fully migrated for the tests that follow
    MigrationExecutor(connection).migrate(leaves)


@pytest.mark.django_db(transaction=True)
def test_documents_written_before_the_catalogues_last_change_are_not_trusted(
    technician_client: APIClient, panel_payload: dict[str, Any], executor: MigrationExecutor
) -> None:
    recent = submit(technician_client, panel_payload, "MIG-1")
    older = submit(technician_client, panel_payload, "MIG-2")
    latest = Analyte.objects.order_by("-updated_at").values_list("updated_at", flat=True)[0]
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    with connection.cursor() as cursor:
        # one document written before the catalogue last changed, one after
        cursor.execute(
            "UPDATE panels_paneldocument SET written_at = %s WHERE panel_id = %s",
            [latest - timedelta(seconds=1), older.pk],
        )
        cursor.execute(
            "UPDATE panels_paneldocument SET written_at = %s WHERE panel_id = %s",
            [latest + timedelta(seconds=1), recent.pk],
        )
    MigrationExecutor(connection).migrate(leaves)

    stamps = dict(PanelDocument.objects.values_list("panel_id", "catalogue_updated_at"))
    assert stamps == {recent.pk: latest, older.pk: None}
    unserved = set(documents.panels_without_documents().values_list("pk", flat=True))
    assert unserved == {older.pk}
    assert Panel.objects.count() == 2
