"""The review history is append-only in PostgreSQL itself: a trigger refuses raw SQL that changes
or deletes a ``ReviewTransition`` row (the model and its queryset refuse through the ORM), as the
event record's trigger does."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.events.models import AppendOnlyError
from panels.models import Panel, ReviewTransition
from tests.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def verified(
    technician_client: APIClient, director: StaffMember, panel_payload: dict[str, Any]
) -> ReviewTransition:
    response = technician_client.post("/api/v1/panels/", panel_payload, format="json")
    assert response.status_code == 201, response.json()
    panel = Panel.objects.get(pk=response.json()["id"])
    assert token_client(director).post(f"/api/v1/panels/{panel.pk}/verify/").status_code == 200
    return ReviewTransition.objects.get(panel=panel)


@pytest.mark.parametrize(
    ("_case", "sql"),
    [
        ("reason", "UPDATE panels_reviewtransition SET reason = 'rewritten' WHERE id = %s"),
        ("state", "UPDATE panels_reviewtransition SET to_state = 'released' WHERE id = %s"),
        ("delete", "DELETE FROM panels_reviewtransition WHERE id = %s"),
    ],
)  # fmt: skip
def test_postgresql_refuses_raw_sql_that_changes_or_deletes_a_review_transition(
    verified: ReviewTransition, _case: str, sql: str
) -> None:
    assert connection.vendor == "postgresql"

    def raw() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [verified.pk])

    with pytest.raises(IntegrityError, match="panels_reviewtransition is append-only"):
        raw()

    stored = ReviewTransition.objects.get(pk=verified.pk)
    assert (stored.from_state, stored.to_state, stored.reason) == (
        verified.from_state,
        "verified",
        verified.reason,
    )


def test_the_orm_refuses_too(verified: ReviewTransition) -> None:
    with pytest.raises(AppendOnlyError):
        ReviewTransition.objects.filter(pk=verified.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        ReviewTransition.objects.filter(pk=verified.pk).delete()

    assert ReviewTransition.objects.get(pk=verified.pk).reason == verified.reason


def test_new_transitions_are_still_written(
    verified: ReviewTransition, director: StaffMember
) -> None:
    response = token_client(director).post(f"/api/v1/panels/{verified.panel_id}/release/")

    assert response.status_code == 202, response.json()
    assert list(
        ReviewTransition.objects.filter(panel_id=verified.panel_id).values_list(
            "from_state", "to_state"
        )
    ) == [("received", "verified"), ("verified", "released")]
