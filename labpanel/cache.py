"""Django's Redis cache with one Redis client per connection pool instead of one per call.

``django.core.cache.backends.redis.RedisCacheClient.get_client`` builds a new ``redis.Redis``
around its (kept) connection pool for every cache call, and building one sets a few hundred
response callbacks: the API's rate limit (a get and a set per request, ``labpanel.throttling``)
paid about 0.4 ms a request for it (bench/panel_read.py, in process). A ``redis.Redis`` is safe
to share between threads (each command takes a connection from the pool), so the client built
for a pool is kept and reused. Everything else is Django's."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _KeptClients(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        client = self._clients.get(write)
        if client is None:
            client = self._clients[write] = super().get_client(key, write=write)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _KeptClients

    def raw_client(self) -> Any:
        """The ``redis.Redis`` client of this cache's (write) server, for what Django's cache
        API cannot say in one round trip (``labpanel.throttling``'s sorted sets); keys made
        with :meth:`make_and_validate_key`."""
        return self._cache.get_client(write=True)
