"""The API's pagination: ``?limit=`` and ``?offset=``, 50 a page by default, never more than
``MAX_LIMIT`` whatever the caller asks (a larger ``limit`` is answered with ``MAX_LIMIT``)."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

MAX_LIMIT = 500


class LabpanelPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = MAX_LIMIT
