"""API rate limits (``labpanel.throttling``): one bucket per token, per user for sessions, in
the shared Redis cache; over the rate a request is answered 429 with Retry-After; an
unreachable cache lets requests through. Time is held still (time-machine), the rate tiny."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from rest_framework.test import APIClient

from labpanel.accounts.models import StaffMember
from labpanel.accounts.services import api_token_issue

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _token_client(staff: StaffMember) -> APIClient:
    client = APIClient()
    token = api_token_issue(user=staff.user, expires_in=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@override_settings(LABPANEL_API_RATE="2/min")
def test_a_token_over_its_rate_is_answered_429_with_retry_after(
    reference_data: None, technician: StaffMember
) -> None:
    client = _token_client(technician)
    with time_machine.travel(START, tick=False) as clock:
        assert client.get("/api/v1/panels/").status_code == 200
        clock.shift(timedelta(seconds=20))
        assert client.get("/api/v1/panels/").status_code == 200
        clock.shift(timedelta(seconds=10))

        refused = client.get("/api/v1/panels/")

        assert refused.status_code == 429
        # the first of the two requests leaves the minute 30 s from now
        assert refused.headers["Retry-After"] == "30"
        assert refused.json()["code"] == "throttled"

        clock.shift(timedelta(seconds=31))
        assert client.get("/api/v1/panels/").status_code == 200


@override_settings(LABPANEL_API_RATE="1/min")
def test_each_token_has_its_own_bucket(reference_data: None, technician: StaffMember) -> None:
    first, second = _token_client(technician), _token_client(technician)
    with time_machine.travel(START, tick=False):
        assert first.get("/api/v1/panels/").status_code == 200
        assert first.get("/api/v1/panels/").status_code == 429
        assert second.get("/api/v1/panels/").status_code == 200


@override_settings(LABPANEL_API_RATE="1/min")
def test_a_session_is_limited_by_its_user(director_browser: Client) -> None:
    with time_machine.travel(START, tick=False):
        assert director_browser.get("/api/v1/panels/").status_code == 200
        refused = director_browser.get("/api/v1/panels/")
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "60"


@override_settings(LABPANEL_API_RATE="1/min")
def test_the_pages_outside_the_api_are_not_limited(director_browser: Client) -> None:
    with time_machine.travel(START, tick=False):
        assert director_browser.get("/api/v1/panels/").status_code == 200
        assert director_browser.get("/worklist/").status_code == 200


def test_the_suite_runs_without_limits(reference_data: None, technician: StaffMember) -> None:
    client = _token_client(technician)
    assert all(client.get("/api/v1/panels/").status_code == 200 for _ in range(5))


@override_settings(
    LABPANEL_API_RATE="1/min",
    CACHES={
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        },
    },
)
def test_an_unreachable_cache_lets_requests_through(
    reference_data: None, technician: StaffMember
) -> None:
    client = _token_client(technician)
    assert client.get("/api/v1/panels/").status_code == 200
    assert client.get("/api/v1/panels/").status_code == 200


@override_settings(LABPANEL_API_RATE="2/min")
def test_on_redis_a_bucket_is_a_sorted_set_of_the_requests_let_through(
    reference_data: None, technician: StaffMember
) -> None:
    """One round trip per request: the bucket holds the times of the requests let through in
    the window (a refused one is not counted) and expires with it."""
    from django.core.cache import caches

    from labpanel.cache import RedisCache

    shared = caches["shared"]
    assert isinstance(shared, RedisCache)
    client = _token_client(technician)
    redis = shared.raw_client()
    before = set(redis.keys(f"{shared.key_prefix}*"))
    with time_machine.travel(START, tick=False) as clock:
        assert client.get("/api/v1/panels/").status_code == 200
        (key,) = set(redis.keys(f"{shared.key_prefix}*")) - before
        assert b"throttle_api_token:" in key
        assert redis.type(key) == b"zset"
        clock.shift(timedelta(seconds=1))
        assert client.get("/api/v1/panels/").status_code == 200
        assert client.get("/api/v1/panels/").status_code == 429
        assert redis.zcard(key) == 2  # the refused request is not recorded
        assert [score for _, score in redis.zrange(key, 0, -1, withscores=True)] == [
            START.timestamp(),
            START.timestamp() + 1,
        ]
        assert 0 < redis.ttl(key) <= 61
        clock.shift(timedelta(seconds=59.5))  # 60.5 s after the first: it left the window
        assert client.get("/api/v1/panels/").status_code == 200
        assert redis.zcard(key) == 2


def _bucket(token: str) -> tuple[Any, str]:
    """The shared Redis client and the stored key of ``token``'s bucket."""
    from django.core.cache import caches
    from knox.crypto import hash_token

    from labpanel.cache import RedisCache
    from labpanel.throttling import TokenRateThrottle

    shared = caches["shared"]
    assert isinstance(shared, RedisCache)
    key = TokenRateThrottle().bucket_key(f"token:{hash_token(token)}")
    return shared.raw_client(), shared.make_and_validate_key(key)


def _connections_in_use() -> int:
    from django.core.cache import caches

    return len(caches["shared"].raw_client().connection_pool._in_use_connections)  # type: ignore[attr-defined]


@override_settings(LABPANEL_API_RATE="2/min")
def test_a_token_request_is_counted_while_its_token_is_read(
    reference_data: None, technician: StaffMember, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The count is sent to Redis before the token's statement and its reply read after it:
    one wait for both. The request is counted once."""
    from django.db import connection

    from labpanel import throttling

    token = api_token_issue(user=technician.user, expires_in=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    happened: list[str] = []
    count_class = throttling._Count
    send, read = count_class.send.__func__, count_class.read  # type: ignore[attr-defined]

    def sent(cls: Any, *args: Any) -> Any:
        happened.append("count sent")
        return send(cls, *args)

    def replied(self: Any) -> Any:
        if self.reply is None:
            happened.append("count read")
        return read(self)

    def statement(execute: Any, sql: str, *args: Any) -> Any:
        if "knox_authtoken" in sql and happened[-1:] != ["token read"]:
            happened.append("token read")
        return execute(sql, *args)

    monkeypatch.setattr(count_class, "send", classmethod(sent))
    monkeypatch.setattr(count_class, "read", replied)
    redis, key = _bucket(token)
    with time_machine.travel(START, tick=False), connection.execute_wrapper(statement):
        assert client.get("/api/v1/panels/").status_code == 200

    assert happened == ["count sent", "token read", "count read"]
    assert redis.zcard(key) == 1
    assert _connections_in_use() == 0


@override_settings(LABPANEL_API_RATE="1/min")
def test_a_request_the_throttle_never_judges_is_not_counted(
    reference_data: None, technician: StaffMember
) -> None:
    """A wrong token (401) and a token without the scope (403) are refused before the throttle
    judges them, as DRF refuses them: what was counted ahead is taken back, and the token's
    next request is let through."""
    reader = api_token_issue(user=technician.user, expires_in=None)
    submitter = api_token_issue(user=technician.user, expires_in=None, scopes=["results:submit"])
    redis, reader_key = _bucket(reader)
    _, submitter_key = _bucket(submitter)
    _, wrong_key = _bucket(reader[:-4] + "0000")
    client = APIClient()
    with time_machine.travel(START, tick=False):
        client.credentials(HTTP_AUTHORIZATION=f"Token {reader[:-4]}0000")
        assert client.get("/api/v1/panels/").status_code == 401
        client.credentials(HTTP_AUTHORIZATION=f"Token {submitter}")
        assert client.get("/api/v1/panels/").status_code == 403
        assert client.get("/api/v1/panels/").status_code == 403  # not 429

        assert redis.zcard(wrong_key) == 0
        assert redis.zcard(submitter_key) == 0
        client.credentials(HTTP_AUTHORIZATION=f"Token {reader}")
        assert client.get("/api/v1/panels/").status_code == 200
        assert client.get("/api/v1/panels/").status_code == 429
        assert redis.zcard(reader_key) == 1
    assert _connections_in_use() == 0
