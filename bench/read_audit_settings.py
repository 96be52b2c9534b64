"""The real settings with the bench's URL configuration (``bench/read_audit_urls.py``): the real
URLs plus an unaudited copy of the panel read, measured side by side on one server by
``bench/read_audit.py``."""

from labpanel.settings import *  # noqa: F403

ROOT_URLCONF = "bench.read_audit_urls"
