"""A lost database connection outside the API (the import web page, the health check) answers
503 with ``Retry-After`` instead of a 500 page; the API answers the same through
``labpanel.exceptions.exception_handler`` in its own error shape."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from labpanel.exceptions import DATABASE_RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        # the type only: a database error's text may quote the statement's parameters
        logger.warning("http.database_unavailable error=%s", type(exception).__name__)
        response = HttpResponse(
            "The database connection was lost; nothing was half-stored. Try again.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
