"""The Celery application: configured from Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")

app = Celery("labpanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_process_init.connect
def _freeze_after_start(**kwargs: Any) -> None:
    """Each worker process, once forked with the application loaded: what it holds is frozen
    out of the garbage collector's passes (``labpanel.process_start``)."""
    from labpanel.process_start import freeze_after_start

    freeze_after_start(import_views=False)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(**kwargs: Any) -> None:
    """Around each task, as around each request: drop a connection that broke or is too old.

    Celery's own closing is relaxed by ``CELERY_DB_REUSE_MAX`` (settings): without this, a
    connection that failed mid-task would be handed to the next one."""
    if kwargs.get("sender") is not None and getattr(kwargs["sender"].request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


def queue_depth(queue: str | None = None) -> int | None:
    """Messages waiting in ``queue`` (default: the tasks' queue); None when the broker cannot
    say. Messages a worker holds (prefetched, running) are not counted."""
    from kombu.exceptions import ChannelError, OperationalError

    name = queue or app.conf.task_default_queue
    try:
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel
            declared = channel.queue_declare(queue=name, passive=True)
            return int(declared.message_count)
    except ChannelError:
        return 0  # never declared: no worker ever listened, nothing waits
    except (OperationalError, OSError):
        return None
