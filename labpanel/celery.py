"""The Celery application: configured from Django settings under the ``CELERY_`` namespace."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labpanel.settings")

app = Celery("labpanel")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
