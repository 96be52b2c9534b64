"""``manage.py launcher_setup``: the one-off steps ``make run``'s launcher (``labpanel.launcher``)
runs before it starts the worker and the web server, in order, in this one process.

Each step is the ``manage.py`` command of the same name (``call_command``). They ran as five
``manage.py`` processes, each starting Django again (about 2.5 s each on the 2-core development
machine): one process makes ``make run`` answer about 10 s sooner on a new machine. It stops at
the first step that fails, saying which, and exits non-zero, as the five processes did.

It lives with the reference data and the demo lab it loads (``seed_reference_data``,
``seed_demo``).
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

SETUP_STEPS: tuple[tuple[str, ...], ...] = (
    ("migrate", "--noinput"),
    # the shared cache's table where there is no Redis (API rate limits; settings.CACHES)
    ("createcachetable",),
    ("collectstatic", "--noinput", "--verbosity", "0"),
    ("seed_reference_data",),
    ("seed_demo",),
)


class Command(BaseCommand):
    help = (
        "Migrate, create the cache table, collect static files, load the reference data and "
        "the demo lab: make run's one-off steps, in one process."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for step in SETUP_STEPS:
            self.stdout.write(f"--- manage.py {' '.join(step)}")
            self.stdout.flush()
            try:
                call_command(*step)
            except Exception as error:  # a step's own CommandError, or what broke it
                raise CommandError(f"Stopped: 'manage.py {step[0]}' failed: {error}") from error
