"""API rate limits (``labpanel.throttling``): one bucket per token, per user for sessions, in
the shared Redis cache; over the rate a request is answered 429 with Retry-After; an
unreachable cache lets requests through. Time is held still (time-machine), the rate tiny."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
