"""API rate limits: DRF's throttling, one bucket per API token (keyed by the token's digest),
per user for session requests, per address for anonymous ones, at ``LABPANEL_API_RATE``
(e.g. ``"600/min"``; ``None`` turns it off). Over it a request is answered ``429`` with
``Retry-After`` (DRF's ``wait()``).

On Redis (``labpanel.cache.RedisCache``) a bucket is a sorted set of its requests' times, kept
and read in one round trip (a script: drop the times older than the window, add this one,
count, read the oldest); DRF's own way, a pickled list of times read and written back (two
round trips, and the whole list unpickled and pickled at every request), cost the API's
cheapest answer a tenth of its time (bench/panel_read.py). The decision and ``Retry-After``
are DRF's: the same window, the same count, the same wait. On any other cache (the database's,
in the embedded mode) DRF's own way runs.

The counts live in the ``shared`` cache (``settings.CACHES``): Redis where the installation has
Redis, else the database's cache table, so every web process counts together. The HL7 MLLP
listener is not HTTP and is never limited here. A cache that cannot be reached does not take
the API down: the request is let through and the failure logged (a rate limit protects the
service; it is not a reason to refuse results).

**Counted while the token is read.** A request with an API token pays two round trips before its
view runs: the token's statement in PostgreSQL (``accounts.token_auth``) and its bucket's count
in Redis. They do not depend on each other (the bucket is named by the token's digest, which
the header gives), so :class:`CountAheadMiddleware` sends the count to Redis just before the view
and the throttle reads its reply after the token's statement: one wait instead of two. The
decision is the same: the reply is used only when the authenticated token is the one counted;
a request the throttle never judges (401, 403, a view without this throttle) has its count
taken back, as DRF would never have counted it."""

from __future__ import annotations

import binascii
import functools
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from knox.crypto import hash_token
from knox.settings import knox_settings
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from labpanel.cache import RedisCache

logger = logging.getLogger(__name__)

CACHE_ALIAS = "shared"


class TokenRateThrottle(SimpleRateThrottle):
    """One bucket per token, user or address, at ``settings.LABPANEL_API_RATE``."""

    scope = "api"
    # set by SimpleRateThrottle.__init__ from the rate (None: no limit)
    num_requests: int | None
    duration: int | None

    def __init__(self) -> None:
        self.cache: BaseCache = caches[CACHE_ALIAS]
        super().__init__()

    def get_rate(self) -> str | None:
        rate: str | None = getattr(settings, "LABPANEL_API_RATE", None)
        return rate

    def get_cache_key(self, request: Request, view: Any) -> str:
        digest = getattr(request.auth, "digest", None)
        if digest:
            ident = f"token:{digest}"
        elif request.user is not None and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"address:{self.get_ident(request)}"
        return self.bucket_key(ident)

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            if isinstance(self.cache, RedisCache):
                return self._allow_in_sorted_set(self.cache, request, view)
            return bool(super().allow_request(request, view))
        except (RedisError, DatabaseError, OSError) as error:
            logger.warning("api.throttle_unavailable error=%s", type(error).__name__)
            return True

    @classmethod
    def bucket_key(cls, ident: str) -> str:
        """The cache key (before Django's prefix) of the bucket of ``ident``."""
        return cls.cache_format % {"scope": cls.scope, "ident": ident}

    def _allow_in_sorted_set(self, cache: RedisCache, request: Request, view: Any) -> bool:
        """DRF's decision (``SimpleRateThrottle.allow_request``) over a Redis sorted set:
        the times of the requests let through in the last ``duration`` seconds."""
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        # Django's key, not validated: the validation only warns about keys memcached could
        # not hold (Redis holds any), and reads the key a character at a time
        stored_key = cache.make_key(key)
        ahead: _Count | None = request._request.__dict__.pop(COUNT_AHEAD, None)
        if ahead is not None and ahead.stored_key != stored_key:
            ahead.take_back()  # counted for another bucket than the one judged: not this one
            ahead = None
        count = ahead or _Count.send(cache, stored_key, self.timer(), self.duration)
        counted, oldest = count.read()
        if counted <= self.num_requests:
            return True
        # refused: not counted, as DRF does not record a refused request
        cache.raw_client().zrem(stored_key, count.member)
        self.now = count.now
        # what DRF's wait() reads: the requests let through, newest first (their number and
        # the oldest's time are all it uses)
        self.history = [count.now] * (counted - 2) + [oldest] if oldest is not None else []
        return False


# One request counted in its bucket, in one round trip: drop the times that left the window,
# add this one, count, read the oldest time, renew the bucket's expiry. A script, so that it
# is one command whose reply can be read later (:class:`_Count`); Redis runs it atomically, as
# it ran the MULTI/EXEC pipeline this replaced.
_COUNT_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
local counted = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {counted, oldest[2] or false}
"""

COUNT_AHEAD = "labpanel_throttle_count"
"""Where :class:`CountAheadMiddleware` keeps a request's count, its reply not yet read."""


@dataclass(slots=True)
class _Count:
    """A request counted in bucket ``stored_key`` at ``now`` as ``member``: the command sent
    on a connection of the client's pool, its reply read by :meth:`read` (which gives the
    connection back)."""

    cache: RedisCache
    stored_key: str
    now: float
    member: str
    connection: Any
    reply: tuple[int, float | None] | None = None

    @classmethod
    def send(cls, cache: RedisCache, stored_key: str, now: float, duration: int) -> _Count:
        member = f"{now!r}:{secrets.token_hex(4)}"  # two requests in the same instant count twice
        pool = cache.raw_client().connection_pool
        connection = pool.get_connection()
        try:
            connection.send_command(
                "EVAL", _COUNT_SCRIPT, 1, stored_key, repr(now), repr(now - duration), member,
                int(duration) + 1,
            )  # fmt: skip
        except BaseException:
            connection.disconnect()
            pool.release(connection)
            raise
        return cls(cache, stored_key, now, member, connection)

    def read(self) -> tuple[int, float | None]:
        """The number of requests in the window, this one included, and the oldest's time."""
        if self.reply is None:
            pool = self.cache.raw_client().connection_pool
            try:
                counted, oldest = self.connection.read_response()
            except BaseException:
                self.connection.disconnect()
                raise
            finally:
                pool.release(self.connection)
            self.reply = (int(counted), None if oldest is None else float(oldest))
        return self.reply

    def take_back(self) -> None:
        """This request does not count after all (nobody judged it)."""
        try:
            self.read()
            self.cache.raw_client().zrem(self.stored_key, self.member)
        except (RedisError, OSError) as error:
            logger.warning("api.throttle_unavailable error=%s", type(error).__name__)


def _judged_by_the_throttle(view: Any) -> bool:
    classes = getattr(getattr(view, "cls", None), "throttle_classes", ())
    return any(isinstance(c, type) and issubclass(c, TokenRateThrottle) for c in classes)


_JUDGED: dict[Any, bool] = {}
"""Per view function (the URL configuration's: a few hundred at most), whether the throttle
judges its requests."""


@functools.lru_cache(maxsize=8)
def _duration(rate: str) -> int:
    """The window of ``rate`` in seconds, as DRF's throttle reads it."""
    _, duration = TokenRateThrottle.parse_rate(cast(Any, None), rate)  # uses no instance
    if duration is None:  # pragma: no cover - a rate always names its period
        raise ValueError(f"not a rate: {rate!r}")
    return duration


def _token_bucket(digest: str) -> tuple[RedisCache, str, int] | None:
    """The shared Redis cache, the stored key of the bucket of the token whose digest is
    ``digest`` and the rate's window, as :class:`TokenRateThrottle` names and reads them;
    ``None`` without Redis or without a rate."""
    cache = caches[CACHE_ALIAS]
    rate: str | None = getattr(settings, "LABPANEL_API_RATE", None)
    if rate is None or not isinstance(cache, RedisCache):
        return None
    key = TokenRateThrottle.bucket_key(f"token:{digest}")
    return cache, cache.make_key(key), _duration(rate)


def _token_digest(request: HttpRequest) -> str | None:
    """The digest of the API token the ``Authorization`` header carries, as knox reads it."""
    words = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(words) != 2 or words[0].lower() != knox_settings.AUTH_HEADER_PREFIX.lower():
        return None
    try:
        return str(hash_token(words[1]))
    except (TypeError, ValueError, binascii.Error):
        return None


class CountAheadMiddleware:
    """Sends a token request's count to Redis before its view runs (the module's docstring);
    takes the count back when the throttle did not judge the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        finally:
            left: _Count | None = request.__dict__.pop(COUNT_AHEAD, None)
            if left is not None:
                left.take_back()

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        judged = _JUDGED.get(view)
        if judged is None:
            judged = _JUDGED[view] = _judged_by_the_throttle(view)
        if not judged:
            return None
        digest = _token_digest(request)
        bucket = None if digest is None else _token_bucket(digest)
        if bucket is None:
            return None
        cache, stored_key, duration = bucket
        try:
            request.__dict__[COUNT_AHEAD] = _Count.send(cache, stored_key, time.time(), duration)
        except (RedisError, OSError) as error:  # the throttle tries again, and lets it through
            logger.warning("api.throttle_unavailable error=%s", type(error).__name__)
        return None
