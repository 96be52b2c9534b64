"""API rate limits: DRF's throttling, one bucket per API token (keyed by the token's digest),
per user for session requests, per address for anonymous ones, at ``LABPANEL_API_RATE``
(e.g. ``"600/min"``; ``None`` turns it off). Over it a request is answered ``429`` with
``Retry-After`` (DRF's ``wait()``).

The counts live in the ``shared`` cache (``settings.CACHES``): Redis where the installation has
Redis, else the database's cache table, so every web process counts together. The HL7 MLLP
listener is not HTTP and is never limited here. A cache that cannot be reached does not take
the API down: the request is let through and the failure logged (a rate limit protects the
service; it is not a reason to refuse results)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import DatabaseError
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

CACHE_ALIAS = "shared"


class TokenRateThrottle(SimpleRateThrottle):
    """One bucket per token, user or address, at ``settings.LABPANEL_API_RATE``."""

    scope = "api"

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
            return bool(super().allow_request(request, view))
        except (RedisError, DatabaseError, OSError) as error:
            logger.warning("api.throttle_unavailable error=%s", type(error).__name__)
            return True
