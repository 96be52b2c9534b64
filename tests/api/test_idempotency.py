"""``Idempotency-Key`` on POSTs (``labpanel.idempotency``): a retry with the same key gets the
first answer without the work being done again; the same key with another body is refused
(422); a retry while the first is still being answered is refused (409). Panel submission
(POST /api/v1/panels/) on the real database."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from labpanel.accounts.models import StaffMember
from labpanel.audit.models import ReadEntry
from labpanel.idempotency.models import IdempotencyKey
from labpanel.idempotency.services import idempotency_claim, idempotency_keys_expire
from labpanel.idempotency.views import request_fingerprint
from panels.models import Panel

pytestmark = pytest.mark.django_db


def _post(client: APIClient, payload: dict[str, Any], key: str | None) -> Any:
    headers: Any = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/v1/panels/", payload, format="json", **headers)


def test_a_retry_gets_the_first_answer_and_one_panel_exists(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())

    first = _post(technician_client, panel_payload, key)
    retry = _post(technician_client, panel_payload, key)

    assert first.status_code == 201
    assert retry.status_code == 201  # the first answer's status, not the re-send's 200
    assert retry.json() == first.json()
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Panel.objects.count() == 1
    row = IdempotencyKey.objects.get(key=key)
    assert (row.status_code, row.path) == (201, "/api/v1/panels/")


def test_the_replayed_answer_is_a_read_in_the_audit(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())
    first = _post(technician_client, panel_payload, key)
    entries = ReadEntry.objects.count()

    _post(technician_client, panel_payload, key)

    assert ReadEntry.objects.count() == entries + 1
    latest = ReadEntry.objects.latest("pk")
    assert latest.panel_ids == [first.json()["id"]]


def test_the_same_key_with_another_body_is_refused_422(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())
    assert _post(technician_client, panel_payload, key).status_code == 201
    other = copy.deepcopy(panel_payload)
    other["accession"] = "A-2002"

    refused = _post(technician_client, other, key)

    assert refused.status_code == 422
    assert refused.json()["code"] == "idempotency_key_reused"
    assert Panel.objects.count() == 1


def test_a_retry_while_the_first_is_in_flight_is_refused_409(
    technician: StaffMember, technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    """The first request has claimed the key and not answered yet (its claim is committed,
    its work not): the duplicate does nothing and says so."""
    key = str(uuid.uuid4())
    credentials: dict[str, str] = vars(technician_client)["_credentials"]
    token = credentials["HTTP_AUTHORIZATION"].removeprefix("Token ")
    digest = AuthToken.objects.get(token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH]).digest
    the_same = Request(APIRequestFactory().post("/api/v1/panels/", panel_payload, format="json"))
    idempotency_claim(
        owner=f"token:{digest}",
        key=key,
        path="/api/v1/panels/",
        fingerprint=request_fingerprint(the_same),
    )

    refused = _post(technician_client, panel_payload, key)

    assert refused.status_code == 409
    assert refused.json()["code"] == "idempotency_key_in_flight"
    assert Panel.objects.count() == 0
    # the claim stays the first request's
    assert IdempotencyKey.objects.get(key=key).completed_at is None


def test_a_failed_first_request_stores_nothing_and_the_retry_does_the_work(
    technician_client: APIClient, panel_payload: dict[str, Any], clinician: StaffMember
) -> None:
    key = str(uuid.uuid4())
    broken = copy.deepcopy(panel_payload)
    broken["ordering_clinician"] = "nobody.here"

    assert _post(technician_client, broken, key).status_code == 400
    assert not IdempotencyKey.objects.filter(key=key).exists()
    assert _post(technician_client, panel_payload, key).status_code == 201
    assert Panel.objects.count() == 1


def test_keys_are_per_token(
    technician: StaffMember, technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    """Another token's same key is another key (its retry is the ordinary re-send: 200)."""
    from tests.conftest import token_client

    key = str(uuid.uuid4())
    assert _post(technician_client, panel_payload, key).status_code == 201
    again = _post(token_client(technician), panel_payload, key)
    assert again.status_code == 200
    assert "Idempotent-Replayed" not in again.headers
    assert IdempotencyKey.objects.filter(key=key).count() == 2


def test_without_a_key_nothing_is_stored(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    assert _post(technician_client, panel_payload, None).status_code == 201
    assert not IdempotencyKey.objects.exists()


def test_a_key_that_is_not_printable_ascii_is_refused(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    refused = _post(technician_client, panel_payload, "x" * 256)
    assert refused.status_code == 400
    assert Panel.objects.count() == 0


def test_keys_expire_after_a_day(
    technician_client: APIClient, panel_payload: dict[str, Any]
) -> None:
    key = str(uuid.uuid4())
    first = _post(technician_client, panel_payload, key)
    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=25))

    retry = _post(technician_client, panel_payload, key)  # past a day: a new request

    assert retry.status_code == 200  # the ordinary identical re-send
    assert retry.json()["id"] == first.json()["id"]
    IdempotencyKey.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=25))
    assert idempotency_keys_expire() == 1
    assert not IdempotencyKey.objects.exists()
