"""Shared fixtures of the reports tests."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from reports.models import Report


@pytest.fixture
def report(technician_client: APIClient, panel_payload: dict[str, Any]) -> Report:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201
    return Report.objects.get(pk=response.json()["report"]["id"])
