"""API rate limits: DRF's throttling, one bucket per API token (keyed by the token's digest),
per user for session requests, per address for anonymous ones, at ``LABPANEL_API_RATE``
(e.g. ``"600/min"``; ``None`` turns it off). Over it a request is answered ``429`` with
``Retry-After`` (DRF's ``wait()``).

On Redis (``labpanel.cache.RedisCache``) a bucket is a sorted set of its requests' times, kept
and read in one round trip (a pipeline: drop the times older than the window, add this one,
count, read the oldest); DRF's own way, a pickled list of times read and written back (two
round trips, and the whole list unpickled and pickled at every request), cost the API's
cheapest answer a tenth of its time (bench/panel_read.py). The decision and ``Retry-After``
are DRF's: the same window, the same count, the same wait. On any other cache (the database's,
in the embedded mode) DRF's own way runs.

The counts live in the ``shared`` cache (``settings.CACHES``): Redis where the installation has
Redis, else the database's cache table, so every web process counts together. The HL7 MLLP
listener is not HTTP and is never limited here. A cache that cannot be reached does not take
the API down: the request is let through and the failure logged (a rate limit protects the
service; it is not a reason to refuse results)."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import DatabaseError
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
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            if isinstance(self.cache, RedisCache):
                return self._allow_in_sorted_set(self.cache, request, view)
            return bool(super().allow_request(request, view))
        except (RedisError, DatabaseError, OSError) as error:
            logger.warning("api.throttle_unavailable error=%s", type(error).__name__)
            return True

    def _allow_in_sorted_set(self, cache: RedisCache, request: Request, view: Any) -> bool:
        """DRF's decision (``SimpleRateThrottle.allow_request``) over a Redis sorted set:
        the times of the requests let through in the last ``duration`` seconds."""
        if self.rate is None or self.num_requests is None or self.duration is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        stored_key = cache.make_and_validate_key(key)
        now = self.timer()
        member = f"{now!r}:{secrets.token_hex(4)}"  # two requests in the same instant count twice
        pipeline = cache.raw_client().pipeline(transaction=True)
        pipeline.zremrangebyscore(stored_key, "-inf", now - self.duration)
        pipeline.zadd(stored_key, {member: now})
        pipeline.zcard(stored_key)
        pipeline.zrange(stored_key, 0, 0, withscores=True)
        pipeline.expire(stored_key, int(self.duration) + 1)
        _, _, count, oldest, _ = pipeline.execute()
        if count <= self.num_requests:
            return True
        # refused: not counted, as DRF does not record a refused request
        cache.raw_client().zrem(stored_key, member)
        self.now = now
        # what DRF's wait() reads: the requests let through, newest first (their number and
        # the oldest's time are all it uses)
        self.history = [now] * (count - 2) + [oldest[0][1]] if oldest else []
        return False
