"""What a long-lived process (a gunicorn worker, a Celery worker process) does once it has
loaded the application: import every module a request or task may need, then move every object
that exists at that moment out of the garbage collector's sight (``gc.freeze``).

A request makes short-lived objects with reference cycles (Django's and DRF's request and
response objects point at each other), which only the cyclic collector frees; each of its
oldest-generation passes walked the whole loaded application (about 175,000 objects: Django,
DRF, reportlab, the URL patterns) to find them. Frozen, those objects are never walked again
(they live as long as the process anyway), and a pass walks what the requests made. Measured in
process on the panels API (bench/panel_read.py's database): the list of 50 from 10.9-12.5 ms to
8.6-9.2 ms a request, a panel's read from 3.6-3.7 to 3.0-3.1 ms. Nothing is frozen that is
garbage: a full collection runs first. See the ``gc.freeze`` documentation."""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)


def _import_views() -> None:
    """Import every module the URL patterns name (Django imports a view's module at its first
    request otherwise, after the freeze)."""
    from django.urls import get_resolver

    def walk(patterns: list[object]) -> None:
        for pattern in patterns:
            nested = getattr(pattern, "url_patterns", None)
            if nested is not None:
                walk(list(nested))
            getattr(pattern, "callback", None)

    walk(list(get_resolver().url_patterns))


def freeze_after_start(*, import_views: bool = True) -> int:
    """Collect, then freeze what the process holds; the number of objects frozen."""
    if import_views:
        _import_views()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("process.frozen objects=%d", frozen)
    return frozen
